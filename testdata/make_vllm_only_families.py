#!/usr/bin/env python3
"""Synthetic fixtures for the vLLM MoE families added with the family survey (python3 stdlib only).

Each fixture uses the tensor names of the family's published checkpoints (what vLLM's loader
reads) and a config.json shaped like the hub one, shrunk:

  lfm2_moe       LiquidAI/LFM2-8B-A1B (Lfm2MoeForCausalLM): hybrid short-conv / attention
                 layers by layer_types; conv layers conv.in_proj [3H, H], conv.conv [H, 1,
                 conv_L_cache], conv.out_proj; attention layers self_attn.{q,k,v,out}_proj with
                 q_layernorm / k_layernorm; operator_norm / ffn_norm; the first
                 num_dense_layers layers keep a dense feed_forward.w1/w3/w2, the rest route:
                 feed_forward.gate, feed_forward.expert_bias (F32, use_expert_bias) and
                 per-expert feed_forward.experts.E.w1/w3/w2; final norm model.embedding_norm;
                 no lm_head (tied to embed_tokens).

  longcat_flash_transformers_layout
                 LongCat-Flash as transformers 5 writes it (read from transformers'
                 modular_longcat_flash.py and its conversion mapping, which splits the fused
                 experts back per expert on save): LongcatFlashModel sets
                 config.num_hidden_layers = 2 * num_layers, which save_pretrained writes, and
                 LongcatFlashExperts.gate_up_proj has n_routed_experts + zero_expert_num rows
                 while down_proj has n_routed_experts, so the zero (identity) experts get
                 experts.E.gate_proj / up_proj and no down_proj. Otherwise the hub layout of
                 make_vllm_only_group1.py. vLLM cannot load it (see the longcat_flash entry).

  phimoe         microsoft/Phi-3.5-MoE-instruct (PhiMoEForCausalLM) as released: attention_bias
                 and lm_head_bias true, so q/k/v/o_proj and lm_head carry biases (vLLM builds
                 them unconditionally); LayerNorms with bias; block_sparse_moe.gate and per-expert
                 block_sparse_moe.experts.E.w1/w3/w2. testdata/models/phimoe is the same family
                 saved by transformers with its defaults (no biases), which vLLM refuses.

  minimax_m2     MiniMaxAI/MiniMax-M2 as released: the tensor names transformers saves
                 (testdata/models/minimax_m2) with the hub config's keys vLLM reads and
                 transformers 5 does not write: use_routing_bias (the per-layer
                 block_sparse_moe.e_score_correction_bias), scoring_func, rotary_dim.

Tiny sizes: hidden 64, 4 layers (2 dense, 2 MoE; one attention layer), 4 routed experts, BF16.
transformers 5 has this class too; the reference environment was not reachable when the
fixture was made, so it follows the release's names instead of a save_pretrained run.
Run from anywhere:  python3 testdata/make_vllm_only_families.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stwriter import Checkpoint  # noqa: E402
import make_vllm_only_group1 as group1  # noqa: E402

OUT = os.path.join(HERE, "vllm_only")

H, E, TOPK, VOCAB = 64, 4, 2, 128
HEADS, KV_HEADS = 4, 2
INTER, MOE_INTER = 96, 32


def save(ck, name, config):
    """The checkpoint, its config.json and the generation_config.json releases ship beside it."""
    d = os.path.join(OUT, name)
    ck.save(d, config)
    gen = {k: config[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if k in config}
    with open(os.path.join(d, "generation_config.json"), "w") as fh:
        fh.write("{\n" + ",\n".join(f'  "{k}": {v}' for k, v in gen.items()) + "\n}\n")


def attention(ck, a, head_dim, bias=False, out="o_proj"):
    """GQA projections under prefix a: q/k/v then the output projection, each with its bias when
    the release has one."""
    for proj, rows in (("q", HEADS * head_dim), ("k", KV_HEADS * head_dim), ("v", KV_HEADS * head_dim)):
        ck.add(a + f"{proj}_proj.weight", "BF16", [rows, H])
        if bias:
            ck.add(a + f"{proj}_proj.bias", "BF16", [rows])
    ck.add(a + out + ".weight", "BF16", [H, HEADS * head_dim])
    if bias:
        ck.add(a + out + ".bias", "BF16", [H])


def per_expert(ck, prefix, inter):
    for e in range(E):
        ck.add(prefix + f"{e}.w1.weight", "BF16", [inter, H])
        ck.add(prefix + f"{e}.w3.weight", "BF16", [inter, H])
        ck.add(prefix + f"{e}.w2.weight", "BF16", [H, inter])


def lfm2_moe():
    layer_types = ["conv", "conv", "full_attention", "conv"]
    dense, conv_cache = 2, 3
    head_dim = H // HEADS
    ck = Checkpoint(seed=301)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.embedding_norm.weight", "BF16", [H])
    for i, kind in enumerate(layer_types):
        p = f"model.layers.{i}."
        ck.add(p + "operator_norm.weight", "BF16", [H])
        ck.add(p + "ffn_norm.weight", "BF16", [H])
        if kind == "full_attention":
            attention(ck, p + "self_attn.", head_dim, out="out_proj")
            ck.add(p + "self_attn.q_layernorm.weight", "BF16", [head_dim])
            ck.add(p + "self_attn.k_layernorm.weight", "BF16", [head_dim])
        else:
            ck.add(p + "conv.in_proj.weight", "BF16", [3 * H, H])
            ck.add(p + "conv.conv.weight", "BF16", [H, 1, conv_cache])
            ck.add(p + "conv.out_proj.weight", "BF16", [H, H])
        f = p + "feed_forward."
        if i < dense:
            ck.add(f + "w1.weight", "BF16", [INTER, H])
            ck.add(f + "w3.weight", "BF16", [INTER, H])
            ck.add(f + "w2.weight", "BF16", [H, INTER])
            continue
        ck.add(f + "gate.weight", "BF16", [E, H])
        ck.add(f + "expert_bias", "F32", [E])
        per_expert(ck, f + "experts.", MOE_INTER)
    config = {
        "architectures": ["Lfm2MoeForCausalLM"], "model_type": "lfm2_moe",
        "bos_token_id": 1, "eos_token_id": 7, "pad_token_id": 0, "conv_bias": False, "conv_L_cache": conv_cache,
        "dtype": "bfloat16", "hidden_size": H, "intermediate_size": INTER, "layer_types": layer_types,
        "max_position_embeddings": 256, "moe_intermediate_size": MOE_INTER, "norm_eps": 1e-05,
        "norm_topk_prob": True, "num_attention_heads": HEADS, "num_dense_layers": dense, "num_experts": E,
        "num_experts_per_tok": TOPK, "num_hidden_layers": len(layer_types), "num_key_value_heads": KV_HEADS,
        "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}, "routed_scaling_factor": 1.0,
        "tie_word_embeddings": True, "use_cache": True, "use_expert_bias": True, "vocab_size": VOCAB,
    }
    save(ck, "lfm2_moe", config)


def phimoe():
    layers, head_dim = 2, 16
    ck = Checkpoint(seed=302)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("model.norm.bias", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    ck.add("lm_head.bias", "BF16", [VOCAB])
    for i in range(layers):
        p = f"model.layers.{i}."
        for norm in ("input_layernorm", "post_attention_layernorm"):
            ck.add(p + norm + ".weight", "BF16", [H])
            ck.add(p + norm + ".bias", "BF16", [H])
        attention(ck, p + "self_attn.", head_dim, bias=True)
        ck.add(p + "block_sparse_moe.gate.weight", "BF16", [E, H])
        per_expert(ck, p + "block_sparse_moe.experts.", MOE_INTER)
    config = {
        "architectures": ["PhiMoEForCausalLM"], "model_type": "phimoe", "attention_bias": True, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": H, "initializer_range": 0.02,
        "input_jitter_noise": 0.01, "intermediate_size": MOE_INTER, "lm_head_bias": True, "max_position_embeddings": 256,
        "num_attention_heads": HEADS, "num_experts_per_tok": TOPK, "num_hidden_layers": layers,
        "num_key_value_heads": KV_HEADS, "num_local_experts": E, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
        "router_aux_loss_coef": 0.0, "router_jitter_noise": 0.01, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "vocab_size": VOCAB,
    }
    save(ck, "phimoe", config)


def minimax_m2():
    layers, head_dim = 2, 16
    ck = Checkpoint(seed=303)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    for i in range(layers):
        p = f"model.layers.{i}."
        ck.add(p + "input_layernorm.weight", "BF16", [H])
        ck.add(p + "post_attention_layernorm.weight", "BF16", [H])
        attention(ck, p + "self_attn.", head_dim)
        ck.add(p + "self_attn.q_norm.weight", "BF16", [HEADS * head_dim])
        ck.add(p + "self_attn.k_norm.weight", "BF16", [KV_HEADS * head_dim])
        m = p + "block_sparse_moe."
        ck.add(m + "gate.weight", "BF16", [E, H])
        ck.add(m + "e_score_correction_bias", "F32", [E])
        per_expert(ck, m + "experts.", INTER)
    config = {
        "architectures": ["MiniMaxM2ForCausalLM"], "model_type": "minimax_m2", "bos_token_id": 1, "eos_token_id": 2,
        "head_dim": head_dim, "hidden_act": "silu", "hidden_size": H, "intermediate_size": INTER,
        "max_position_embeddings": 256, "num_attention_heads": HEADS, "num_experts_per_tok": TOPK,
        "num_hidden_layers": layers, "num_key_value_heads": KV_HEADS, "num_local_experts": E, "rms_norm_eps": 1e-06,
        "rope_theta": 5000000, "rotary_dim": head_dim // 2, "scoring_func": "sigmoid", "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "use_routing_bias": True, "vocab_size": VOCAB,
    }
    save(ck, "minimax_m2", config)


def longcat_flash_transformers_layout():
    ck, config = group1.longcat_flash_checkpoint()
    layers, routed, zero = config["num_layers"], config["n_routed_experts"], config["zero_expert_num"]
    for i in range(layers):
        for e in range(routed, routed + zero):
            p = f"model.layers.{i}.mlp.experts.{e}."
            ck.add(p + "gate_proj.weight", "BF16", [config["expert_ffn_hidden_size"], H])
            ck.add(p + "up_proj.weight", "BF16", [config["expert_ffn_hidden_size"], H])
    config["num_hidden_layers"] = 2 * layers
    ck.save(os.path.join(OUT, "longcat_flash_transformers_layout"), config)


if __name__ == "__main__":
    lfm2_moe()
    phimoe()
    minimax_m2()
    longcat_flash_transformers_layout()
    for name in ("lfm2_moe", "phimoe", "minimax_m2", "longcat_flash_transformers_layout"):
        size = os.path.getsize(os.path.join(OUT, name, "model.safetensors"))
        print(f"{name}: {size} bytes")
