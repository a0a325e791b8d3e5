#!/usr/bin/env python3
"""Synthetic fixtures for registry group 1's vLLM-only families (python3 stdlib only).

Each fixture uses the tensor names of the family's published checkpoints (what vLLM's
loader reads) and a config.json shaped like the hub one, shrunk:

  dots1          rednote-hilab/dots.llm1 (Dots1ForCausalLM): DeepSeek-V3-style MoE with
                 q/k norms; layer 0 dense (first_k_dense_replace 1), layer 1 MoE with
                 routed + shared experts and gate.e_score_correction_bias (noaux_tc).
  bailing_moe    inclusionAI Ling 2.0 (BailingMoeV2ForCausalLM, model_type bailing_moe_v2):
                 model.word_embeddings, attention.query_key_value (fused QKV),
                 attention.dense, query/key layernorms, layer 0 dense, layer 1 MoE with
                 gate.expert_bias and shared experts.
  longcat_flash  meituan-longcat/LongCat-Flash (LongcatFlashForCausalLM): two MLA
                 attentions (self_attn.0/1), two dense MLPs (mlps.0/1) and one MoE
                 (mlp.router.classifier + e_score_correction_bias over routed + zero
                 experts, mlp.experts.E.*) per layer; config uses num_layers,
                 ffn_hidden_size, expert_ffn_hidden_size, moe_topk.
  step3_text     the text model of stepfun-ai/step3 (Step3TextForCausalLM): one shared
                 K/V head, self_attn.{q,k,v}_proj + inter_norm + wq, experts stacked per
                 projection (moe.{gate,up,down}_proj.weight [E, ...]), share_expert MLP;
                 MoE layers from the string moe_layers_enum ("1").

Tiny sizes: hidden 64, 2 layers, 4 routed experts, BF16 (router bias F32 where the release
keeps it in fp32). Run from anywhere:  python3 testdata/make_vllm_only_group1.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stwriter import Checkpoint  # noqa: E402

OUT = os.path.join(HERE, "vllm_only")

H, L, E, TOPK, VOCAB = 64, 2, 4, 2, 128
HEADS, KV_HEADS, HEAD_DIM = 4, 2, 16
INTER, MOE_INTER = 96, 32


def mlp(ck, prefix, inter):
    ck.add(prefix + "gate_proj.weight", "BF16", [inter, H])
    ck.add(prefix + "up_proj.weight", "BF16", [inter, H])
    ck.add(prefix + "down_proj.weight", "BF16", [H, inter])


def dots1():
    ck = Checkpoint(seed=201)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    for i in range(L):
        p = f"model.layers.{i}."
        ck.add(p + "input_layernorm.weight", "BF16", [H])
        ck.add(p + "post_attention_layernorm.weight", "BF16", [H])
        for proj, out in (("q", HEADS * HEAD_DIM), ("k", KV_HEADS * HEAD_DIM), ("v", KV_HEADS * HEAD_DIM)):
            ck.add(p + f"self_attn.{proj}_proj.weight", "BF16", [out, H])
        ck.add(p + "self_attn.o_proj.weight", "BF16", [H, HEADS * HEAD_DIM])
        ck.add(p + "self_attn.q_norm.weight", "BF16", [HEAD_DIM])
        ck.add(p + "self_attn.k_norm.weight", "BF16", [HEAD_DIM])
        if i == 0:
            mlp(ck, p + "mlp.", INTER)
            continue
        ck.add(p + "mlp.gate.weight", "BF16", [E, H])
        ck.add(p + "mlp.gate.e_score_correction_bias", "F32", [E])
        for e in range(E):
            mlp(ck, p + f"mlp.experts.{e}.", MOE_INTER)
        mlp(ck, p + "mlp.shared_experts.", 2 * MOE_INTER)
    config = {
        "architectures": ["Dots1ForCausalLM"], "model_type": "dots1",
        "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": None, "eos_token_id": 2,
        "first_k_dense_replace": 1, "head_dim": HEAD_DIM, "hidden_act": "silu", "hidden_size": H,
        "initializer_range": 0.02, "intermediate_size": INTER, "max_position_embeddings": 256,
        "max_window_layers": L, "moe_intermediate_size": MOE_INTER, "moe_layer_freq": 1, "n_group": 1,
        "n_routed_experts": E, "n_shared_experts": 2, "norm_topk_prob": True, "num_attention_heads": HEADS,
        "num_experts_per_tok": TOPK, "num_hidden_layers": L, "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000000, "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid", "sliding_window": None, "tie_word_embeddings": False, "topk_group": 1,
        "topk_method": "noaux_tc", "torch_dtype": "bfloat16", "use_cache": True, "use_sliding_window": False,
        "vocab_size": VOCAB,
    }
    ck.save(os.path.join(OUT, "dots1"), config)


def bailing_moe():
    ck = Checkpoint(seed=202)
    ck.add("model.word_embeddings.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    for i in range(L):
        p = f"model.layers.{i}."
        ck.add(p + "input_layernorm.weight", "BF16", [H])
        ck.add(p + "post_attention_layernorm.weight", "BF16", [H])
        ck.add(p + "attention.query_key_value.weight", "BF16", [(HEADS + 2 * KV_HEADS) * HEAD_DIM, H])
        ck.add(p + "attention.dense.weight", "BF16", [H, HEADS * HEAD_DIM])
        ck.add(p + "attention.query_layernorm.weight", "BF16", [HEAD_DIM])
        ck.add(p + "attention.key_layernorm.weight", "BF16", [HEAD_DIM])
        if i == 0:
            mlp(ck, p + "mlp.", INTER)
            continue
        ck.add(p + "mlp.gate.weight", "BF16", [E, H])
        ck.add(p + "mlp.gate.expert_bias", "F32", [E])
        for e in range(E):
            mlp(ck, p + f"mlp.experts.{e}.", MOE_INTER)
        mlp(ck, p + "mlp.shared_experts.", MOE_INTER)
    config = {
        "architectures": ["BailingMoeV2ForCausalLM"], "model_type": "bailing_moe_v2",
        "embedding_dropout": 0.0, "eos_token_id": 2, "first_k_dense_replace": 1, "head_dim": HEAD_DIM,
        "hidden_act": "silu", "hidden_size": H, "initializer_range": 0.006, "intermediate_size": INTER,
        "max_position_embeddings": 256, "max_window_layers": L, "moe_intermediate_size": MOE_INTER,
        "moe_router_enable_expert_bias": True, "moe_shared_expert_intermediate_size": MOE_INTER,
        "n_group": 1, "norm_head": False, "norm_softmax": False, "norm_topk_prob": True,
        "num_attention_heads": HEADS, "num_experts": E, "num_experts_per_tok": TOPK, "num_hidden_layers": L,
        "num_key_value_heads": KV_HEADS, "num_nextn_predict_layers": 0, "num_shared_experts": 1,
        "output_dropout": 0.0, "pad_token_id": 0, "partial_rotary_factor": 0.5, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 10000, "routed_scaling_factor": 2.5, "router_dtype": "fp32",
        "score_function": "sigmoid", "tie_word_embeddings": False, "topk_group": 1, "torch_dtype": "bfloat16",
        "use_bias": False, "use_cache": True, "use_qk_norm": True, "use_qkv_bias": False, "use_rmsnorm": True,
        "vocab_size": VOCAB,
    }
    ck.save(os.path.join(OUT, "bailing_moe"), config)


def longcat_flash_checkpoint():
    """The hub layout's tensors and config (also the base of the transformers-layout variant in
    make_vllm_only_families.py)."""
    q_lora, kv_lora, nope, rope, v_dim = 32, 16, 16, 8, 16
    zero_experts = 2
    ck = Checkpoint(seed=203)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    for i in range(L):
        p = f"model.layers.{i}."
        for j in range(2):
            a = p + f"self_attn.{j}."
            ck.add(p + f"input_layernorm.{j}.weight", "BF16", [H])
            ck.add(p + f"post_attention_layernorm.{j}.weight", "BF16", [H])
            ck.add(a + "q_a_proj.weight", "BF16", [q_lora, H])
            ck.add(a + "q_a_layernorm.weight", "BF16", [q_lora])
            ck.add(a + "q_b_proj.weight", "BF16", [HEADS * (nope + rope), q_lora])
            ck.add(a + "kv_a_proj_with_mqa.weight", "BF16", [kv_lora + rope, H])
            ck.add(a + "kv_a_layernorm.weight", "BF16", [kv_lora])
            ck.add(a + "kv_b_proj.weight", "BF16", [HEADS * (nope + v_dim), kv_lora])
            ck.add(a + "o_proj.weight", "BF16", [H, HEADS * v_dim])
            mlp(ck, p + f"mlps.{j}.", INTER)
        ck.add(p + "mlp.router.classifier.weight", "F32", [E + zero_experts, H])
        ck.add(p + "mlp.router.e_score_correction_bias", "F32", [E + zero_experts])
        for e in range(E):
            mlp(ck, p + f"mlp.experts.{e}.", MOE_INTER)
    config = {
        "architectures": ["LongcatFlashForCausalLM"], "model_type": "longcat_flash",
        "attention_method": "MLA", "bos_token_id": 1, "eos_token_id": 2, "expert_ffn_hidden_size": MOE_INTER,
        "ffn_hidden_size": INTER, "hidden_size": H, "kv_lora_rank": kv_lora, "max_position_embeddings": 256,
        "mla_scale_kv_lora": True, "mla_scale_q_lora": True, "moe_topk": TOPK, "n_routed_experts": E,
        "norm_topk_prob": False, "num_attention_heads": HEADS, "num_layers": L, "q_lora_rank": q_lora,
        "qk_nope_head_dim": nope, "qk_rope_head_dim": rope, "rms_norm_eps": 1e-05, "rope_theta": 10000000.0,
        "routed_scaling_factor": 6.0, "router_bias": False, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "v_head_dim": v_dim, "vocab_size": VOCAB, "zero_expert_num": zero_experts, "zero_expert_type": "identity",
    }
    return ck, config


def longcat_flash():
    ck, config = longcat_flash_checkpoint()
    ck.save(os.path.join(OUT, "longcat_flash"), config)


def step3_text():
    share_q, share_dim = 32, 32
    ck = Checkpoint(seed=204)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    ck.add("lm_head.weight", "BF16", [VOCAB, H])
    for i in range(L):
        p = f"model.layers.{i}."
        ck.add(p + "input_layernorm.weight", "BF16", [H])
        ck.add(p + "post_attention_layernorm.weight", "BF16", [H])
        ck.add(p + "self_attn.q_proj.weight", "BF16", [share_q, H])
        ck.add(p + "self_attn.k_proj.weight", "BF16", [HEAD_DIM, H])
        ck.add(p + "self_attn.v_proj.weight", "BF16", [HEAD_DIM, H])
        ck.add(p + "self_attn.inter_norm.weight", "BF16", [share_q])
        ck.add(p + "self_attn.wq.weight", "BF16", [HEADS * HEAD_DIM, share_q])
        ck.add(p + "self_attn.o_proj.weight", "BF16", [H, HEADS * HEAD_DIM])
        if i == 0:
            mlp(ck, p + "mlp.", INTER)
            continue
        ck.add(p + "moe.gate.weight", "BF16", [E, H])
        ck.add(p + "moe.gate_proj.weight", "BF16", [E, MOE_INTER, H])
        ck.add(p + "moe.up_proj.weight", "BF16", [E, MOE_INTER, H])
        ck.add(p + "moe.down_proj.weight", "BF16", [E, H, MOE_INTER])
        mlp(ck, p + "share_expert.", share_dim)
    config = {
        "architectures": ["Step3TextForCausalLM"], "model_type": "step3_text",
        "head_dim": HEAD_DIM, "hidden_size": H, "intermediate_size": INTER, "max_position_embedding": 256,
        "max_seq_len": 256, "moe_intermediate_size": MOE_INTER, "moe_layers_enum": "1", "moe_num_experts": E,
        "moe_top_k": TOPK, "norm_expert_weight": False, "num_attention_groups": 1, "num_attention_heads": HEADS,
        "num_hidden_layers": L, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 500000,
        "share_expert_dim": share_dim, "share_q_dim": share_q, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "vocab_size": VOCAB,
    }
    ck.save(os.path.join(OUT, "step3_text"), config)


if __name__ == "__main__":
    dots1()
    bailing_moe()
    longcat_flash()
    step3_text()
    for name in ("dots1", "bailing_moe", "longcat_flash", "step3_text"):
        size = os.path.getsize(os.path.join(OUT, name, "model.safetensors"))
        print(f"{name}: {size} bytes")
