"""Baseline for `grid bench --suite qwen`: the score forward of a Qwen2-VL checkpoint in eager PyTorch, float32.

    /usr/bin/python3 tools/qwen_vl/bench_forward.py --checkpoint DIR --inputs DIR [--repeats N] [--threads T]

Loads the checkpoint's BF16 safetensors (shards and index, or model.safetensors) into float32 tensors one tensor at a
time, then runs the forward `grid score` runs on the inputs the benchmark wrote (inputs.json: input ids, 3-D M-RoPE
positions, completion start, image grid; pixel_values.f32: the processor's float32 patches): vision tower, merger,
language model, and the log-probabilities of the completion tokens. Each step is the math of transformers'
Qwen2VLForConditionalGeneration with eager attention (the same steps reference.py writes in float64 numpy), written
here with torch operations on float32 tensors under inference_mode. Prints one JSON object on stdout: load and forward
seconds, peak RSS, the log-probs (so the caller can check both sides computed the same thing), torch version, threads.
Qwen2-VL only (Qwen2.5-VL's windowed tower is not written here). Runs on Debian's python3-torch (1.13) and numpy.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def load_weights(folder):
    """name -> float32 tensor, reading each BF16/F16/F32 tensor on its own so only one is ever held twice."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    dtypes = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    weights = {}
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            data_start = 8 + n
            entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0])
            for key, info in entries:
                start, end = info["data_offsets"]
                f.seek(data_start + start)
                raw = bytearray(f.read(end - start))
                weights[key] = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]).to(torch.float32).reshape(info["shape"])
                del raw
    return weights


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def vision_angles(grid, head_dim, merge):
    """Per patch, in the processor's merge-block order: row angles then column angles, [N, head_dim // 2]."""
    t, h, w = grid
    hpos = torch.arange(h).unsqueeze(1).expand(-1, w)
    wpos = torch.arange(w).unsqueeze(0).expand(h, -1)

    def blocks(p):
        return p.reshape(h // merge, merge, w // merge, merge).permute(0, 2, 1, 3).flatten()

    pos = torch.stack([blocks(hpos), blocks(wpos)], dim=-1).repeat(t, 1)
    dim = head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    freqs = torch.outer(torch.arange(max(h, w), dtype=torch.float32), inv_freq)
    return freqs[pos].flatten(1)


def vision(pixel_values, grid, config, w):
    vc = config["vision_config"]
    heads, merge, patch, temporal = vc["num_heads"], vc["spatial_merge_size"], vc["patch_size"], vc["temporal_patch_size"]
    x = pixel_values.view(-1, vc.get("in_chans", 3), temporal, patch, patch)
    x = F.conv3d(x, w["visual.patch_embed.proj.weight"], stride=(temporal, patch, patch)).view(-1, vc["embed_dim"])
    n, d = x.shape
    hd = d // heads
    angles = vision_angles(grid, hd, merge)
    emb = torch.cat([angles, angles], dim=-1)
    cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)  # [N, 1, hd]
    for i in range(vc["depth"]):
        p = f"visual.blocks.{i}"
        h = F.layer_norm(x, (d,), w[p + ".norm1.weight"], w[p + ".norm1.bias"], eps=1e-6)
        qkv = F.linear(h, w[p + ".attn.qkv.weight"], w[p + ".attn.qkv.bias"]).reshape(n, 3, heads, hd)
        q, k, v = qkv.unbind(1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads, N, hd]: one image, no mask
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(hd)
        out = torch.matmul(scores.softmax(-1), v).transpose(0, 1).reshape(n, d)
        x = x + F.linear(out, w[p + ".attn.proj.weight"], w[p + ".attn.proj.bias"])
        h = F.layer_norm(x, (d,), w[p + ".norm2.weight"], w[p + ".norm2.bias"], eps=1e-6)
        h = F.linear(h, w[p + ".mlp.fc1.weight"], w[p + ".mlp.fc1.bias"])
        h = h * torch.sigmoid(1.702 * h)
        x = x + F.linear(h, w[p + ".mlp.fc2.weight"], w[p + ".mlp.fc2.bias"])
    h = F.layer_norm(x, (d,), w["visual.merger.ln_q.weight"], w["visual.merger.ln_q.bias"], eps=1e-6).view(-1, d * merge * merge)
    h = F.gelu(F.linear(h, w["visual.merger.mlp.0.weight"], w["visual.merger.mlp.0.bias"]))
    return F.linear(h, w["visual.merger.mlp.2.weight"], w["visual.merger.mlp.2.bias"])


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def mrope_cos_sin(positions, config):
    hd = config["hidden_size"] // config["num_attention_heads"]
    inv_freq = 1.0 / (config["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    freqs = positions.to(torch.float32).unsqueeze(-1) * inv_freq  # [3, L, hd/2]
    emb = torch.cat([freqs, freqs], dim=-1)  # [3, L, hd]
    sections = config["rope_scaling"]["mrope_section"] * 2
    cos = torch.cat([c[i % 3] for i, c in enumerate(emb.cos().split(sections, dim=-1))], dim=-1)
    sin = torch.cat([s[i % 3] for i, s in enumerate(emb.sin().split(sections, dim=-1))], dim=-1)
    return cos.unsqueeze(0), sin.unsqueeze(0)  # [1, L, hd]


def language_model(embeds, positions, config, w):
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    hd = config["hidden_size"] // heads
    eps = config["rms_norm_eps"]
    length = embeds.shape[0]
    cos, sin = mrope_cos_sin(positions, config)
    causal = torch.full((length, length), float("-inf")).triu(1)
    x = embeds
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, w[p + ".input_layernorm.weight"], eps)
        q = F.linear(h, w[p + ".self_attn.q_proj.weight"], w[p + ".self_attn.q_proj.bias"]).view(length, heads, hd).transpose(0, 1)
        k = F.linear(h, w[p + ".self_attn.k_proj.weight"], w[p + ".self_attn.k_proj.bias"]).view(length, kv_heads, hd).transpose(0, 1)
        v = F.linear(h, w[p + ".self_attn.v_proj.weight"], w[p + ".self_attn.v_proj.bias"]).view(length, kv_heads, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv_heads, dim=0)
        v = v.repeat_interleave(heads // kv_heads, dim=0)
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(hd) + causal
        attn = torch.matmul(scores.softmax(-1), v).transpose(0, 1).reshape(length, heads * hd)
        x = x + F.linear(attn, w[p + ".self_attn.o_proj.weight"])
        h = rms_norm(x, w[p + ".post_attention_layernorm.weight"], eps)
        gated = F.silu(F.linear(h, w[p + ".mlp.gate_proj.weight"])) * F.linear(h, w[p + ".mlp.up_proj.weight"])
        x = x + F.linear(gated, w[p + ".mlp.down_proj.weight"])
    return rms_norm(x, w["model.norm.weight"], eps)


def score(inputs, pixel_values, config, w):
    ids = torch.tensor(inputs["input_ids"], dtype=torch.long)
    start = inputs["completion_start"]
    embeds = F.embedding(ids, w["model.embed_tokens.weight"])
    if pixel_values is not None:
        image = vision(pixel_values, inputs["image_grid_thw"], config, w)
        embeds[ids == config["image_token_id"]] = image
    hidden = language_model(embeds, torch.tensor(inputs["positions"], dtype=torch.long), config, w)
    head = w["model.embed_tokens.weight"] if config["tie_word_embeddings"] else w["lm_head.weight"]
    logits = F.linear(hidden[start - 1:-1], head)  # the rows that predict the completion tokens
    return logits.log_softmax(-1).gather(-1, ids[start:].unsqueeze(-1)).squeeze(-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with open(os.path.join(args.checkpoint, "config.json")) as f:
        config = json.load(f)
    if config.get("model_type") != "qwen2_vl":
        sys.exit(f"{args.checkpoint}: model_type {config.get('model_type')!r}; this baseline runs qwen2_vl only")
    with open(os.path.join(args.inputs, "inputs.json")) as f:
        inputs = json.load(f)
    pixel_values = None
    if inputs.get("image_grid_thw"):
        flat = np.fromfile(os.path.join(args.inputs, "pixel_values.f32"), dtype="<f4")
        pixel_values = torch.from_numpy(flat.reshape(inputs["patches"], inputs["patch_values"]))

    started = time.perf_counter()
    weights = load_weights(args.checkpoint)
    load_seconds = time.perf_counter() - started
    load_peak = peak_rss_bytes()

    seconds = []
    log_probs = None
    with torch.inference_mode():
        for _ in range(args.repeats):
            started = time.perf_counter()
            log_probs = score(inputs, pixel_values, config, weights)
            seconds.append(time.perf_counter() - started)
    json.dump({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_seconds": load_seconds,
        "load_peak_rss_bytes": load_peak,
        "forward_seconds": seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "log_probs": [float(v) for v in log_probs],
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
