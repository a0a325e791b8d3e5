#!/usr/bin/env python3
"""Builds the multimodal-wrapper fixtures that the reference environment could not save here,
from the language-model fixtures transformers saved (testdata/models/*) and the names the
released wrapper checkpoints use, in plain Python (no torch):

    python3 testdata/make_composite_wrappers.py [OUTDIR]      (default: testdata/composite)

Each wrapper gets OUTDIR/<name>/ (language model under the release's prefix, a few tower
tensors under the release's tower names, config.json nesting the text model's config as the
release does) and OUTDIR/<name>_lm_only/ (the same without the towers: a text-only release
under the wrapper's names). The language-model tensors keep the saved fixture's bytes.

- glm4v_moe: GLM-4.5V (zai-org/GLM-4.5V, Glm4vMoeForConditionalGeneration). The release stores
  experts per expert (model.language_model.layers.N.mlp.experts.E.{gate,up,down}_proj.weight);
  transformers 5 saved testdata/models/glm4v_moe_text fused, so its gate_up_proj [E, 2I, H]
  (gate rows, then up rows) and down_proj [E, H, I] are split per expert here. Tower names
  are those of transformers' Glm4vMoe vision model (model.visual.*).
- kimi_k25: Kimi-K2.5 (moonshotai/Kimi-K2.5, KimiK25ForConditionalGeneration, remote code):
  DeepSeek-V3 text model under language_model.model.* / language_model.lm_head.weight, the
  MoonViT tower under vision_tower.* and the projector under mm_projector.* (names as in the
  release's index: vision_tower.patch_embed.proj.weight, vision_tower.encoder.blocks.N.wqkv,
  mm_projector.pre_norm, mm_projector.proj.0 / proj.2); text_config model_type kimi_k2.
- kimi_vl: Kimi-VL-A3B (moonshotai/Kimi-VL-A3B-Instruct, KimiVLForConditionalGeneration, remote
  code): the same DeepSeek-V3 text model under language_model.*, the MoonViT tower under
  vision_tower.* and the projector under multi_modal_projector.* (pre_norm, linear_1, linear_2).
- deepseek_ocr2: DeepSeek-OCR-2 (deepseek-ai/DeepSeek-OCR-2, DeepseekOCR2ForCausalLM,
  model_type deepseek_vl_v2, remote code): a DeepSeek-V2 language model in plain multi-head
  attention at model.layers.* / model.embed_tokens / model.norm / lm_head, its config under
  language_config; towers model.sam_model.*, model.qwen2_model.* (a Qwen2 decoder used as an
  encoder: model.qwen2_model.model.model.layers.N.*), model.projector.*, model.view_seperator.
  The language model is synthesized from the names (no transformers fixture of it exists).
- gemma4: Gemma 4 MoE (google/gemma-4-26B-A4B-it, Gemma4ForConditionalGeneration): the text
  model under model.language_model.* with fused experts (layers.N.experts.gate_up_proj
  [E, 2I, H], experts.down_proj [E, H, I]), the router (router.proj.weight, router.scale,
  router.per_expert_scale), the dense MLP every layer also runs, the extra feed-forward norms
  and layer_scalar; towers model.vision_tower.* and model.embed_vision.*; tied embeddings (no
  lm_head). Synthesized from the names (the transformers gemma4_text fixture is pending).
- ernie4_5_vl_moe: ERNIE-4.5-VL MoE (baidu/ERNIE-4.5-VL-28B-A3B-PT,
  Ernie4_5_VLMoeForConditionalGeneration, remote code, model_type ernie4_5_moe_vl, one flat
  config with [text, vision] lists). Language model at model.* (no lm_head: tied embeddings):
  one expert list per MoE layer, model.layers.N.mlp.experts.E.{gate,up,down}_proj.weight, the
  text experts first (E < moe_num_experts[0], moe_intermediate_size[0] wide), then the vision
  experts (moe_intermediate_size[1] wide); routers mlp.gate.weight and mlp.gate.weight_1
  ([hidden, experts], as load_weights transposes them), mlp.moe_statics.e_score_correction_bias
  [2, experts], mlp.shared_experts.*, a dense layer 0. Towers vision_model.* and
  model.resampler_model.*. Names from vLLM's ernie45_vl_moe.py / ernie45_vl.py (load_weights,
  module names) and transformers' conversion_mapping.py entry ernie4_5_vl_moe (the release's
  names on its source side); config keys those vLLM reads. Synthesized from the names.
- qwen3_omni_moe: Qwen3-Omni-MoE (Qwen/Qwen3-Omni-30B-A3B-Instruct,
  Qwen3OmniMoeForConditionalGeneration): the transformers-saved qwen3_moe under thinker.*
  (thinker.model.*, thinker.lm_head.weight; per-expert experts as the release stores them),
  the towers thinker.audio_tower.* and thinker.visual.*, and talker.* / code2wav.* (which
  vLLM's thinker class skips); text config at thinker_config.text_config (model_type
  qwen3_omni_moe_text, num_experts as the release spells it). Tower, talker and code2wav names
  from the release's model.safetensors.index.json (thinker.audio_tower.*, thinker.visual.*,
  talker.model.*, talker.code_predictor.*, code2wav.*); the prefixes are those vLLM's
  qwen3_omni_moe_thinker.py maps (thinker.model., thinker.lm_head., thinker.) and skips
  (talker., code2wav.).
"""
import copy
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stwriter import DTYPE_BYTES, Checkpoint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        out[name] = (h["dtype"], h["shape"], data[a:b])
    return out


