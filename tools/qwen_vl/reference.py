"""Reference outputs for Grid's Qwen2-VL / Qwen2.5-VL port, computed in float64 with numpy from the BF16 tiny checkpoints.

    /usr/bin/python3 tools/qwen_vl/reference.py [--data tests/Grid.Policy.Tests/TestData/Qwen]

Writes reference/qwen2_vl.json, reference/qwen2_5_vl.json and reference/tokenizer_cases.json. Each step follows
Hugging Face transformers (4.45-4.50 era) step by step, written here in numpy:
- image processor: Qwen2VLImageProcessor._preprocess (smart_resize, PIL bicubic resize of the uint8 image, rescale in
  float64 then float32, normalize in float32, channel-first, temporal tiling, the 9-axis patch permutation);
- prompt: the checkpoint's Jinja chat template for one user turn, then Qwen2VLProcessor's <|image_pad|> expansion;
- tokens: byte-level BPE (bpe.py) over the checkpoint's tokenizer.json;
- positions: Qwen2VLForConditionalGeneration.get_rope_index (3-D M-RoPE positions and rope delta);
- vision: Qwen2VisionTransformerPretrainedModel / Qwen2_5_VisionTransformerPretrainedModel (eager attention);
- language model: Qwen2VLModel with multimodal rotary embedding, GQA, SwiGLU, RMSNorm, tied or untied head.
Unlike transformers run in float64, nothing here drops to float32 (transformers computes RoPE angles, RMSNorm and
softmax in float32): these are the exact float64 values of the math.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import safetensors_io  # noqa: E402

IMAGE_PAD = "<|image_pad|>"


class Case:
    def __init__(self, name, image, question, completion):
        self.name, self.image, self.question, self.completion = name, image, question, completion


CASES = [
    Case("square_48", "images/square_48.png", "How many red circles are in the image?",
         "<think>I count the red shapes: there are 2.</think><answer>2</answer><|im_end|>"),
    Case("wide_90x150", "images/wide_90x150.png", "Which shape is at the top left corner?",
         "<think>The top left corner holds a blue square.</think><answer>square</answer>"),
    Case("large_200x330", "images/large_200x330.png", "What is the colour of the largest shape?\nAnswer with one word.",
         "<think>The biggest one looks yellow.</think><answer>yellow</answer><|im_end|>"),
    Case("small_30x40", "images/small_30x40.png", "Count the dots.", "<answer>7</answer>"),
    Case("text_only", None, "What is 12 + 30? Think first.",
         "<think>12 + 30 = 42</think>\n<answer>42</answer><|im_end|>"),
]

TOKENIZER_TEXTS = [
    "How many red circles are in the image?",
    "<think>I see three red circles.</think><answer>3</answer>",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
    "<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>What is this?<|im_end|>",
    "Hello world",
    " leading space and trailing space ",
    "Numbers 0123456789 and 3.14159, 1,000,000, -42, +7, 50%",
    "12345678901234567890",
    "a  b   c    d\te\t\tf",
    "line one\nline two\n\n\nline five\r\nwindows line\r\n",
    "   \n\n   ",
    "I'm sure it's fine; we'll see, they've said you'd know. DON'T SHOUT, It'S OK, I'LL go.",
    "Café naïve façade résumé über Straße señor Ångström",
    "e\u0301 combining accent (NFC makes it é)",
    "日本語のテキストと中文文本，한국어 텍스트。",
    "Emoji 😀👍🏽🎉 ❤️ 🚀 family 👨‍👩‍👧",
    "Symbols € £ ¥ © ® ™ ± × ÷ ≤ ≥ ≠ → ←",
    "def count(shapes):\n    return sum(1 for s in shapes if s.color == 'red')\n",
    "JSON: {\"answer\": 3, \"shapes\": [\"circle\", \"square\"]}",
    "<answer>42</answer><|im_end|><|endoftext|>",
    "text<|im_end|>more<|im_start|>",
    "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>",
    "Not special: <|im_end and |im_start|> and <think and answer>",
    "The quick brown fox jumps over the lazy dog!!! ??? ...",
    "",
    "Tabs\tand\u00a0non-breaking\u2003spaces",
    "Mixed123abc456DEF",
]


# ---------------------------------------------------------------------------------------------------- checkpoint


def load_checkpoint(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for name in files:
        weights.update(safetensors_io.read_as_float64(os.path.join(folder, name)))
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = bpe.ByteLevelBpe(json.load(f))
    with open(os.path.join(folder, "preprocessor_config.json")) as f:
        preprocessor = json.load(f)
    template_file = os.path.join(folder, "chat_template.json")
    if os.path.exists(template_file):
        with open(template_file, encoding="utf-8") as f:
            template = json.load(f)["chat_template"]
    else:
        with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
            template = json.load(f)["chat_template"]
    return config, weights, tokenizer, preprocessor, template


# ---------------------------------------------------------------------------------------------------- text


def render_prompt(template, question, has_image):
    """apply_chat_template for one user turn with add_generation_prompt=True (transformers' Jinja settings)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    content = ([{"type": "image"}] if has_image else []) + [{"type": "text", "text": question}]
    messages = [{"role": "user", "content": content}]
    return env.from_string(template).render(messages=messages, add_generation_prompt=True)


# ---------------------------------------------------------------------------------------------------- image


def smart_resize(height, width, factor, min_pixels, max_pixels):
    if height < factor or width < factor:
        raise ValueError(f"height:{height} or width:{width} must be larger than factor:{factor}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def preprocess_image(path, pp):
    """Returns (pixel_values float32 [N, C*T*P*P], (t, h, w) grid, (resized_h, resized_w))."""
    image = np.array(Image.open(path).convert("RGB"))
    height, width = image.shape[:2]
    patch, merge, temporal = pp["patch_size"], pp["merge_size"], pp["temporal_patch_size"]
    rh, rw = smart_resize(height, width, patch * merge, pp["min_pixels"], pp["max_pixels"])
    resized = np.array(Image.fromarray(image).resize((rw, rh), resample=pp["resample"]))
    scaled = (resized.astype(np.float64) * pp["rescale_factor"]).astype(np.float32)
    mean = np.array(pp["image_mean"], dtype=np.float32)
    std = np.array(pp["image_std"], dtype=np.float32)
    normalized = (scaled - mean) / std
    patches = normalized.transpose(2, 0, 1)[None]  # (1, C, H, W)
    patches = np.concatenate([patches] * temporal, axis=0)  # one image fills the temporal patch by repetition
    c = patches.shape[1]
    grid_t, grid_h, grid_w = patches.shape[0] // temporal, rh // patch, rw // patch
    patches = patches.reshape(grid_t, temporal, c, grid_h // merge, merge, patch, grid_w // merge, merge, patch)
    patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    flat = patches.reshape(grid_t * grid_h * grid_w, c * temporal * patch * patch)
    return flat.astype(np.float32), (grid_t, grid_h, grid_w), (rh, rw)


# ---------------------------------------------------------------------------------------------------- positions


def get_rope_index(input_ids, grid_thw, config):
    """3 x L M-RoPE positions and the rope delta for one unpadded sequence with at most one image."""
    ids = list(input_ids)
    if grid_thw is None:
        return np.tile(np.arange(len(ids)), (3, 1)), 0
    merge = config["vision_config"]["spatial_merge_size"]
    image_token = config["image_token_id"]
    start = ids.index(image_token)
    t, h, w = grid_thw[0], grid_thw[1] // merge, grid_thw[2] // merge
    parts = [np.tile(np.arange(start), (3, 1))]
    t_index = np.repeat(np.arange(t), h * w)  # Qwen2.5-VL scales t by seconds-per-grid * tokens_per_second: 0 for images
    h_index = np.tile(np.repeat(np.arange(h), w), t)
    w_index = np.tile(np.arange(w), t * h)
    parts.append(np.stack([t_index, h_index, w_index]) + start)
    after = start + t * h * w
    next_pos = parts[-1].max() + 1
    parts.append(np.tile(np.arange(len(ids) - after), (3, 1)) + next_pos)
    positions = np.concatenate(parts, axis=1)
    return positions, int(positions.max() + 1 - len(ids))


# ---------------------------------------------------------------------------------------------------- math


def linear(x, w, prefix, bias=True):
    y = x @ w[prefix + ".weight"].T
    return y + w[prefix + ".bias"] if bias else y


def layer_norm(x, weight, bias, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def rms_norm(x, weight, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def silu(x):
    return x * sigmoid(x)


def quick_gelu(x):
    return x * sigmoid(1.702 * x)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


# ---------------------------------------------------------------------------------------------------- vision


def vision_rotary(grid_thw, head_dim, merge):
    """Per patch (in the processor's merge-block order): the row and column angles, [N, head_dim // 2]."""
    t, h, w = grid_thw
    hpos = np.repeat(np.arange(h)[:, None], w, axis=1)
    wpos = np.repeat(np.arange(w)[None, :], h, axis=0)

    def blocks(p):
        return p.reshape(h // merge, merge, w // merge, merge).transpose(0, 2, 1, 3).reshape(-1)

    pos = np.tile(np.stack([blocks(hpos), blocks(wpos)], axis=-1), (t, 1))
    dim = head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    return np.concatenate([np.outer(pos[:, 0], inv_freq), np.outer(pos[:, 1], inv_freq)], axis=-1)


def vision_attention(x, w, prefix, heads, angles, cu_seqlens):
    n, d = x.shape
    hd = d // heads
    qkv = linear(x, w, prefix + ".qkv").reshape(n, 3, heads, hd)
    q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
    emb = np.concatenate([angles, angles], axis=-1)[:, None, :]  # [N, 1, hd]
    cos, sin = np.cos(emb), np.sin(emb)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    allowed = np.zeros((n, n), dtype=bool)
    for a, b in zip(cu_seqlens[:-1], cu_seqlens[1:]):
        allowed[a:b, a:b] = True
    scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd)
    scores = np.where(allowed[None], scores, -np.inf)
    out = np.einsum("hqk,khd->qhd", softmax(scores), v).reshape(n, d)
    return linear(out, w, prefix + ".proj")


def patch_embed(pixel_values, w):
    weight = w["visual.patch_embed.proj.weight"]
    return pixel_values.astype(np.float64) @ weight.reshape(weight.shape[0], -1).T


def qwen2_vl_vision(pixel_values, grid_thw, config, w):
    vc = config["vision_config"]
    heads, merge = vc["num_heads"], vc["spatial_merge_size"]
    x = patch_embed(pixel_values, w)
    record = {"patch_embed": x, "blocks": []}
    angles = vision_rotary(grid_thw, vc["embed_dim"] // heads, merge)
    cu = [0, grid_thw[0] * grid_thw[1] * grid_thw[2]]
    for i in range(vc["depth"]):
        p = f"visual.blocks.{i}"
        h = layer_norm(x, w[p + ".norm1.weight"], w[p + ".norm1.bias"])
        x = x + vision_attention(h, w, p + ".attn", heads, angles, cu)
        h = layer_norm(x, w[p + ".norm2.weight"], w[p + ".norm2.bias"])
        x = x + linear(quick_gelu(linear(h, w, p + ".mlp.fc1")), w, p + ".mlp.fc2")
        record["blocks"].append(x)
    h = layer_norm(x, w["visual.merger.ln_q.weight"], w["visual.merger.ln_q.bias"])
    h = h.reshape(-1, h.shape[-1] * merge * merge)
    record["merger"] = linear(gelu(linear(h, w, "visual.merger.mlp.0")), w, "visual.merger.mlp.2")
    return record


def window_index(grid_thw, vc):
    """Qwen2.5-VL's window order of the merged units and the cumulative window lengths in patches."""
    merge = vc["spatial_merge_size"]
    window = vc["window_size"] // merge // vc["patch_size"]
    t, gh, gw = grid_thw
    lh, lw = gh // merge, gw // merge
    index = np.arange(t * lh * lw).reshape(t, lh, lw)
    pad_h, pad_w = window - lh % window, window - lw % window  # a whole empty window when it divides evenly
    nh, nw = (lh + pad_h) // window, (lw + pad_w) // window
    padded = np.full((t, lh + pad_h, lw + pad_w), -100)
    padded[:, :lh, :lw] = index
    padded = padded.reshape(t, nh, window, nw, window).transpose(0, 1, 3, 2, 4).reshape(t, nh * nw, window, window)
    seqlens = (padded != -100).sum(axis=(2, 3)).reshape(-1)
    flat = padded.reshape(-1)
    order = flat[flat != -100]
    cu = [0] + list(np.cumsum(seqlens) * merge * merge)
    unique = [cu[0]] + [c for prev, c in zip(cu, cu[1:]) if c != prev]  # torch.unique_consecutive
    return order, [int(c) for c in unique]


def qwen2_5_vl_vision(pixel_values, grid_thw, config, w):
    vc = config["vision_config"]
    heads, merge = vc["num_heads"], vc["spatial_merge_size"]
    unit = merge * merge
    x = patch_embed(pixel_values, w)
    record = {"patch_embed": x, "blocks": []}
    angles = vision_rotary(grid_thw, vc["hidden_size"] // heads, merge)
    order, cu_window = window_index(grid_thw, vc)
    n = x.shape[0]
    x = x.reshape(n // unit, unit, -1)[order].reshape(n, -1)
    angles = angles.reshape(n // unit, unit, -1)[order].reshape(n, -1)
    cu_full = [0, n]
    eps = 1e-6
    for i in range(vc["depth"]):
        p = f"visual.blocks.{i}"
        cu = cu_full if i in vc["fullatt_block_indexes"] else cu_window
        x = x + vision_attention(rms_norm(x, w[p + ".norm1.weight"], eps), w, p + ".attn", heads, angles, cu)
        h = rms_norm(x, w[p + ".norm2.weight"], eps)
        x = x + linear(silu(linear(h, w, p + ".mlp.gate_proj")) * linear(h, w, p + ".mlp.up_proj"), w, p + ".mlp.down_proj")
        record["blocks"].append(x)
    h = rms_norm(x, w["visual.merger.ln_q.weight"], eps).reshape(-1, x.shape[-1] * unit)
    merged = linear(gelu(linear(h, w, "visual.merger.mlp.0")), w, "visual.merger.mlp.2")
    record["merger"] = merged[np.argsort(order)]
    record["window_index"] = order
    return record


# ---------------------------------------------------------------------------------------------------- language model


def mrope_cos_sin(positions, config):
    heads = config["num_attention_heads"]
    head_dim = config["hidden_size"] // heads
    inv_freq = 1.0 / (config["rope_theta"] ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    freqs = positions[:, :, None].astype(np.float64) * inv_freq[None, None, :]  # [3, L, hd/2]
    emb = np.concatenate([freqs, freqs], axis=-1)  # [3, L, hd]
    sections = config["rope_scaling"]["mrope_section"] * 2
    axis_of_dim = np.concatenate([np.full(s, i % 3) for i, s in enumerate(sections)])
    chosen = emb[axis_of_dim, :, np.arange(head_dim)].T  # [L, hd]: dim j takes its axis's angle
    return np.cos(chosen), np.sin(chosen)


def language_model(embeds, positions, config, w):
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    hd = config["hidden_size"] // heads
    eps = config["rms_norm_eps"]
    length = embeds.shape[0]
    cos, sin = mrope_cos_sin(positions, config)
    cos, sin = cos[:, None, :], sin[:, None, :]
    causal = np.tril(np.ones((length, length), dtype=bool))
    x = embeds
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, w[p + ".input_layernorm.weight"], eps)
        q = linear(h, w, p + ".self_attn.q_proj").reshape(length, heads, hd)
        k = linear(h, w, p + ".self_attn.k_proj").reshape(length, kv_heads, hd)
        v = linear(h, w, p + ".self_attn.v_proj").reshape(length, kv_heads, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, heads // kv_heads, axis=1)
        v = np.repeat(v, heads // kv_heads, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd)
        scores = np.where(causal[None], scores, -np.inf)
        attn = np.einsum("hqk,khd->qhd", softmax(scores), v).reshape(length, heads * hd)
        x = x + linear(attn, w, p + ".self_attn.o_proj", bias=False)
        h = rms_norm(x, w[p + ".post_attention_layernorm.weight"], eps)
        gated = silu(linear(h, w, p + ".mlp.gate_proj", bias=False)) * linear(h, w, p + ".mlp.up_proj", bias=False)
        x = x + linear(gated, w, p + ".mlp.down_proj", bias=False)
    final = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if config["tie_word_embeddings"] else w["lm_head.weight"]
    return final, final @ head.T


# ---------------------------------------------------------------------------------------------------- cases


def tensor(value):
    value = np.asarray(value, dtype=np.float64)
    return {"shape": list(value.shape), "data": [float(v) for v in value.reshape(-1)]}


def float32_list(values):
    """Shortest decimal that reads back as the same float32, to keep the JSON small but exact."""
    out = []
    for v in values.reshape(-1):
        short = float(str(v))
        if np.float32(short) != v:
            raise AssertionError(f"{v!r} does not round-trip through {short!r}")
        out.append(short)
    return out


def run_case(case, family, config, w, tokenizer, preprocessor, template, data_root):
    prompt_text = render_prompt(template, case.question, case.image is not None)
    pixel_values = grid = resized = None
    expanded = prompt_text
    if case.image is not None:
        pixel_values, grid, resized = preprocess_image(os.path.join(data_root, case.image), preprocessor)
        count = grid[0] * grid[1] * grid[2] // (preprocessor["merge_size"] ** 2)
        expanded = prompt_text.replace(IMAGE_PAD, IMAGE_PAD * count, 1)
    prompt_ids = tokenizer.encode(expanded)
    completion_ids = tokenizer.encode(case.completion)
    input_ids = prompt_ids + completion_ids
    positions, delta = get_rope_index(input_ids, grid, config)
    embeds = w["model.embed_tokens.weight"][input_ids].copy()
    vision = None
    if case.image is not None:
        run = qwen2_vl_vision if family == "qwen2_vl" else qwen2_5_vl_vision
        record = run(pixel_values, grid, config, w)
        image_rows = [i for i, t in enumerate(input_ids) if t == config["image_token_id"]]
        if len(image_rows) != record["merger"].shape[0]:
            raise AssertionError(f"{case.name}: {len(image_rows)} image tokens for {record['merger'].shape[0]} embeddings")
        embeds[image_rows] = record["merger"]
        vision = {"patch_embed": tensor(record["patch_embed"]), "blocks": [tensor(b) for b in record["blocks"]]}
        if "window_index" in record:
            vision["window_index"] = [int(i) for i in record["window_index"]]
        vision["merger"] = tensor(record["merger"])
    final, logits = language_model(embeds, positions, config, w)
    logp = log_softmax(logits)
    start = len(prompt_ids)
    completion_logprobs = [float(logp[start + j - 1, t]) for j, t in enumerate(completion_ids)]
    return {
        "name": case.name,
        "image": case.image,
        "question": case.question,
        "completion": case.completion,
        "prompt_text": prompt_text,
        "input_ids": input_ids,
        "completion_start": start,
        "completion_ids": completion_ids,
        "resized_hw": list(resized) if resized else None,
        "image_grid_thw": list(grid) if grid else None,
        "pixel_values": None if pixel_values is None else
        {"shape": list(pixel_values.shape), "data": float32_list(pixel_values)},
        "position_ids": positions.tolist(),
        "rope_delta": delta,
        "vision": vision,
        "completion_logprobs": completion_logprobs,
        "last_hidden": tensor(final[-4:]),
    }


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(repo, "tests", "Grid.Policy.Tests", "TestData", "Qwen"))
    args = parser.parse_args()
    out = os.path.join(args.data, "reference")
    os.makedirs(out, exist_ok=True)
    tokenizer = None
    for family, checkpoint in (("qwen2_vl", "qwen2_vl_tiny"), ("qwen2_5_vl", "qwen2_5_vl_tiny")):
        config, w, tokenizer, preprocessor, template = load_checkpoint(os.path.join(args.data, checkpoint))
        cases = [run_case(c, family, config, w, tokenizer, preprocessor, template, args.data) for c in CASES]
        write_json(os.path.join(out, f"{family}.json"),
                   {"family": family, "checkpoint": checkpoint, "dtype_of_math": "float64", "cases": cases})
        for c in cases:
            print(f"{family} {c['name']}: {len(c['input_ids'])} tokens, grid {c['image_grid_thw']}, "
                  f"delta {c['rope_delta']}, completion logprobs {np.round(c['completion_logprobs'][:4], 3).tolist()}...")
    write_json(os.path.join(out, "tokenizer_cases.json"),
               [{"text": t, "ids": tokenizer.encode(t)} for t in TOKENIZER_TEXTS])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
