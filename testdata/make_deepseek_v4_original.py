#!/usr/bin/env python3
"""DeepSeek-V4 in DeepSeek's own release layout (python3 stdlib only), shrunk.

No transformers class writes this layout (transformers 5 saves model.layers.N.*, see
testdata/models/deepseek_v4); the published deepseek-ai/DeepSeek-V4-Flash checkpoint and
vLLM's DeepseekV4ForCausalLM (hf_to_vllm_mapper: layers. -> model.layers., embed. ->
model.embed., hc_head -> model.hc_head, head.weight -> lm_head.weight) and DeepSeekV4MTP
(mtp.N.* -> model.layers.<num_hidden_layers + N>.*) use it:

  embed.weight, head.weight, norm.weight                      BF16
  hc_head_{fn,base,scale}                                     F32
  layers.L.attn.{wq_a,wkv,wq_b,wo_a,wo_b}.{weight,scale}      F8_E4M3 + block scale
  layers.L.attn.{q_norm,kv_norm}.weight                       BF16
  layers.L.attn.attn_sink                                     F32
  layers.L.attn.compressor.{wkv,wgate,norm}.weight, .ape      compress_ratios[L] 4 or 128
  layers.L.attn.indexer.{wq_b.weight,wq_b.scale,weights_proj.weight}
  layers.L.attn.indexer.compressor.*                          compress_ratios[L] == 4
  layers.L.{attn,ffn}_norm.weight                             BF16
  layers.L.hc_{attn,ffn}_{fn,base,scale}                      F32
  layers.L.ffn.gate.weight + gate.tid2eid (L < num_hash_layers) or gate.bias (the others)
  layers.L.ffn.experts.E.w{1,2,3}.{weight,scale}              FP4: I8 two per byte + F8_E8M0 per 32
  layers.L.ffn.shared_experts.w{1,2,3}.{weight,scale}         F8_E4M3 + block scale
  mtp.0.*: a decoder layer of compress ratio 0 with a bias router, plus
           {enorm,hnorm,norm}.weight, {e_proj,h_proj}.{weight,scale}, hc_head_{fn,base,scale}

Which tensors exist per layer follows the published inventory (V4-Flash: 69,187 tensors,
1,575 under mtp.0; the counts this script's `inventory(FLASH)` reproduces, checked by
`--check-flash`). Non-expert FP8 scales are F8_E8M0 with expert_dtype fp4 (vLLM's
DeepseekV4FP8Config.is_scale_e8m0) and F32 with expert_dtype fp8 (V4-Flash-Base), whose
experts are block FP8 too.

  deepseek_v4_original       expert_dtype fp4 (V4-Flash)
  deepseek_v4_original_fp8   expert_dtype fp8 (V4-Flash-Base)

Run from anywhere:  python3 testdata/make_deepseek_v4_original.py [--check-flash]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stwriter import Checkpoint  # noqa: E402

OUT = os.path.join(HERE, "models")

# The published V4-Flash config, for the inventory count check.
FLASH = {"num_hidden_layers": 43, "num_hash_layers": 3, "n_routed_experts": 256, "num_nextn_predict_layers": 1,
         "compress_ratios": [0, 0] + [4, 128] * 20 + [4, 0]}

# Tiny: 3 decoder layers covering compress ratio 0 (sliding window only), 4 (compressor and
# indexer) and 128 (compressor), the first a hash-routed layer; one MTP layer.
TINY = {
    "architectures": ["DeepseekV4ForCausalLM"],
    "model_type": "deepseek_v4",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "compress_ratios": [0, 4, 128, 0],
    "compress_rope_theta": 160000,
    "expert_dtype": "fp4",
    "hc_eps": 1e-06,
    "hc_mult": 2,
    "hc_sinkhorn_iters": 20,
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 64,
    "index_head_dim": 16,
    "index_n_heads": 2,
    "index_topk": 8,
    "max_position_embeddings": 256,
    "moe_intermediate_size": 32,
    "n_routed_experts": 4,
    "n_shared_experts": 1,
    "norm_topk_prob": True,
    "num_attention_heads": 4,
    "num_experts_per_tok": 2,
    "num_hash_layers": 1,
    "num_hidden_layers": 3,
    "num_key_value_heads": 1,
    "num_nextn_predict_layers": 1,
    "o_groups": 2,
    "o_lora_rank": 16,
    "q_lora_rank": 32,
    "qk_rope_head_dim": 8,
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "scale_fmt": "ue8m0",
                            "weight_block_size": [128, 128]},
    "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 16, "original_max_position_embeddings": 65536, "type": "yarn"},
    "rope_theta": 10000,
    "routed_scaling_factor": 1.5,
    "scoring_func": "sqrtsoftplus",
    "sliding_window": 8,
    "swiglu_limit": 10.0,
    "tie_word_embeddings": False,
    "topk_method": "noaux_tc",
    "torch_dtype": "bfloat16",
    "transformers_version": "4.57.1",
    "use_cache": True,
    "vocab_size": 128,
}


def cdiv(a, b):
    return -(-a // b)


class Layout:
    """Adds the tensors of one checkpoint; `ck` None only counts names."""

    def __init__(self, cfg, ck=None):
        self.c, self.ck, self.names = cfg, ck, []
        self.fp8_experts = cfg.get("expert_dtype", "fp4") == "fp8"

    def add(self, name, dtype, shape):
        self.names.append(name)
        if self.ck is not None:
            self.ck.add(name, dtype, shape)

    def fp8(self, stem, out, inp):
        self.add(stem + ".weight", "F8_E4M3", [out, inp])
        self.add(stem + ".scale", "F32" if self.fp8_experts else "F8_E8M0", [cdiv(out, 128), cdiv(inp, 128)])

    def expert(self, stem, out, inp):
        if self.fp8_experts:
            self.fp8(stem, out, inp)
            return
        self.add(stem + ".weight", "I8", [out, inp // 2])
        self.add(stem + ".scale", "F8_E8M0", [out, inp // 32])

    def compressor(self, p, ratio, head_dim):
        coff = 2 if ratio == 4 else 1
        h = self.c.get("hidden_size", 4096)
        self.add(p + ".ape", "F32", [ratio, coff * head_dim])
        self.add(p + ".wkv.weight", "BF16", [coff * head_dim, h])
        self.add(p + ".wgate.weight", "BF16", [coff * head_dim, h])
        self.add(p + ".norm.weight", "BF16", [head_dim])

    def block(self, p, ratio, hash_router):
        c = self.c
        h, heads, hd = c.get("hidden_size", 4096), c.get("num_attention_heads", 64), c.get("head_dim", 512)
        qr, og, orank = c.get("q_lora_rank", 1024), c.get("o_groups", 8), c.get("o_lora_rank", 1024)
        e, inter, hc = c["n_routed_experts"], c.get("moe_intermediate_size", 2048), c.get("hc_mult", 4)
        self.add(p + ".attn.attn_sink", "F32", [heads])
        self.fp8(p + ".attn.wq_a", qr, h)
        self.fp8(p + ".attn.wkv", hd, h)
        self.add(p + ".attn.q_norm.weight", "BF16", [qr])
        self.add(p + ".attn.kv_norm.weight", "BF16", [hd])
        self.fp8(p + ".attn.wq_b", heads * hd, qr)
        self.fp8(p + ".attn.wo_a", og * orank, heads * hd // og)
        self.fp8(p + ".attn.wo_b", h, og * orank)
        if ratio in (4, 128):
            self.compressor(p + ".attn.compressor", ratio, hd)
        if ratio == 4:
            ih, ihd = c.get("index_n_heads", 64), c.get("index_head_dim", 128)
            self.fp8(p + ".attn.indexer.wq_b", ih * ihd, qr)
            self.add(p + ".attn.indexer.weights_proj.weight", "BF16", [ih, h])
            self.compressor(p + ".attn.indexer.compressor", ratio, ihd)
        self.add(p + ".attn_norm.weight", "BF16", [h])
        self.add(p + ".ffn_norm.weight", "BF16", [h])
        mix = (2 + hc) * hc
        for b in ("attn", "ffn"):
            self.add(f"{p}.hc_{b}_fn", "F32", [mix, hc * h])
            self.add(f"{p}.hc_{b}_base", "F32", [mix])
            self.add(f"{p}.hc_{b}_scale", "F32", [3])
        self.add(p + ".ffn.gate.weight", "BF16", [e, h])
        if hash_router:
            self.add(p + ".ffn.gate.tid2eid", "I64", [c.get("vocab_size", 129280), c.get("num_experts_per_tok", 6)])
        else:
            self.add(p + ".ffn.gate.bias", "F32", [e])
        si = inter * c.get("n_shared_experts", 1)
        self.fp8(p + ".ffn.shared_experts.w1", si, h)
        self.fp8(p + ".ffn.shared_experts.w3", si, h)
        self.fp8(p + ".ffn.shared_experts.w2", h, si)
        for x in range(e):
            self.expert(f"{p}.ffn.experts.{x}.w1", inter, h)
            self.expert(f"{p}.ffn.experts.{x}.w3", inter, h)
            self.expert(f"{p}.ffn.experts.{x}.w2", h, inter)

    def hc_head(self, p):
        h, hc = self.c.get("hidden_size", 4096), self.c.get("hc_mult", 4)
        self.add(p + "hc_head_fn", "F32", [hc, hc * h])
        self.add(p + "hc_head_base", "F32", [hc])
        self.add(p + "hc_head_scale", "F32", [1])

    def model(self):
        c = self.c
        h, v = c.get("hidden_size", 4096), c.get("vocab_size", 129280)
        self.add("embed.weight", "BF16", [v, h])
        self.add("head.weight", "BF16", [v, h])
        self.add("norm.weight", "BF16", [h])
        self.hc_head("")
        n = c["num_hidden_layers"]
        for L in range(n):
            self.block(f"layers.{L}", c["compress_ratios"][L], L < c["num_hash_layers"])
        for i in range(c.get("num_nextn_predict_layers", 0)):
            p = f"mtp.{i}"
            self.block(p, 0, False)
            self.add(p + ".enorm.weight", "BF16", [h])
            self.add(p + ".hnorm.weight", "BF16", [h])
            self.add(p + ".norm.weight", "BF16", [h])
            self.fp8(p + ".e_proj", h, h)
            self.fp8(p + ".h_proj", h, h)
            self.hc_head(p + ".")
        return self.names


def check_flash():
    names = Layout(FLASH).model()
    mtp = sum(n.startswith("mtp.0.") for n in names)
    assert len(names) == len(set(names))
    print(f"V4-Flash inventory: {len(names)} tensors, {mtp} under mtp.0")
    assert (len(names), mtp) == (69187, 1575), "differs from the published V4-Flash inventory"


def build(name, expert_dtype, seed):
    cfg = dict(TINY, expert_dtype=expert_dtype)
    ck = Checkpoint(seed=seed)
    Layout(cfg, ck).model()
    ck.save(os.path.join(OUT, name), config=cfg)
    # The release's generation_config.json carries its token ids (bos 0, eos 1).
    with open(os.path.join(os.path.join(OUT, name), "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 0, "eos_token_id": 1}, f, indent=2)
        f.write("\n")


def main():
    check_flash()
    if "--check-flash" in sys.argv:
        return
    build("deepseek_v4_original", "fp4", 401)
    build("deepseek_v4_original_fp8", "fp8", 402)


if __name__ == "__main__":
    main()