def read_fixture(name):
    d = os.path.join(HERE, "models", name)
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f), read_st(os.path.join(d, "model.safetensors"))


def rows(dtype, shape, data, start, count):
    """Rows start..start+count of the first dimension of a row-major tensor."""
    per = DTYPE_BYTES[dtype]
    for d in shape[1:]:
        per *= d
    return data[start * per:(start + count) * per]


def save_pair(out, name, config, lm, towers, seed):
    full = Checkpoint(seed=seed)
    lm_only = Checkpoint(seed=seed)
    for k, (dt, shape, data) in sorted(lm.items()):
        full.add(k, dt, shape, data)
        lm_only.add(k, dt, shape, data)
    for k, dt, shape in towers:
        full.add(k, dt, shape)
    full.save(os.path.join(out, name), config=config)
    lm_only.save(os.path.join(out, name + "_lm_only"), config=config)


def glm4v_moe(out):
    text_cfg, ts = read_fixture("glm4v_moe_text")
    lm = {}
    for k, (dt, shape, data) in ts.items():
        if k.endswith("mlp.experts.gate_up_proj"):  # [E, 2I, H] -> per expert gate [I, H], up [I, H]
            E, two_i, H = shape
            i = two_i // 2
            for e in range(E):
                blob = rows(dt, shape, data, e, 1)
                half = len(blob) // 2
                base = "model.language_model." + k[: -len("gate_up_proj")] + f"{e}."
                lm[base + "gate_proj.weight"] = (dt, [i, H], blob[:half])
                lm[base + "up_proj.weight"] = (dt, [i, H], blob[half:])
        elif k.endswith("mlp.experts.down_proj"):  # [E, H, I] -> per expert [H, I]
            E, H, i = shape
            for e in range(E):
                base = "model.language_model." + k[: -len("down_proj")] + f"{e}."
                lm[base + "down_proj.weight"] = (dt, [H, i], rows(dt, shape, data, e, 1))
        else:
            lm["model.language_model." + k] = (dt, shape, data)
    H, V = text_cfg["hidden_size"], text_cfg["vocab_size"]
    lm["lm_head.weight"] = ("BF16", [V, H], Checkpoint(seed=7)._bytes("BF16", V * H))
    text = {k: v for k, v in text_cfg.items() if k not in ("architectures", "transformers_version")}
    vis = 16
    config = {"architectures": ["Glm4vMoeForConditionalGeneration"], "model_type": "glm4v_moe",
              "image_token_id": 151363, "video_token_id": 151364, "image_start_token_id": 151339,
              "image_end_token_id": 151340, "video_start_token_id": 151341, "video_end_token_id": 151342,
              "tie_word_embeddings": False, "transformers_version": text_cfg.get("transformers_version"),
              "text_config": text,
              "vision_config": {"model_type": "glm4v_moe_vision", "depth": 1, "hidden_size": vis, "intermediate_size": H,
                                "num_heads": 2, "out_hidden_size": H, "patch_size": 2, "spatial_merge_size": 2,
                                "temporal_patch_size": 2, "in_channels": 3, "image_size": 336}}
    towers = [("model.visual.patch_embed.proj.weight", "BF16", [vis, 3, 2, 2, 2]),
              ("model.visual.patch_embed.proj.bias", "BF16", [vis]),
              ("model.visual.post_conv_layernorm.weight", "BF16", [vis]),
              ("model.visual.embeddings.position_embedding.weight", "BF16", [16, vis]),
              ("model.visual.blocks.0.norm1.weight", "BF16", [vis]),
              ("model.visual.blocks.0.norm2.weight", "BF16", [vis]),
              ("model.visual.blocks.0.attn.qkv.weight", "BF16", [3 * vis, vis]),
              ("model.visual.blocks.0.attn.proj.weight", "BF16", [vis, vis]),
              ("model.visual.blocks.0.mlp.gate_proj.weight", "BF16", [H, vis]),
              ("model.visual.blocks.0.mlp.up_proj.weight", "BF16", [H, vis]),
              ("model.visual.blocks.0.mlp.down_proj.weight", "BF16", [vis, H]),
              ("model.visual.post_layernorm.weight", "BF16", [vis]),
              ("model.visual.downsample.weight", "BF16", [H, vis, 2, 2]),
              ("model.visual.downsample.bias", "BF16", [H]),
              ("model.visual.merger.proj.weight", "BF16", [H, H]),
              ("model.visual.merger.post_projection_norm.weight", "BF16", [H]),
              ("model.visual.merger.post_projection_norm.bias", "BF16", [H]),
              ("model.visual.merger.gate_proj.weight", "BF16", [H, H]),
              ("model.visual.merger.up_proj.weight", "BF16", [H, H]),
              ("model.visual.merger.down_proj.weight", "BF16", [H, H])]
    save_pair(out, "glm4v_moe", config, lm, towers, seed=11)


