#!/usr/bin/env python3
"""A DeepSeek-V3-shaped checkpoint of headers only: every tensor of the release's layout (61
layers, the MTP layer 61, 256 routed + 1 shared expert, block-FP8 weights with 128x128
weight_scale_inv), at the release's real shapes and dtypes, spread over SHARDS files that are
sparse (the data regions are holes), with config.json, generation_config.json and the index.
For header-work benchmarks (inspect, map, validate) on a checkpoint that validates clean:

    python3 bench/tools/dsv3_headers.py OUT [--shards 160] [--layers 61] [--experts 256]

--layers and --experts scale it (the same names and shapes, more or fewer of them) for the
cost-versus-tensor-count curves of bench/scale.sh: --layers 160 --experts 1024 is ~1M tensors.
"""
import argparse
import json
import os
import struct

H, HEADS, QL, KVL, NOPE, ROPE, V = 7168, 128, 1536, 512, 128, 64, 128
INTER, MOE_I, VOCAB, EXPERTS, LAYERS, DENSE = 18432, 2048, 129280, 256, 61, 3
BYTES = {"BF16": 2, "F32": 4, "F8_E4M3": 1}


def fp8(name, rows, cols):
    # FP8 weight plus its block scale, as the release stores them.
    return [(name + ".weight", "F8_E4M3", [rows, cols]),
            (name + ".weight_scale_inv", "F32", [(rows + 127) // 128, (cols + 127) // 128])]


def layer(i):
    p = f"model.layers.{i}."
    t = [(p + "input_layernorm.weight", "BF16", [H]), (p + "post_attention_layernorm.weight", "BF16", [H]),
         (p + "self_attn.q_a_layernorm.weight", "BF16", [QL]), (p + "self_attn.kv_a_layernorm.weight", "BF16", [KVL])]
    t += fp8(p + "self_attn.q_a_proj", QL, H) + fp8(p + "self_attn.q_b_proj", HEADS * (NOPE + ROPE), QL)
    t += fp8(p + "self_attn.kv_a_proj_with_mqa", KVL + ROPE, H) + fp8(p + "self_attn.kv_b_proj", HEADS * (NOPE + V), KVL)
    t += fp8(p + "self_attn.o_proj", H, HEADS * V)
    if i < DENSE:
        return t + fp8(p + "mlp.gate_proj", INTER, H) + fp8(p + "mlp.up_proj", INTER, H) + fp8(p + "mlp.down_proj", H, INTER)
    t += [(p + "mlp.gate.weight", "BF16", [EXPERTS, H]), (p + "mlp.gate.e_score_correction_bias", "F32", [EXPERTS])]
    for e in [f"experts.{x}" for x in range(EXPERTS)] + ["shared_experts"]:
        t += fp8(p + f"mlp.{e}.gate_proj", MOE_I, H) + fp8(p + f"mlp.{e}.up_proj", MOE_I, H) + fp8(p + f"mlp.{e}.down_proj", H, MOE_I)
    return t


def tensors():
    t = [("model.embed_tokens.weight", "BF16", [VOCAB, H]), ("model.norm.weight", "BF16", [H]), ("lm_head.weight", "BF16", [VOCAB, H])]
    for i in range(LAYERS + 1):
        t += layer(i)
    m = f"model.layers.{LAYERS}."
    t += [(m + "enorm.weight", "BF16", [H]), (m + "hnorm.weight", "BF16", [H]), (m + "shared_head.norm.weight", "BF16", [H]),
          (m + "shared_head.head.weight", "BF16", [VOCAB, H]), (m + "embed_tokens.weight", "BF16", [VOCAB, H])]
    return t + fp8(m + "eh_proj", H, 2 * H)


def write_shard(path, items):
    header, off = {}, 0
    for name, dtype, shape in items:
        n = BYTES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + off)  # the data: a hole


def main():
    global LAYERS, EXPERTS
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shards", type=int, default=160)
    ap.add_argument("--layers", type=int, default=LAYERS)
    ap.add_argument("--experts", type=int, default=EXPERTS)
    a = ap.parse_args()
    LAYERS, EXPERTS = a.layers, a.experts
    os.makedirs(a.out, exist_ok=True)
    ts = tensors()
    per = (len(ts) + a.shards - 1) // a.shards
    weight_map = {}
    for s in range(a.shards):
        fname = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
        chunk = ts[s * per:(s + 1) * per]
        write_shard(os.path.join(a.out, fname), chunk)
        weight_map.update({name: fname for name, _, _ in chunk})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    config = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": H,
              "intermediate_size": INTER, "moe_intermediate_size": MOE_I, "num_hidden_layers": LAYERS,
              "num_attention_heads": HEADS, "num_key_value_heads": HEADS, "n_routed_experts": EXPERTS, "n_shared_experts": 1,
              "num_experts_per_tok": 8, "first_k_dense_replace": DENSE, "moe_layer_freq": 1, "num_nextn_predict_layers": 1,
              "q_lora_rank": QL, "kv_lora_rank": KVL, "qk_nope_head_dim": NOPE, "qk_rope_head_dim": ROPE, "v_head_dim": V,
              "vocab_size": VOCAB, "topk_method": "noaux_tc", "n_group": 8, "topk_group": 4, "tie_word_embeddings": False,
              "bos_token_id": 0, "eos_token_id": 1,
              "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                      "weight_block_size": [128, 128]}}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": 1}, f)
    print(f"{len(ts)} tensors in {a.shards} shards")


if __name__ == "__main__":
    main()
