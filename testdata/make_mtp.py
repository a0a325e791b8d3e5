#!/usr/bin/env python3
"""MTP fixtures: three transformers-written fixtures of testdata/models with the multi-token-
prediction layers their releases carry added (transformers drops them on load and never saves
them), for convert --drop-mtp / --only-mtp (python3 stdlib only).

  deepseek_v3  as deepseek-ai/DeepSeek-V3's model.layers.61.*: one more decoder layer numbered
               num_hidden_layers (here 2), an MoE layer like layer 1, plus enorm, hnorm, eh_proj,
               shared_head.norm, shared_head.head and embed_tokens (vLLM's DeepSeekMTP reads
               exactly model.layers.N+i.*).
  glm4_moe     as zai-org/GLM-4.5's MTP layer (model.layers.92.* there): the same set
               (vLLM's Glm4MoeMTP).
  qwen3_next   as Qwen/Qwen3-Next-80B-A3B's mtp.*: mtp.fc, mtp.pre_fc_norm_embedding,
               mtp.pre_fc_norm_hidden, mtp.norm and mtp.layers.0.* (a full-attention MoE layer,
               like layer 1); config gains mtp_num_hidden_layers 1 as the hub config has it
               (vLLM's Qwen3NextMTP reads mtp.* and the main embed_tokens / lm_head).

Every tensor of the source fixture is kept byte for byte; new tensors are pseudo-random BF16.
Run from anywhere:  python3 testdata/make_mtp.py
"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stwriter import Checkpoint  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = (t["dtype"], t["shape"], data[b:e])
    return out, meta


def build(family, seed, add, config_edit=None):
    src = os.path.join(HERE, "models", family)
    tensors, meta = read(os.path.join(src, "model.safetensors"))
    ck = Checkpoint(seed=seed)
    for name, (dtype, shape, data) in sorted(tensors.items()):
        ck.add(name, dtype, shape, data)
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    add(ck, tensors, config)
    if config_edit:
        config_edit(config)
    out = os.path.join(HERE, "mtp", family)
    ck.save(out, config=config, metadata=meta)
    shutil.copy(os.path.join(src, "generation_config.json"), out)


def copy_layer(ck, tensors, src_prefix, dst_prefix):
    for name, (dtype, shape, _) in sorted(tensors.items()):
        if name.startswith(src_prefix):
            ck.add(dst_prefix + name[len(src_prefix):], dtype, shape)


def nextn_layer(ck, tensors, config):
    n, h, v = config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]
    p = f"model.layers.{n}."
    copy_layer(ck, tensors, f"model.layers.{n - 1}.", p)
    for norm in ("enorm", "hnorm", "shared_head.norm"):
        ck.add(p + norm + ".weight", "BF16", [h])
    ck.add(p + "eh_proj.weight", "BF16", [h, 2 * h])
    ck.add(p + "shared_head.head.weight", "BF16", [v, h])
    ck.add(p + "embed_tokens.weight", "BF16", [v, h])


def qwen3_next_mtp(ck, tensors, config):
    h = config["hidden_size"]
    full = config["layer_types"].index("full_attention")
    copy_layer(ck, tensors, f"model.layers.{full}.", "mtp.layers.0.")
    ck.add("mtp.fc.weight", "BF16", [h, 2 * h])
    for norm in ("mtp.norm", "mtp.pre_fc_norm_embedding", "mtp.pre_fc_norm_hidden"):
        ck.add(norm + ".weight", "BF16", [h])


def main():
    build("deepseek_v3", 301, nextn_layer)
    build("glm4_moe", 302, nextn_layer)
    build("qwen3_next", 303, qwen3_next_mtp, lambda c: c.update({"mtp_num_hidden_layers": 1}))


if __name__ == "__main__":
    main()