def kimi_k25(out):
    text_cfg, ts = read_fixture("deepseek_v3")
    lm = {}
    for k, v in ts.items():
        lm[("language_model." + k)] = v  # model.* -> language_model.model.*, lm_head -> language_model.lm_head
    text = dict(text_cfg)
    text["model_type"] = "kimi_k2"
    text.pop("transformers_version", None)
    H, vis = text_cfg["hidden_size"], 16
    config = {"architectures": ["KimiK25ForConditionalGeneration"], "model_type": "kimi_k25",
              "auto_map": {"AutoConfig": "configuration_kimi_k25.KimiK25Config",
                           "AutoModel": "modeling_kimi_k25.KimiK25ForConditionalGeneration",
                           "AutoModelForCausalLM": "modeling_kimi_k25.KimiK25ForConditionalGeneration"},
              "media_placeholder_token_id": 163605, "use_unified_vision_chunk": True,
              "text_config": text,
              "vision_config": {"patch_size": 2, "init_pos_emb_height": 8, "init_pos_emb_width": 8, "init_pos_emb_time": 4,
                                "num_attention_heads": 2, "num_hidden_layers": 1, "hidden_size": vis, "intermediate_size": 64,
                                "merge_kernel_size": [2, 2], "mm_projector_type": "patchmerger", "mm_hidden_size": vis,
                                "text_hidden_size": H}}
    towers = [("vision_tower.patch_embed.proj.weight", "BF16", [vis, 3, 2, 2]),
              ("vision_tower.patch_embed.proj.bias", "BF16", [vis]),
              ("vision_tower.patch_embed.pos_emb.weight", "BF16", [8, 8, vis]),
              ("vision_tower.encoder.blocks.0.norm0.weight", "BF16", [vis]),
              ("vision_tower.encoder.blocks.0.norm1.weight", "BF16", [vis]),
              ("vision_tower.encoder.blocks.0.wqkv.weight", "BF16", [3 * vis, vis]),
              ("vision_tower.encoder.blocks.0.wqkv.bias", "BF16", [3 * vis]),
              ("vision_tower.encoder.blocks.0.wo.weight", "BF16", [vis, vis]),
              ("vision_tower.encoder.blocks.0.mlp.fc0.weight", "BF16", [64, vis]),
              ("vision_tower.encoder.blocks.0.mlp.fc1.weight", "BF16", [vis, 64]),
              ("vision_tower.encoder.final_layernorm.weight", "BF16", [vis]),
              ("mm_projector.pre_norm.weight", "BF16", [vis]),
              ("mm_projector.pre_norm.bias", "BF16", [vis]),
              ("mm_projector.proj.0.weight", "BF16", [4 * vis, 4 * vis]),
              ("mm_projector.proj.0.bias", "BF16", [4 * vis]),
              ("mm_projector.proj.2.weight", "BF16", [H, 4 * vis]),
              ("mm_projector.proj.2.bias", "BF16", [H])]
    save_pair(out, "kimi_k25", config, lm, towers, seed=12)


