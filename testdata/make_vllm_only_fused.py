#!/usr/bin/env python3
"""Synthetic fixtures for the "fused" registry group (python3 stdlib only).

Each fixture is a checkpoint layout that vLLM loads but that the transformers fixture
generator (testdata/generate.py) does not produce:

  openai_privacy_filter  the published openai/privacy-filter layout
                         (OpenAIPrivacyFilterForTokenClassification: encoder under model. plus
                         the score head), loaded by vLLM's OpenAIPrivacyFilterForTokenClassification;
                         the generator saves the bare encoder (OpenAIPrivacyFilterModel) instead.
  llama4                 the multimodal Llama4ForConditionalGeneration layout (language_model.*,
                         vision_model.*, multi_modal_projector.*), loaded by vLLM's
                         Llama4ForConditionalGeneration; layer 0 dense, layer 1 MoE
                         (interleave_moe_layer_step 2, as in Llama-4-Maverick).
  inkling_text           the Inkling release ("TML") layout (model.llm.*, attn.wq_du, mlp.w13_dn,
                         experts.w13_weight, shared_experts.shared_w13_weight, ...) with the
                         text-only config vLLM's InklingForCausalLM reads (InklingModelConfig);
                         layer 0 dense (dense_mlp_idx 1), layer 1 MoE.

Tiny sizes: hidden 64, 2 layers, 4 routed experts, BF16 (router bias / scales F32 where the
release keeps them in fp32). Run from anywhere:  python3 testdata/make_vllm_only_fused.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stwriter import Checkpoint  # noqa: E402

OUT = os.path.join(HERE, "vllm_only")

H, L, E, TOPK, VOCAB = 64, 2, 4, 2, 128
HEADS, KV_HEADS, HEAD_DIM = 4, 2, 16


def privacy_filter():
    inter = 32
    ck = Checkpoint(seed=101)
    ck.add("model.embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add("model.norm.weight", "BF16", [H])
    for i in range(L):
        p = f"model.layers.{i}."
        ck.add(p + "input_layernorm.weight", "BF16", [H])
        ck.add(p + "post_attention_layernorm.weight", "BF16", [H])
        for proj, out in (("q", HEADS * HEAD_DIM), ("k", KV_HEADS * HEAD_DIM), ("v", KV_HEADS * HEAD_DIM)):
            ck.add(p + f"self_attn.{proj}_proj.weight", "BF16", [out, H])
            ck.add(p + f"self_attn.{proj}_proj.bias", "BF16", [out])
        ck.add(p + "self_attn.o_proj.weight", "BF16", [H, HEADS * HEAD_DIM])
        ck.add(p + "self_attn.o_proj.bias", "BF16", [H])
        ck.add(p + "self_attn.sinks", "BF16", [HEADS])
        ck.add(p + "mlp.router.weight", "BF16", [E, H])
        ck.add(p + "mlp.router.bias", "BF16", [E])
        # concatenated [gate | up] along the last dim (vLLM interleaves it on load)
        ck.add(p + "mlp.experts.gate_up_proj", "BF16", [E, H, 2 * inter])
        ck.add(p + "mlp.experts.gate_up_proj_bias", "BF16", [E, 2 * inter])
        ck.add(p + "mlp.experts.down_proj", "BF16", [E, inter, H])
        ck.add(p + "mlp.experts.down_proj_bias", "BF16", [E, H])
    labels = ["O"] + [f"{b}-{k}" for k in ("account_number", "private_address", "private_date", "private_email",
                                              "private_person", "private_phone", "private_url", "secret")
                      for b in "BIES"]
    ck.add("score.weight", "BF16", [len(labels), H])
    ck.add("score.bias", "BF16", [len(labels)])
    config = {
        "architectures": ["OpenAIPrivacyFilterForTokenClassification"],
        "model_type": "openai_privacy_filter",
        "attention_bias": True, "head_dim": HEAD_DIM, "hidden_size": H, "intermediate_size": inter,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "num_hidden_layers": L,
        "num_local_experts": E, "num_experts_per_tok": TOPK, "sliding_window": 64,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "vocab_size": VOCAB,
        "rope_parameters": {"rope_type": "yarn", "rope_theta": 150000.0, "factor": 32.0, "beta_fast": 32.0,
                            "beta_slow": 1.0, "truncate": False, "original_max_position_embeddings": 4096},
        "id2label": {str(i): lab for i, lab in enumerate(labels)},
        "label2id": {lab: i for i, lab in enumerate(labels)},
        "tie_word_embeddings": False, "dtype": "bfloat16",
    }
    ck.save(os.path.join(OUT, "openai_privacy_filter"), config)


def llama4():
    inter, inter_mlp = 32, 96
    vh, vlayers, vinter, patch, img = 32, 2, 32, 4, 16
    ck = Checkpoint(seed=102)
    lm = "language_model.model."
    ck.add(lm + "embed_tokens.weight", "BF16", [VOCAB, H])
    ck.add(lm + "norm.weight", "BF16", [H])
    ck.add("language_model.lm_head.weight", "BF16", [VOCAB, H])
    for i in range(L):
        p = f"{lm}layers.{i}."
        ck.add(p + "input_layernorm.weight", "BF16", [H])
        ck.add(p + "post_attention_layernorm.weight", "BF16", [H])
        ck.add(p + "self_attn.q_proj.weight", "BF16", [HEADS * HEAD_DIM, H])
        ck.add(p + "self_attn.k_proj.weight", "BF16", [KV_HEADS * HEAD_DIM, H])
        ck.add(p + "self_attn.v_proj.weight", "BF16", [KV_HEADS * HEAD_DIM, H])
        ck.add(p + "self_attn.o_proj.weight", "BF16", [H, HEADS * HEAD_DIM])
        if (i + 1) % 2 == 0:  # MoE layer
            ck.add(p + "feed_forward.router.weight", "BF16", [E, H])
            ck.add(p + "feed_forward.experts.gate_up_proj", "BF16", [E, H, 2 * inter])
            ck.add(p + "feed_forward.experts.down_proj", "BF16", [E, inter, H])
            ck.add(p + "feed_forward.shared_expert.gate_proj.weight", "BF16", [inter, H])
            ck.add(p + "feed_forward.shared_expert.up_proj.weight", "BF16", [inter, H])
            ck.add(p + "feed_forward.shared_expert.down_proj.weight", "BF16", [H, inter])
        else:  # dense layer, width intermediate_size_mlp
            ck.add(p + "feed_forward.gate_proj.weight", "BF16", [inter_mlp, H])
            ck.add(p + "feed_forward.up_proj.weight", "BF16", [inter_mlp, H])
            ck.add(p + "feed_forward.down_proj.weight", "BF16", [H, inter_mlp])
    v = "vision_model."
    ck.add(v + "patch_embedding.linear.weight", "BF16", [vh, 3 * patch * patch])
    ck.add(v + "class_embedding", "BF16", [vh])
    ck.add(v + "positional_embedding_vlm", "BF16", [(img // patch) ** 2 + 1, vh])
    for n in ("layernorm_pre", "layernorm_post"):
        ck.add(v + n + ".weight", "BF16", [vh])
        ck.add(v + n + ".bias", "BF16", [vh])
    for i in range(vlayers):
        p = f"{v}model.layers.{i}."
        for proj in "qkvo":
            ck.add(p + f"self_attn.{proj}_proj.weight", "BF16", [vh, vh])
            ck.add(p + f"self_attn.{proj}_proj.bias", "BF16", [vh])
        for n in ("input_layernorm", "post_attention_layernorm"):
            ck.add(p + n + ".weight", "BF16", [vh])
            ck.add(p + n + ".bias", "BF16", [vh])
        ck.add(p + "mlp.fc1.weight", "BF16", [vinter, vh])
        ck.add(p + "mlp.fc1.bias", "BF16", [vinter])
        ck.add(p + "mlp.fc2.weight", "BF16", [vh, vinter])
        ck.add(p + "mlp.fc2.bias", "BF16", [vh])
    # pixel shuffle ratio 0.5: projector_input_dim = intermediate_size / 0.25
    ck.add(v + "vision_adapter.mlp.fc1.weight", "BF16", [H, vinter * 4])
    ck.add(v + "vision_adapter.mlp.fc2.weight", "BF16", [H, H])
    ck.add("multi_modal_projector.linear_1.weight", "BF16", [H, H])
    config = {
        "architectures": ["Llama4ForConditionalGeneration"],
        "model_type": "llama4",
        "image_token_index": 120, "boi_token_index": 121, "eoi_token_index": 122, "tie_word_embeddings": False,
        "text_config": {
            "model_type": "llama4_text", "hidden_size": H, "intermediate_size": inter,
            "intermediate_size_mlp": inter_mlp, "num_hidden_layers": L, "num_attention_heads": HEADS,
            "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM, "num_local_experts": E,
            "num_experts_per_tok": 1, "interleave_moe_layer_step": 2, "moe_layers": [1],
            "no_rope_layers": [1, 0], "use_qk_norm": False, "attention_chunk_size": 8192,
            "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "vocab_size": VOCAB,
            "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0},
        },
        "vision_config": {
            "model_type": "llama4_vision_model", "hidden_size": vh, "intermediate_size": vinter,
            "num_hidden_layers": vlayers, "num_attention_heads": 4, "image_size": img, "patch_size": patch,
            "num_channels": 3, "pixel_shuffle_ratio": 0.5, "projector_input_dim": vinter * 4,
            "projector_output_dim": H, "vision_output_dim": H, "multi_modal_projector_bias": False,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000},
        },
    }
    ck.save(os.path.join(OUT, "llama4"), config)


def inkling_text():
    inter, dense_inter, shared = 32, 96, 1
    d_rel, rel_extent, kernel = 16, 64, 4
    ck = Checkpoint(seed=103)
    ck.add("model.llm.embed.weight", "BF16", [VOCAB, H])
    ck.add("model.llm.embed_norm.weight", "BF16", [H])
    ck.add("model.llm.norm.weight", "BF16", [H])
    ck.add("model.llm.unembed.weight", "BF16", [VOCAB, H])
    for i in range(L):
        p = f"model.llm.layers.{i}."
        ck.add(p + "attn_norm.weight", "BF16", [H])
        ck.add(p + "mlp_norm.weight", "BF16", [H])
        ck.add(p + "attn_sconv.weight", "BF16", [H, 1, kernel])
        ck.add(p + "mlp_sconv.weight", "BF16", [H, 1, kernel])
        a = p + "attn."
        ck.add(a + "wq_du.weight", "BF16", [HEADS * HEAD_DIM, H])
        ck.add(a + "wk_dv.weight", "BF16", [KV_HEADS * HEAD_DIM, H])
        ck.add(a + "wv_dv.weight", "BF16", [KV_HEADS * HEAD_DIM, H])
        ck.add(a + "wr_du.weight", "BF16", [HEADS * d_rel, H])
        ck.add(a + "wo_ud.weight", "BF16", [H, HEADS * HEAD_DIM])
        ck.add(a + "q_norm.weight", "BF16", [HEAD_DIM])
        ck.add(a + "k_norm.weight", "BF16", [HEAD_DIM])
        ck.add(a + "k_sconv.weight", "BF16", [KV_HEADS * HEAD_DIM, 1, kernel])
        ck.add(a + "v_sconv.weight", "BF16", [KV_HEADS * HEAD_DIM, 1, kernel])
        ck.add(a + "rel_logits_proj.proj", "BF16", [d_rel, rel_extent])
        m = p + "mlp."
        if i < 1:  # dense_mlp_idx = 1: fused interleaved gate/up, global scale
            ck.add(m + "w13_dn.weight", "BF16", [2 * dense_inter, H])
            ck.add(m + "w2_md.weight", "BF16", [H, dense_inter])
            ck.add(m + "global_scale", "F32", [1])
        else:  # MoE: sigmoid gate over routed + shared sink logits
            ck.add(m + "gate.weight", "BF16", [E + shared, H])
            ck.add(m + "gate.bias", "F32", [E])
            ck.add(m + "gate.global_scale", "F32", [1])
            ck.add(m + "experts.w13_weight", "BF16", [E, 2 * inter, H])  # rows interleaved g0,u0,g1,u1...
            ck.add(m + "experts.w2_weight", "BF16", [E, H, inter])
            ck.add(m + "shared_experts.shared_w13_weight", "BF16", [shared, 2 * inter, H])
            ck.add(m + "shared_experts.shared_w2_weight", "BF16", [shared, H, inter])
    config = {
        "architectures": ["InklingForCausalLM"],
        "model_type": "inkling_model",
        "vocab_size": VOCAB, "padded_vocab_size": VOCAB, "unpadded_vocab_size": VOCAB - 8,
        "hidden_size": H, "intermediate_size": inter, "dense_intermediate_size": dense_inter,
        "num_hidden_layers": L, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM, "d_rel": d_rel, "rel_extent": rel_extent, "local_layer_ids": [0],
        "sliding_window_size": 32, "swa_num_attention_heads": HEADS, "swa_num_key_value_heads": KV_HEADS,
        "swa_head_dim": HEAD_DIM, "rms_norm_eps": 1e-06, "use_embed_norm": True, "use_sconv": True,
        "sconv_kernel_size": kernel, "dense_mlp_idx": 1, "n_routed_experts": E, "n_shared_experts": shared,
        "num_experts_per_tok": TOPK, "route_scale": 8.0, "use_gate_bias": True, "use_global_scale": True,
        "norm_after_topk": True, "gate_activation": "sigmoid", "shared_expert_sink": True,
        "inference_moe_w13_interleaved": True, "logits_mup_width_multiplier": 24.0,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    }
    ck.save(os.path.join(OUT, "inkling_text"), config)


if __name__ == "__main__":
    privacy_filter()
    llama4()
    inkling_text()
    for name in ("openai_privacy_filter", "llama4", "inkling_text"):
        size = os.path.getsize(os.path.join(OUT, name, "model.safetensors"))
        print(f"{name}: {size} bytes")
