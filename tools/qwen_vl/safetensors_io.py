"""A small BF16 safetensors writer and reader (numpy only), so the tiny checkpoints need no torch to make or read."""
import json
import struct

import numpy as np


def to_bf16_bits(values):
    """float32 -> bfloat16 bit patterns, rounding to nearest even (what torch's .to(torch.bfloat16) does)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_float64(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def round_to_bf16(values):
    """The float64 values a BF16 checkpoint will hold for these numbers."""
    return bf16_bits_to_float64(to_bf16_bits(values))


def write_bf16(path, tensors):
    """tensors: name -> float array. Data is laid out in sorted name order, header padded to 8 bytes."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        data = to_bf16_bits(array).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)
    return offset


def read_as_float64(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "BF16":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}; these tools read BF16 only")
        start, end = info["data_offsets"]
        bits = np.frombuffer(body[start:end], dtype=np.uint16)
        out[name] = bf16_bits_to_float64(bits).reshape(info["shape"])
    return out