def kimi_vl(out):
    text_cfg, ts = read_fixture("deepseek_v3")
    lm = {"language_model." + k: v for k, v in ts.items()}
    text = {k: v for k, v in text_cfg.items() if k != "transformers_version"}
    H, vis = text_cfg["hidden_size"], 16
    config = {"architectures": ["KimiVLForConditionalGeneration"], "model_type": "kimi_vl",
              "auto_map": {"AutoConfig": "configuration_kimi_vl.KimiVLConfig",
                           "AutoModel": "modeling_kimi_vl.KimiVLForConditionalGeneration",
                           "AutoModelForCausalLM": "modeling_kimi_vl.KimiVLForConditionalGeneration"},
              "media_placeholder_token_id": 163605, "ignore_index": -100, "text_config": text,
              "vision_config": {"model_type": "moonvit", "patch_size": 2, "init_pos_emb_height": 8, "init_pos_emb_width": 8,
                                "num_attention_heads": 2, "num_hidden_layers": 1, "hidden_size": vis,
                                "intermediate_size": 32, "merge_kernel_size": [2, 2]}}
    towers = [("vision_tower.patch_embed.proj.weight", "BF16", [vis, 3, 2, 2]),
              ("vision_tower.patch_embed.pos_emb.weight", "BF16", [8, 8, vis]),
              ("vision_tower.encoder.blocks.0.wqkv.weight", "BF16", [3 * vis, vis]),
              ("vision_tower.encoder.blocks.0.wo.weight", "BF16", [vis, vis]),
              ("vision_tower.encoder.final_layernorm.weight", "BF16", [vis]),
              ("multi_modal_projector.pre_norm.weight", "BF16", [vis]),
              ("multi_modal_projector.linear_1.weight", "BF16", [4 * vis, 4 * vis]),
              ("multi_modal_projector.linear_2.weight", "BF16", [H, 4 * vis])]
    save_pair(out, "kimi_vl", config, lm, towers, seed=17)


