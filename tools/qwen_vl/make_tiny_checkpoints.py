"""Makes the tiny Qwen2-VL / Qwen2.5-VL checkpoint folders (hub layout, BF16) and the case images Grid's tests use.

Everything is deterministic (fixed seeds, sorted iteration), so rerunning it rewrites byte-identical files:

    /usr/bin/python3 tools/qwen_vl/make_tiny_checkpoints.py [--out tests/Grid.Policy.Tests/TestData/Qwen]

The weights are random but deliberately far from an initialised model (matrices with std 0.1-0.3, norm weights
1 +- 0.2, non-zero biases everywhere a bias exists), so a wrong position, image patch order or a dropped bias moves
the log-probs by a lot. The tokenizer is a byte-level BPE trained here on a small corpus and padded with unreachable
filler entries to Qwen2's 151643 model-vocab entries, followed by Qwen's added special tokens at their real ids.
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import safetensors_io  # noqa: E402

MODEL_VOCAB_ENTRIES = 151643
CONFIG_VOCAB_SIZE = 151680
ADDED_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]

# The Qwen2-VL-Instruct chat template (the same Jinja text ships with Qwen2.5-VL-Instruct), verbatim.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content"
    " or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
    "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' "
    "or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# name -> (height, width); the drawing is made by draw_image.
IMAGES = {
    "square_48.png": (48, 48),
    "wide_90x150.png": (90, 150),
    "large_200x330.png": (200, 330),
    "small_30x40.png": (30, 40),
}

WORDS = (
    "the a an of and to in is are was were it that this there these those what which who how many much some any no "
    "not only one two three four five six seven eight nine ten zero first second third last next image picture photo "
    "scene shape shapes circle circles square squares triangle triangles star stars dot dots line lines grid cell cells "
    "row rows column columns left right top bottom middle center corner edge inside outside above below near far next "
    "between red green blue yellow orange purple black white gray grey pink brown dark light bright small large big tiny "
    "count counting number numbers total sum answer question think thinking reason reasoning step steps check first "
    "then so because therefore finally result correct wrong maybe each every all both other another more less most "
    "least same different color colors colour size object objects thing things see look find show shows can could "
    "would should will must do does did done have has had be been being I you he she we they me my your our their "
    "assistant user system helpful model policy reward train training group sample samples token tokens text word "
    "words sentence letter letters digit digits value values point points area length width height image_size pixel "
    "pixels patch patches window windows merge layer layers vision language position positions rotary attention "
    "head heads hidden state states output input weight weights bias biases norm scale score scores log prob "
    "probability probabilities grpo reinforcement learning with from for on at by as or but if else while when where why "
    "yes okay sure here hello world good bad fine great well very quite rather just also again still even already "
    "counted counts appears appear visible hidden filled empty outline striped solid pattern background foreground"
).split()

CORPUS_FIXED = [
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
    "<|vision_start|><|image_pad|><|vision_end|>How many red circles are in the image?<|im_end|>\n",
    "<|im_start|>assistant\n<think>I see three red circles.</think><answer>3</answer><|im_end|>",
    "Think step by step inside <think> </think> tags, then give the final answer inside <answer> </answer> tags.",
    "What is the sum of 12 and 30? The answer is 42.",
    "I'm sure it's fine; we'll see, they've said you'd know and I'd agree. Don't, can't, won't, isn't.",
    "Café, naïve, façade, résumé, über, Straße, señor, Ångström, coöperate.",
    "日本語のテキスト、中文文本，한국어 텍스트。",
    "Emoji: 😀 👍 🎉 ❤️ 🚀 — and symbols: € £ ¥ © ® ™ ± × ÷ ≤ ≥ ≠ → ←.",
    "def count(shapes):\n    return sum(1 for s in shapes if s.color == 'red')\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 2024 3.14159 1,000,000 -7 +8 50%",
    "Lines\n\nwith  double  spaces\tand tabs\r\nand windows newlines.   \n\n\n",
    "JSON: {\"answer\": 3, \"shapes\": [\"circle\", \"square\"], \"ok\": true}",
    "Question: Which shape is at the top left corner? Answer: a blue square.",
]


def build_corpus(rng):
    texts = list(CORPUS_FIXED)
    colors = ["red", "green", "blue", "yellow", "orange", "purple", "black", "white"]
    shapes = ["circle", "square", "triangle", "star", "dot"]
    for color in colors:
        for shape in shapes:
            for n in range(0, 13):
                plural = shape + ("s" if n != 1 else "")
                texts.append(f"How many {color} {shape}s are in the image?")
                texts.append(f"<think>I count {n} {color} {plural} in the picture.</think><answer>{n}</answer>")
    # Made-up words of common syllables give the merges sub-word structure beyond the word list.
    syllables = ["ka", "ro", "ti", "men", "sa", "lo", "ver", "an", "is", "tor", "el", "qu", "ing", "er", "pa", "ni",
                 "ston", "ga", "ble", "re", "un", "de", "cor", "mi", "ta", "lu", "ous", "ax", "bri", "fe"]
    made_up = ["".join(syllables[int(k)] for k in rng.integers(0, len(syllables), size=int(rng.integers(2, 5))))
               for _ in range(1500)]
    vocabulary = WORDS + made_up
    for _ in range(12000):
        length = int(rng.integers(4, 14))
        sentence = " ".join(vocabulary[int(i)] for i in rng.integers(0, len(vocabulary), size=length))
        sentence = sentence[0].upper() + sentence[1:] + str(rng.choice([".", "?", "!", ",", ":", ";"]))
        texts.append(sentence)
    return texts


def build_tokenizer():
    rng = np.random.default_rng(20240611)
    merges = bpe.train_merges(build_corpus(rng), max_merges=4000)
    vocab = {}
    for _, ch in bpe.BYTE_TABLE:
        vocab[ch] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    learned = len(vocab)
    # Filler entries start with the byte-level character of byte 0x00, which no text here contains, so BPE can
    # never produce them; they only bring the model vocabulary to Qwen2's size.
    nul = bpe.BYTE_TO_CHAR[0]
    i = 0
    while len(vocab) < MODEL_VOCAB_ENTRIES:
        vocab[f"{nul}{i}"] = len(vocab)
        i += 1
    added = [
        {"id": MODEL_VOCAB_ENTRIES + k, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for k, t in enumerate(ADDED_TOKENS)
    ]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": bpe.QWEN2_SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
                dict(byte_level),
            ],
        },
        "post_processor": dict(byte_level),
        "decoder": dict(byte_level),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    return tokenizer, learned, len(merges)


def tokenizer_config(with_template):
    config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(MODEL_VOCAB_ENTRIES + k): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                           "single_word": False, "special": True}
            for k, t in enumerate(ADDED_TOKENS)
        },
        "additional_special_tokens": ADDED_TOKENS[1:],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    if with_template:
        config["chat_template"] = CHAT_TEMPLATE
    return config


def preprocessor_config(processor_class):
    return {
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": CLIP_MEAN,
        "image_processor_type": "Qwen2VLImageProcessor",
        "image_std": CLIP_STD,
        "max_pixels": 50176,
        "merge_size": 2,
        "min_pixels": 3136,
        "patch_size": 14,
        "processor_class": processor_class,
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"longest_edge": 50176, "shortest_edge": 3136},
        "temporal_patch_size": 2,
    }


GENERATION_CONFIG = {
    "bos_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "repetition_penalty": 1.05,
    "temperature": 0.1,
    "top_k": 1,
    "top_p": 0.001,
    "transformers_version": "4.49.0",
}

TEXT_CONFIG = {
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_token_id": 151654,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 32768,
    "max_window_layers": 2,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
    "sliding_window": 32768,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.49.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": CONFIG_VOCAB_SIZE,
}


def qwen2_vl_config():
    config = {"architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl"}
    config.update(TEXT_CONFIG)
    config["tie_word_embeddings"] = True
    config["vision_config"] = {
        "depth": 2, "embed_dim": 32, "hidden_size": 32, "hidden_act": "quick_gelu", "mlp_ratio": 4, "num_heads": 2,
        "in_chans": 3, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
    }
    return dict(sorted(config.items()))


def qwen2_5_vl_config():
    config = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl"}
    config.update(TEXT_CONFIG)
    config["tie_word_embeddings"] = False
    config["vision_config"] = {
        "depth": 4, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
        "in_chans": 3, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
        "window_size": 56, "fullatt_block_indexes": [1, 3], "hidden_act": "silu", "tokens_per_second": 2,
    }
    return dict(sorted(config.items()))


class WeightMaker:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors = {}

    def matrix(self, name, shape, std=0.2):
        self.tensors[name] = self.rng.normal(0.0, std, size=shape)

    def bias(self, name, size, std=0.15):
        self.tensors[name] = self.rng.normal(0.0, std, size=size)

    def norm(self, name, size):
        self.tensors[name] = 1.0 + self.rng.uniform(-0.2, 0.2, size=size)

    def vocab_matrix(self, name, learned_rows, std):
        """Rows a test can reach (learned tokens, added tokens, padding) are independent; the filler rows repeat a
        256-row block, which keeps them non-zero but lets git pack them small."""
        hidden = TEXT_CONFIG["hidden_size"]
        full = self.rng.normal(0.0, std, size=(CONFIG_VOCAB_SIZE, hidden))
        block = self.rng.normal(0.0, std, size=(256, hidden))
        filler = np.arange(learned_rows, MODEL_VOCAB_ENTRIES)
        full[filler] = block[(filler - learned_rows) % 256]
        self.tensors[name] = full


def language_weights(w, learned_rows, tied):
    h, inter, heads, kv_heads = 32, 64, 2, 1
    head_dim = h // heads
    w.vocab_matrix("model.embed_tokens.weight", learned_rows, std=0.3)
    for i in range(TEXT_CONFIG["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w.matrix(p + "self_attn.q_proj.weight", (heads * head_dim, h))
        w.bias(p + "self_attn.q_proj.bias", heads * head_dim)
        w.matrix(p + "self_attn.k_proj.weight", (kv_heads * head_dim, h))
        w.bias(p + "self_attn.k_proj.bias", kv_heads * head_dim)
        w.matrix(p + "self_attn.v_proj.weight", (kv_heads * head_dim, h))
        w.bias(p + "self_attn.v_proj.bias", kv_heads * head_dim)
        w.matrix(p + "self_attn.o_proj.weight", (h, heads * head_dim))
        w.matrix(p + "mlp.gate_proj.weight", (inter, h))
        w.matrix(p + "mlp.up_proj.weight", (inter, h))
        w.matrix(p + "mlp.down_proj.weight", (h, inter))
        w.norm(p + "input_layernorm.weight", h)
        w.norm(p + "post_attention_layernorm.weight", h)
    w.norm("model.norm.weight", h)
    if not tied:
        w.vocab_matrix("lm_head.weight", learned_rows, std=0.2)


def qwen2_vl_vision_weights(w, vc):
    d = vc["embed_dim"]
    mlp = d * vc["mlp_ratio"]
    w.matrix("visual.patch_embed.proj.weight", (d, 3, 2, 14, 14), std=0.1)
    for i in range(vc["depth"]):
        p = f"visual.blocks.{i}."
        for n in ("norm1", "norm2"):
            w.norm(p + n + ".weight", d)
            w.bias(p + n + ".bias", d, std=0.1)
        w.matrix(p + "attn.qkv.weight", (3 * d, d))
        w.bias(p + "attn.qkv.bias", 3 * d)
        w.matrix(p + "attn.proj.weight", (d, d))
        w.bias(p + "attn.proj.bias", d)
        w.matrix(p + "mlp.fc1.weight", (mlp, d))
        w.bias(p + "mlp.fc1.bias", mlp)
        w.matrix(p + "mlp.fc2.weight", (d, mlp))
        w.bias(p + "mlp.fc2.bias", d)
    merger_weights(w, d, vc["hidden_size"], layer_norm=True)


def qwen2_5_vl_vision_weights(w, vc):
    d = vc["hidden_size"]
    inter = vc["intermediate_size"]
    w.matrix("visual.patch_embed.proj.weight", (d, 3, 2, 14, 14), std=0.1)
    for i in range(vc["depth"]):
        p = f"visual.blocks.{i}."
        w.norm(p + "norm1.weight", d)
        w.norm(p + "norm2.weight", d)
        w.matrix(p + "attn.qkv.weight", (3 * d, d))
        w.bias(p + "attn.qkv.bias", 3 * d)
        w.matrix(p + "attn.proj.weight", (d, d))
        w.bias(p + "attn.proj.bias", d)
        w.matrix(p + "mlp.gate_proj.weight", (inter, d))
        w.bias(p + "mlp.gate_proj.bias", inter)
        w.matrix(p + "mlp.up_proj.weight", (inter, d))
        w.bias(p + "mlp.up_proj.bias", inter)
        w.matrix(p + "mlp.down_proj.weight", (d, inter))
        w.bias(p + "mlp.down_proj.bias", d)
    merger_weights(w, d, vc["out_hidden_size"], layer_norm=False)


def merger_weights(w, context_dim, out_dim, layer_norm):
    merged = context_dim * 4
    w.norm("visual.merger.ln_q.weight", context_dim)
    if layer_norm:
        w.bias("visual.merger.ln_q.bias", context_dim, std=0.1)
    w.matrix("visual.merger.mlp.0.weight", (merged, merged), std=0.15)
    w.bias("visual.merger.mlp.0.bias", merged)
    w.matrix("visual.merger.mlp.2.weight", (out_dim, merged), std=0.15)
    w.bias("visual.merger.mlp.2.bias", out_dim)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_text_files(folder, tokenizer, family):
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    write_json(os.path.join(folder, "generation_config.json"), GENERATION_CONFIG)
    if family == "qwen2_vl":
        write_json(os.path.join(folder, "tokenizer_config.json"), tokenizer_config(with_template=True))
        write_json(os.path.join(folder, "preprocessor_config.json"), preprocessor_config("Qwen2VLProcessor"))
    else:
        write_json(os.path.join(folder, "tokenizer_config.json"), tokenizer_config(with_template=False))
        write_json(os.path.join(folder, "chat_template.json"), {"chat_template": CHAT_TEMPLATE})
        write_json(os.path.join(folder, "preprocessor_config.json"), preprocessor_config("Qwen2_5_VLProcessor"))


def make_qwen2_vl(out, tokenizer, learned_rows):
    folder = os.path.join(out, "qwen2_vl_tiny")
    os.makedirs(folder, exist_ok=True)
    config = qwen2_vl_config()
    write_json(os.path.join(folder, "config.json"), config)
    w = WeightMaker(seed=2)
    language_weights(w, learned_rows, tied=True)
    qwen2_vl_vision_weights(w, config["vision_config"])
    safetensors_io.write_bf16(os.path.join(folder, "model.safetensors"), w.tensors)
    write_text_files(folder, tokenizer, "qwen2_vl")


def make_qwen2_5_vl(out, tokenizer, learned_rows):
    folder = os.path.join(out, "qwen2_5_vl_tiny")
    os.makedirs(folder, exist_ok=True)
    config = qwen2_5_vl_config()
    write_json(os.path.join(folder, "config.json"), config)
    w = WeightMaker(seed=25)
    language_weights(w, learned_rows, tied=False)
    qwen2_5_vl_vision_weights(w, config["vision_config"])
    # Two shards like the hub's larger checkpoints: the language model's body in the first, head and vision in the second.
    shards = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
    for name, value in w.tensors.items():
        first = name.startswith("model.")
        shards["model-00001-of-00002.safetensors" if first else "model-00002-of-00002.safetensors"][name] = value
    total = 0
    weight_map = {}
    for file_name, tensors in shards.items():
        total += safetensors_io.write_bf16(os.path.join(folder, file_name), tensors)
        for name in tensors:
            weight_map[name] = file_name
    write_json(os.path.join(folder, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})
    write_text_files(folder, tokenizer, "qwen2_5_vl")


def draw_image(name, height, width):
    """Deterministic pictures: a colour gradient, a few filled shapes and a little noise."""
    rng = np.random.default_rng(sum(map(ord, name)))
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    base = np.stack([200 * x + 40 * y, 60 + 150 * y * (1 - x), 220 - 180 * x * y], axis=-1)
    base = base + rng.normal(0.0, 12.0, size=(height, width, 3))
    image = Image.fromarray(np.clip(np.rint(base), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    palette = [(230, 25, 30), (20, 160, 60), (30, 60, 220), (250, 210, 20), (0, 0, 0), (255, 255, 255)]
    for k in range(int(rng.integers(3, 7))):
        r = max(2, int(rng.integers(2, max(3, min(height, width) // 4))))
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        color = palette[k % len(palette)]
        box = [cx - r, cy - r, cx + r, cy + r]
        if k % 3 == 0:
            draw.ellipse(box, fill=color)
        elif k % 3 == 1:
            draw.rectangle(box, fill=color)
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=color)
    return image


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(repo, "tests", "Grid.Policy.Tests", "TestData", "Qwen"))
    args = parser.parse_args()
    tokenizer, learned, merges = build_tokenizer()
    print(f"tokenizer: {merges} merges, {learned} learned entries, {len(tokenizer['model']['vocab'])} model entries")
    make_qwen2_vl(args.out, tokenizer, learned)
    make_qwen2_5_vl(args.out, tokenizer, learned)
    images = os.path.join(args.out, "images")
    os.makedirs(images, exist_ok=True)
    for name, (height, width) in IMAGES.items():
        draw_image(name, height, width).save(os.path.join(images, name), format="PNG", optimize=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
