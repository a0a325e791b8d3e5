#!/usr/bin/env python3
"""A Qwen3-MoE-shaped checkpoint with transformers 5's fused BF16 experts, for convert --experts.

    bench/make_fused_experts.py OUT [--layers 1] [--experts 128] [--hidden 2048] [--moe-inter 768]

Per layer: model.layers.L.mlp.experts.gate_up_proj [E, 2I, H] and .down_proj [E, H, I] (BF16,
pseudo-random bytes: the conversion is a copy, values do not matter) and the router
mlp.gate.weight [E, H]; one shard per layer. The defaults are Qwen3-30B-A3B's expert shapes:
one layer is 1.2 GB. Standard library only, written a chunk at a time.
"""
import argparse
import json
import os
import random
import struct


def write_shard(path, tensors):
    header, off = {}, 0
    for name, shape in tensors:
        n = 2
        for d in shape:
            n *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = random.Random(7)
    chunk = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 256  # 16 MiB, reused
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        left = off
        while left:
            k = min(left, len(chunk))
            f.write(chunk[:k])
            left -= k
    return off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--experts", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--moe-inter", type=int, default=768)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    E, H, I = a.experts, a.hidden, a.moe_inter
    weight_map, total = {}, 0
    for layer in range(a.layers):
        p = f"model.layers.{layer}.mlp."
        tensors = [(p + "experts.down_proj", [E, H, I]), (p + "experts.gate_up_proj", [E, 2 * I, H]), (p + "gate.weight", [E, H])]
        fn = f"model-{layer + 1:05d}-of-{a.layers:05d}.safetensors" if a.layers > 1 else "model.safetensors"
        total += write_shard(os.path.join(a.out, fn), tensors)
        weight_map.update({n: fn for n, _ in tensors})
    if a.layers > 1:
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    config = {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "num_experts": E,
              "num_experts_per_tok": 8, "hidden_size": H, "moe_intermediate_size": I, "num_hidden_layers": a.layers,
              "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
              "torch_dtype": "bfloat16"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    print(total)


if __name__ == "__main__":
    main()