def deepseek_ocr2(out):
    # Tiny DeepSeek-V2 MHA text model: layer 0 dense, layer 1 MoE (first_k_dense_replace 1).
    H, V, I, MI, E, heads, hd = 64, 128, 96, 32, 4, 4, 16
    lang = {"architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2", "hidden_size": H,
            "intermediate_size": I, "moe_intermediate_size": MI, "n_routed_experts": E, "n_shared_experts": 1,
            "num_experts_per_tok": 2, "first_k_dense_replace": 1, "moe_layer_freq": 1, "num_hidden_layers": 2,
            "num_attention_heads": heads, "num_key_value_heads": heads, "kv_lora_rank": None, "q_lora_rank": None,
            "qk_nope_head_dim": 0, "qk_rope_head_dim": 0, "v_head_dim": 0, "use_mla": False, "vocab_size": V,
            "topk_method": "greedy", "n_group": 1, "topk_group": 1, "norm_topk_prob": False,
            "routed_scaling_factor": 1.0, "scoring_func": "softmax", "rms_norm_eps": 1e-6, "bos_token_id": 0,
            "eos_token_id": 1, "torch_dtype": "bfloat16", "max_position_embeddings": 256, "tie_word_embeddings": False}
    config = {"architectures": ["DeepseekOCR2ForCausalLM"], "model_type": "deepseek_vl_v2",
              "auto_map": {"AutoConfig": "modeling_deepseekocr2.DeepseekOCR2Config",
                           "AutoModel": "modeling_deepseekocr2.DeepseekOCR2ForCausalLM"},
              "candidate_resolutions": [[1024, 1024]], "global_view_pos": "head", "tile_tag": "2D",
              "language_config": lang,
              "projector_config": {"model_type": "mlp_projector", "projector_type": "linear", "input_dim": 32, "n_embed": H},
              "vision_config": {"model_type": "vision", "image_size": 1024, "width": {"sam_vit_b": {"width": 32}}},
              "torch_dtype": "bfloat16"}
    gen = Checkpoint(seed=13)
    lm = {}

    def put(name, shape, dtype="BF16"):
        n = 1
        for d in shape:
            n *= d
        lm[name] = (dtype, shape, gen._bytes(dtype, n))

    put("model.embed_tokens.weight", [V, H])
    put("model.norm.weight", [H])
    put("lm_head.weight", [V, H])
    for L in range(2):
        p = f"model.layers.{L}."
        put(p + "input_layernorm.weight", [H])
        put(p + "post_attention_layernorm.weight", [H])
        for proj in ("q", "k", "v", "o"):
            put(p + f"self_attn.{proj}_proj.weight", [heads * hd, H] if proj != "o" else [H, heads * hd])
        if L == 0:
            put(p + "mlp.gate_proj.weight", [I, H])
            put(p + "mlp.up_proj.weight", [I, H])
            put(p + "mlp.down_proj.weight", [H, I])
            continue
        put(p + "mlp.gate.weight", [E, H])
        for e in range(E):
            put(p + f"mlp.experts.{e}.gate_proj.weight", [MI, H])
            put(p + f"mlp.experts.{e}.up_proj.weight", [MI, H])
            put(p + f"mlp.experts.{e}.down_proj.weight", [H, MI])
        put(p + "mlp.shared_experts.gate_proj.weight", [MI, H])
        put(p + "mlp.shared_experts.up_proj.weight", [MI, H])
        put(p + "mlp.shared_experts.down_proj.weight", [H, MI])
    q = 16
    towers = [("model.sam_model.patch_embed.proj.weight", "BF16", [q, 3, 2, 2]),
              ("model.sam_model.pos_embed", "BF16", [1, 4, 4, q]),
              ("model.sam_model.blocks.0.attn.qkv.weight", "BF16", [3 * q, q]),
              ("model.sam_model.neck.0.weight", "BF16", [q, q, 1, 1]),
              ("model.sam_model.net_2.weight", "BF16", [q, q, 1, 1]),
              ("model.sam_model.net_3.weight", "BF16", [q, q, 1, 1]),
              ("model.qwen2_model.model.model.layers.0.self_attn.q_proj.weight", "BF16", [q, q]),
              ("model.qwen2_model.model.model.layers.0.self_attn.k_proj.weight", "BF16", [q // 2, q]),
              ("model.qwen2_model.model.model.layers.0.input_layernorm.weight", "BF16", [q]),
              ("model.qwen2_model.model.model.norm.weight", "BF16", [q]),
              ("model.qwen2_model.query_768", "BF16", [16, q]),
              ("model.qwen2_model.query_1024.weight", "BF16", [16, q]),
              ("model.projector.layers.weight", "BF16", [H, q]),
              ("model.view_seperator", "BF16", [H])]
    save_pair(out, "deepseek_ocr2", config, lm, towers, seed=14)


def synth(seed):
    gen = Checkpoint(seed=seed)
    lm = {}

    def put(name, shape, dtype="BF16"):
        n = 1
        for d in shape:
            n *= d
        lm[name] = (dtype, list(shape), gen._bytes(dtype, n))
    return lm, put


def gemma4(out):
    H, V, I, MI, E, heads, kv, hd = 64, 128, 96, 32, 4, 4, 2, 16
    text = {"model_type": "gemma4_text", "hidden_size": H, "intermediate_size": I, "moe_intermediate_size": MI,
            "num_experts": E, "top_k_experts": 2, "enable_moe_block": True, "num_hidden_layers": 2,
            "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": hd, "global_head_dim": hd,
            "layer_types": ["sliding_attention", "full_attention"], "sliding_window": 64, "vocab_size": V,
            "vocab_size_per_layer_input": V, "hidden_size_per_layer_input": 0, "num_kv_shared_layers": 0,
            "attention_k_eq_v": False, "final_logit_softcapping": 30.0, "rms_norm_eps": 1e-6,
            "max_position_embeddings": 256, "tie_word_embeddings": True, "dtype": "bfloat16"}
    config = {"architectures": ["Gemma4ForConditionalGeneration"], "model_type": "gemma4", "text_config": text,
              "vision_config": {"model_type": "gemma4_vision", "hidden_size": 32, "intermediate_size": 64,
                                "num_hidden_layers": 1, "num_attention_heads": 2, "head_dim": 8, "patch_size": 2},
              "image_token_id": 258880, "boi_token_id": 255999, "eoi_token_id": 258882, "tie_word_embeddings": True,
              "dtype": "bfloat16"}
    lm, put = synth(15)
    p = "model.language_model."
    put(p + "embed_tokens.weight", [V, H])
    put(p + "norm.weight", [H])
    for L in range(2):
        q = f"{p}layers.{L}."
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm",
                  "post_feedforward_layernorm_1", "post_feedforward_layernorm_2", "pre_feedforward_layernorm_2"):
            put(q + n + ".weight", [H])
        put(q + "self_attn.q_proj.weight", [heads * hd, H])
        put(q + "self_attn.k_proj.weight", [kv * hd, H])
        put(q + "self_attn.v_proj.weight", [kv * hd, H])
        put(q + "self_attn.o_proj.weight", [H, heads * hd])
        put(q + "self_attn.q_norm.weight", [hd])
        put(q + "self_attn.k_norm.weight", [hd])
        put(q + "mlp.gate_proj.weight", [I, H])
        put(q + "mlp.up_proj.weight", [I, H])
        put(q + "mlp.down_proj.weight", [H, I])
        put(q + "router.proj.weight", [E, H])
        put(q + "router.scale", [H])
        put(q + "router.per_expert_scale", [E])
        put(q + "experts.gate_up_proj", [E, 2 * MI, H])
        put(q + "experts.down_proj", [E, H, MI])
        put(q + "layer_scalar", [1])
    v = 16
    towers = [("model.vision_tower.patch_embedder.input_proj.weight", "BF16", [v, 3 * 2 * 2]),
              ("model.vision_tower.patch_embedder.position_embedding_table", "BF16", [2, 4, v]),
              ("model.vision_tower.encoder.layers.0.self_attn.q_proj.linear.weight", "BF16", [v, v]),
              ("model.vision_tower.encoder.layers.0.self_attn.o_proj.linear.weight", "BF16", [v, v]),
              ("model.vision_tower.encoder.layers.0.mlp.gate_proj.linear.weight", "BF16", [64, v]),
              ("model.vision_tower.encoder.layers.0.input_layernorm.weight", "BF16", [v]),
              ("model.embed_vision.embedding_projection.weight", "BF16", [H, v])]
    save_pair(out, "gemma4", config, lm, towers, seed=16)


def ernie4_5_vl_moe(out):
    # Layer 0 dense, layers 1-2 MoE (start [1, 1]; ends past the last layer, as the release's
    # [29, 28] for 28 layers); 4 text + 4 vision experts.
    H, V, I, heads, kv, hd, L = 64, 128, 96, 4, 2, 16, 3
    E, TI, VI, shared = 4, 32, 16, 2
    vis, pix = 16, 16
    config = {"architectures": ["Ernie4_5_VLMoeForConditionalGeneration"], "model_type": "ernie4_5_moe_vl",
              "hidden_size": H, "intermediate_size": I, "hidden_act": "silu", "num_hidden_layers": L,
              "num_attention_heads": heads, "num_key_value_heads": kv, "vocab_size": V, "max_position_embeddings": 256,
              "rms_norm_eps": 1e-5, "rope_theta": 500000, "freq_allocation": 4, "use_bias": False,
              "tie_word_embeddings": True, "moe_num_experts": [E, E], "moe_intermediate_size": [TI, VI], "moe_k": 2,
              "moe_layer_start_index": [1, 1], "moe_layer_end_index": [L + 1, L], "moe_layer_interval": 1,
              "moe_num_shared_experts": shared, "im_patch_id": 100295, "pixel_hidden_size": pix,
              "spatial_conv_size": 2, "temporal_conv_size": 2, "pad_token_id": 0, "torch_dtype": "bfloat16",
              "vision_config": {"depth": 1, "embed_dim": vis, "hidden_size": vis, "num_heads": 2, "mlp_ratio": 4,
                                "patch_size": 2, "spatial_merge_size": 2, "in_channels": 3, "hidden_act": "quick_gelu"}}
    lm, put = synth(18)
    put("model.embed_tokens.weight", [V, H])
    put("model.norm.weight", [H])
    for n in range(L):
        p = f"model.layers.{n}."
        put(p + "input_layernorm.weight", [H])
        put(p + "post_attention_layernorm.weight", [H])
        put(p + "self_attn.q_proj.weight", [heads * hd, H])
        put(p + "self_attn.k_proj.weight", [kv * hd, H])
        put(p + "self_attn.v_proj.weight", [kv * hd, H])
        put(p + "self_attn.o_proj.weight", [H, heads * hd])
        if n == 0:
            put(p + "mlp.gate_proj.weight", [I, H])
            put(p + "mlp.up_proj.weight", [I, H])
            put(p + "mlp.down_proj.weight", [H, I])
            continue
        put(p + "mlp.gate.weight", [H, E], "F32")
        put(p + "mlp.gate.weight_1", [H, E], "F32")
        put(p + "mlp.moe_statics.e_score_correction_bias", [2, E], "F32")
        for e in range(2 * E):
            w = TI if e < E else VI
            put(p + f"mlp.experts.{e}.gate_proj.weight", [w, H])
            put(p + f"mlp.experts.{e}.up_proj.weight", [w, H])
            put(p + f"mlp.experts.{e}.down_proj.weight", [H, w])
        put(p + "mlp.shared_experts.gate_proj.weight", [TI * shared, H])
        put(p + "mlp.shared_experts.up_proj.weight", [TI * shared, H])
        put(p + "mlp.shared_experts.down_proj.weight", [H, TI * shared])
    sd = pix * 4  # the resampler's spatial_dim: pixel_hidden_size * spatial_conv_size ** 2
    towers = [("vision_model.patch_embed.proj.weight", "BF16", [vis, 3 * 2 * 2]),
              ("vision_model.blocks.0.norm1.weight", "BF16", [vis]),
              ("vision_model.blocks.0.norm1.bias", "BF16", [vis]),
              ("vision_model.blocks.0.norm2.weight", "BF16", [vis]),
              ("vision_model.blocks.0.norm2.bias", "BF16", [vis]),
              ("vision_model.blocks.0.attn.qkv.weight", "BF16", [3 * vis, vis]),
              ("vision_model.blocks.0.attn.qkv.bias", "BF16", [3 * vis]),
              ("vision_model.blocks.0.attn.proj.weight", "BF16", [vis, vis]),
              ("vision_model.blocks.0.attn.proj.bias", "BF16", [vis]),
              ("vision_model.blocks.0.mlp.fc1.weight", "BF16", [4 * vis, vis]),
              ("vision_model.blocks.0.mlp.fc1.bias", "BF16", [4 * vis]),
              ("vision_model.blocks.0.mlp.fc2.weight", "BF16", [vis, 4 * vis]),
              ("vision_model.blocks.0.mlp.fc2.bias", "BF16", [vis]),
              ("vision_model.ln.weight", "BF16", [vis]),
              ("vision_model.ln.bias", "BF16", [vis]),
              ("model.resampler_model.spatial_linear.0.weight", "BF16", [sd, sd]),
              ("model.resampler_model.spatial_linear.0.bias", "BF16", [sd]),
              ("model.resampler_model.spatial_linear.2.weight", "BF16", [sd, sd]),
              ("model.resampler_model.spatial_linear.2.bias", "BF16", [sd]),
              ("model.resampler_model.spatial_linear.3.weight", "BF16", [sd]),
              ("model.resampler_model.spatial_linear.3.bias", "BF16", [sd]),
              ("model.resampler_model.temporal_linear.0.weight", "BF16", [sd, 2 * sd]),
              ("model.resampler_model.temporal_linear.0.bias", "BF16", [sd]),
              ("model.resampler_model.temporal_linear.2.weight", "BF16", [sd, sd]),
              ("model.resampler_model.temporal_linear.2.bias", "BF16", [sd]),
              ("model.resampler_model.temporal_linear.3.weight", "BF16", [sd]),
              ("model.resampler_model.temporal_linear.3.bias", "BF16", [sd]),
              ("model.resampler_model.mlp.weight", "BF16", [H, sd]),
              ("model.resampler_model.mlp.bias", "BF16", [H]),
              ("model.resampler_model.after_norm.weight", "BF16", [H])]
    save_pair(out, "ernie4_5_vl_moe", config, lm, towers, seed=19)


def qwen3_omni_moe(out):
    text_cfg, ts = read_fixture("qwen3_moe")
    lm = {"thinker." + k: v for k, v in ts.items()}  # model.* -> thinker.model.*, lm_head -> thinker.lm_head
    text = {k: v for k, v in text_cfg.items() if k not in ("architectures", "transformers_version")}
    text["model_type"] = "qwen3_omni_moe_text"
    text["num_experts"] = text.pop("num_local_experts")  # the release's spelling
    H, V, a, v, c = text_cfg["hidden_size"], text_cfg["vocab_size"], 32, 16, 8
    config = {"architectures": ["Qwen3OmniMoeForConditionalGeneration"], "model_type": "qwen3_omni_moe",
              "enable_audio_output": True, "transformers_version": text_cfg.get("transformers_version"),
              "thinker_config": {"model_type": "qwen3_omni_moe_thinker", "audio_token_id": 151675,
                                 "image_token_id": 151655, "video_token_id": 151656, "position_id_per_seconds": 13,
                                 "text_config": text,
                                 "audio_config": {"model_type": "qwen3_omni_moe_audio_encoder", "d_model": a, "encoder_layers": 1,
                                                  "encoder_attention_heads": 2, "encoder_ffn_dim": 64, "num_mel_bins": 16,
                                                  "downsample_hidden_size": c, "output_dim": H},
                                 "vision_config": {"model_type": "qwen3_omni_moe_vision_encoder", "depth": 1, "hidden_size": v,
                                                   "intermediate_size": 32, "num_heads": 2, "in_channels": 3, "patch_size": 2,
                                                   "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": H,
                                                   "deepstack_visual_indexes": [0]}},
              "talker_config": {"model_type": "qwen3_omni_moe_talker",
                                "text_config": {"model_type": "qwen3_omni_moe_talker_text", "hidden_size": 32, "num_hidden_layers": 1,
                                                "num_experts": 2, "moe_intermediate_size": 16, "shared_expert_intermediate_size": 16}},
              "code2wav_config": {"model_type": "qwen3_omni_moe_code2wav", "hidden_size": 16, "num_hidden_layers": 1}}
    t = 32
    towers = [("thinker.audio_tower.conv2d1.weight", "BF16", [c, 1, 3, 3]),
              ("thinker.audio_tower.conv2d1.bias", "BF16", [c]),
              ("thinker.audio_tower.conv2d2.weight", "BF16", [c, c, 3, 3]),
              ("thinker.audio_tower.conv2d2.bias", "BF16", [c]),
              ("thinker.audio_tower.conv2d3.weight", "BF16", [c, c, 3, 3]),
              ("thinker.audio_tower.conv2d3.bias", "BF16", [c]),
              ("thinker.audio_tower.conv_out.weight", "BF16", [a, 2 * c]),
              ("thinker.audio_tower.layers.0.self_attn.q_proj.weight", "BF16", [a, a]),
              ("thinker.audio_tower.layers.0.self_attn.q_proj.bias", "BF16", [a]),
              ("thinker.audio_tower.layers.0.self_attn.out_proj.weight", "BF16", [a, a]),
              ("thinker.audio_tower.layers.0.self_attn_layer_norm.weight", "BF16", [a]),
              ("thinker.audio_tower.layers.0.fc1.weight", "BF16", [64, a]),
              ("thinker.audio_tower.layers.0.fc2.weight", "BF16", [a, 64]),
              ("thinker.audio_tower.layers.0.final_layer_norm.weight", "BF16", [a]),
              ("thinker.audio_tower.ln_post.weight", "BF16", [a]),
              ("thinker.audio_tower.proj1.weight", "BF16", [a, a]),
              ("thinker.audio_tower.proj2.weight", "BF16", [H, a]),
              ("thinker.visual.patch_embed.proj.weight", "BF16", [v, 3, 2, 2, 2]),
              ("thinker.visual.patch_embed.proj.bias", "BF16", [v]),
              ("thinker.visual.pos_embed.weight", "BF16", [16, v]),
              ("thinker.visual.blocks.0.norm1.weight", "BF16", [v]),
              ("thinker.visual.blocks.0.attn.qkv.weight", "BF16", [3 * v, v]),
              ("thinker.visual.blocks.0.attn.proj.weight", "BF16", [v, v]),
              ("thinker.visual.blocks.0.mlp.linear_fc1.weight", "BF16", [32, v]),
              ("thinker.visual.blocks.0.mlp.linear_fc2.weight", "BF16", [v, 32]),
              ("thinker.visual.merger.ln_q.weight", "BF16", [v]),
              ("thinker.visual.merger.mlp.0.weight", "BF16", [4 * v, 4 * v]),
              ("thinker.visual.merger.mlp.2.weight", "BF16", [H, 4 * v]),
              ("thinker.visual.merger_list.0.ln_q.weight", "BF16", [4 * v]),
              ("thinker.visual.merger_list.0.mlp.0.weight", "BF16", [4 * v, 4 * v]),
              ("thinker.visual.merger_list.0.mlp.2.weight", "BF16", [H, 4 * v]),
              ("talker.text_projection.linear_fc1.weight", "BF16", [H, H]),
              ("talker.text_projection.linear_fc2.weight", "BF16", [t, H]),
              ("talker.hidden_projection.linear_fc1.weight", "BF16", [H, H]),
              ("talker.hidden_projection.linear_fc2.weight", "BF16", [t, H]),
              ("talker.model.codec_embedding.weight", "BF16", [64, t]),
              ("talker.model.layers.0.input_layernorm.weight", "BF16", [t]),
              ("talker.model.layers.0.self_attn.q_proj.weight", "BF16", [t, t]),
              ("talker.model.layers.0.self_attn.q_norm.weight", "BF16", [16]),
              ("talker.model.layers.0.mlp.gate.weight", "BF16", [2, t]),
              ("talker.model.layers.0.mlp.experts.0.gate_proj.weight", "BF16", [16, t]),
              ("talker.model.layers.0.mlp.experts.0.up_proj.weight", "BF16", [16, t]),
              ("talker.model.layers.0.mlp.experts.0.down_proj.weight", "BF16", [t, 16]),
              ("talker.model.layers.0.mlp.experts.1.gate_proj.weight", "BF16", [16, t]),
              ("talker.model.layers.0.mlp.experts.1.up_proj.weight", "BF16", [16, t]),
              ("talker.model.layers.0.mlp.experts.1.down_proj.weight", "BF16", [t, 16]),
              ("talker.model.layers.0.mlp.shared_expert.gate_proj.weight", "BF16", [16, t]),
              ("talker.model.layers.0.mlp.shared_expert_gate.weight", "BF16", [1, t]),
              ("talker.model.norm.weight", "BF16", [t]),
              ("talker.codec_head.weight", "BF16", [64, t]),
              ("talker.code_predictor.model.codec_embedding.0.weight", "BF16", [64, t]),
              ("talker.code_predictor.model.layers.0.self_attn.q_proj.weight", "BF16", [t, t]),
              ("talker.code_predictor.model.norm.weight", "BF16", [t]),
              ("talker.code_predictor.lm_head.0.weight", "BF16", [64, t]),
              ("code2wav.code_embedding.weight", "BF16", [64, 16]),
              ("code2wav.pre_transformer.layers.0.self_attn.q_proj.weight", "BF16", [16, 16]),
              ("code2wav.pre_transformer.layers.0.mlp_layer_scale.scale", "BF16", [16]),
              ("code2wav.pre_transformer.norm.weight", "BF16", [16]),
              ("code2wav.upsample.0.0.conv.weight", "BF16", [16, 16, 2]),
              ("code2wav.decoder.0.conv.weight", "BF16", [16, 16, 7])]
    save_pair(out, "qwen3_omni_moe", config, lm, towers, seed=20)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "composite")
    glm4v_moe(out)
    kimi_k25(out)
    kimi_vl(out)
    deepseek_ocr2(out)
    gemma4(out)
    ernie4_5_vl_moe(out)
    qwen3_omni_moe(out)


if __name__ == "__main__":
    main()
