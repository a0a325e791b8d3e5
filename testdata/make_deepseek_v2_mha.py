#!/usr/bin/env python3
"""DeepSeek-V2 in MHA mode (python3 stdlib only), shrunk: the language model of DeepSeek-OCR
(deepseek-ai/DeepSeek-OCR language_config, model_type deepseek_v2): qk_nope_head_dim and
qk_rope_head_dim 0, q_lora_rank and kv_lora_rank null, use_mla false, so the decoder has plain
multi-head attention self_attn.{q,k,v,o}_proj (DeepSeek's remote code without MLA). vLLM's
DeepseekV2Model takes its MHA path for such a config (use_mha: model_type deepseek or both
head dims 0): DeepseekAttention, q/k/v stacked into self_attn.qkv_proj (shards q, k, v).

The released config, shrunk: layer 0 dense (first_k_dense_replace 1), the others MoE with a
greedy softmax router mlp.gate.weight, routed experts mlp.experts.E.{gate,up,down}_proj and
two shared experts mlp.shared_experts.* (n_shared_experts x moe_intermediate_size wide).

Run from anywhere:  python3 testdata/make_deepseek_v2_mha.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stwriter import Checkpoint  # noqa: E402

H, LAYERS, HEADS, E, SHARED, INTER, MOE_INTER, VOCAB = 64, 3, 4, 4, 2, 96, 32, 128

CONFIG = {
    "architectures": ["DeepseekV2ForCausalLM"],
    "model_type": "deepseek_v2",
    "bos_token_id": 0,
    "eos_token_id": 1,
    "first_k_dense_replace": 1,
    "hidden_act": "silu",
    "hidden_size": H,
    "intermediate_size": INTER,
    "kv_lora_rank": None,
    "lm_head": True,
    "max_position_embeddings": 256,
    "moe_intermediate_size": MOE_INTER,
    "n_group": 1,
    "n_routed_experts": E,
    "n_shared_experts": SHARED,
    "num_attention_heads": HEADS,
    "num_experts_per_tok": 2,
    "num_hidden_layers": LAYERS,
    "num_key_value_heads": HEADS,
    "q_lora_rank": None,
    "qk_nope_head_dim": 0,
    "qk_rope_head_dim": 0,
    "rm_head": False,
    "topk_group": 1,
    "topk_method": "greedy",
    "torch_dtype": "bfloat16",
    "use_mla": False,
    "v_head_dim": 0,
    "vocab_size": VOCAB,
}


def mlp(ck, p, inter):
    ck.add(p + ".gate_proj.weight", "BF16", [inter, H])
    ck.add(p + ".up_proj.weight", "BF16", [inter, H])
    ck.add(p + ".down_proj.weight", "BF16", [H, inter])


def main():
    ck = Checkpoint(seed=501)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    for L in range(LAYERS):
        p = f"model.layers.{L}"
        ck.add(p + ".input_layernorm.weight", "BF16", [H])
        ck.add(p + ".post_attention_layernorm.weight", "BF16", [H])
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            ck.add(f"{p}.self_attn.{proj}.weight", "BF16", [H, H])
        if L < CONFIG["first_k_dense_replace"]:
            mlp(ck, p + ".mlp", INTER)
            continue
        ck.add(p + ".mlp.gate.weight", "BF16", [E, H])
        for x in range(E):
            mlp(ck, f"{p}.mlp.experts.{x}", MOE_INTER)
        mlp(ck, p + ".mlp.shared_experts", MOE_INTER * SHARED)
    ck.save(os.path.join(HERE, "models", "deepseek_v2_mha"), config=CONFIG)
    # The release's generation_config.json carries its token ids (bos 0, eos 1).
    with open(os.path.join(os.path.join(HERE, "models", "deepseek_v2_mha"), "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": 1}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
