#!/usr/bin/env python3
"""Builds moeckpt's fixtures of quantized MoE checkpoints as they are released, with their
dequantized references, in the reference environment (PyTorch + safetensors).

    python3 testdata/generate_quant.py OUTDIR [MODELSDIR]   (MODELSDIR: testdata/models)

Sources are the tiny BF16 models already in testdata/models (qwen3_moe, deepseek_v3,
deepseek_v4, made by transformers). Each linear weight is quantized here with plain torch into
the layout of one format, following that format's published definition (moeckpt-formats(7),
QUANTIZED WEIGHTS, names the sources):

  ct_fp8_qwen3        compressed-tensors float-quantized, per-channel FP8, dynamic activations
  ct_fp8_static_dsv3  compressed-tensors float-quantized, per-tensor FP8 + static input_scale
  ct_nvfp4_qwen3      compressed-tensors nvfp4-pack-quantized (weight_global_scale is the
                      divisor: value = e2m1 * (weight_scale / weight_global_scale))
  ct_w4a16_qwen3      compressed-tensors pack-quantized int4, symmetric, group 32
  ct_w4a16_asym_dsv3  pack-quantized int4, asymmetric (weight_zero_point packed along N),
                      group 16, activation order (weight_g_idx)
  ct_w8a16_dsv3       pack-quantized int8, channel strategy
  modelopt_fp8_qwen3  ModelOpt FP8 (per-tensor weight_scale + input_scale), hf_quant_config.json
  modelopt_nvfp4_dsv3 ModelOpt NVFP4 (value = e2m1 * e4m3 * weight_scale_2)
  gptq_qwen3          GPTQ v1 int4 sym, group 32 (zeros stored minus one, packed along K)
  gptq_actorder_dsv3  GPTQ int4 asym, group 16, desc_act with a permuted g_idx
  awq_qwen3           AWQ GEMM int4, group 32, zero points, packed along N in AWQ's order
  dsv4_fp4            DeepSeek V4 original layout, FP4 experts (MXFP4, e8m0 per 32)
  dsv4_fp8            DeepSeek V4, expert_dtype fp8: block FP8 experts

Each fixture is OUTDIR/<name>/{config.json, model.safetensors[, hf_quant_config.json]} and
OUTDIR/<name>.ref.safetensors: the whole checkpoint as `convert --dequant bf16` must write it
(quantized weights dequantized in float32 and rounded to bf16, scales and packing tensors gone,
every other tensor as it was), plus `<weight>@f32` and `<weight>@f16` for every dequantized
weight. Dequantization here is written from the definitions, independently of moeckpt;
compressed-tensors, ModelOpt, AutoGPTQ and AutoAWQ are not installed in the reference
environment, so their packing is reimplemented and every fixture is checked to unpack to the
codes it was built from. OUTDIR/report.json records versions and failures.
"""
import json
import math
import os
import shutil
import sys
import traceback

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = {"versions": {"torch": torch.__version__}, "fixtures": {}, "errors": {}}

E2M1_VALUES = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                            -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0], dtype=torch.float32)


MODELS = os.path.join(HERE, "models")


def source(model):
    d = os.path.join(MODELS, model)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return load_file(os.path.join(d, "model.safetensors")), cfg


def is_linear(name, t, skip):
    return name.endswith(".weight") and t.dim() == 2 and not any(s(name) for s in skip)


# ---------------------------------------------------------------------------------------------
# Element formats.

def e2m1_codes(x):
    """Nearest E2M1 code of each float32 (ties to the even code), sign in bit 3."""
    mag = x.abs().clamp(max=6.0)
    pos = E2M1_VALUES[:8]
    d = (mag.unsqueeze(-1) - pos).abs()
    best = d.min(dim=-1, keepdim=True).values
    # Among the equally near, the even code (round half to even in E2M1's mantissa).
    cand = (d == best) & (torch.arange(8) % 2 == 0)
    idx = torch.where(cand.any(-1), cand.to(torch.int64).argmax(-1), d.argmin(-1))
    return (idx | (torch.signbit(x).to(torch.int64) << 3)).to(torch.uint8)


def pack_nibbles(codes):
    """[.., n] codes -> [.., n/2] bytes, element 0 in the low nibble."""
    return (codes[..., 0::2] | (codes[..., 1::2] << 4)).to(torch.uint8)


def unpack_nibbles(packed):
    p = packed.to(torch.int64)
    return torch.stack([p & 0xF, p >> 4], dim=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)


def pack_int32(values, bits, dim):
    """Unsigned `bits`-bit values packed into int32 words along `dim`, element 0 in the low bits
    (compressed-tensors pack_to_int32 / GPTQ)."""
    per = 32 // bits
    v = values.to(torch.int64)
    if dim == 0:
        v = v.t()
    n = v.shape[1]
    pad = (-n) % per
    v = torch.nn.functional.pad(v, (0, pad))
    v = v.reshape(v.shape[0], -1, per)
    word = torch.zeros(v.shape[:2], dtype=torch.int64)
    for i in range(per):
        word |= v[:, :, i] << (bits * i)
    word = torch.where(word >= 2 ** 31, word - 2 ** 32, word).to(torch.int32)
    return word.t().contiguous() if dim == 0 else word.contiguous()


def unpack_int32(words, bits, dim, n):
    per = 32 // bits
    w = words.to(torch.int64) & 0xFFFFFFFF
    if dim == 0:
        w = w.t()
    parts = [(w >> (bits * i)) & ((1 << bits) - 1) for i in range(per)]
    v = torch.stack(parts, dim=-1).reshape(w.shape[0], -1)[:, :n]
    return v.t() if dim == 0 else v


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]  # nibble i of a word holds column AWQ_ORDER[i]


def pack_awq(values):
    """[K, N] 4-bit values -> [K, N/8] int32 in AutoAWQ's GEMM order."""
    k, n = values.shape
    v = values.to(torch.int64).reshape(k, n // 8, 8)
    word = torch.zeros(k, n // 8, dtype=torch.int64)
    for i in range(8):
        word |= v[:, :, AWQ_ORDER[i]] << (4 * i)
    return torch.where(word >= 2 ** 31, word - 2 ** 32, word).to(torch.int32)


def unpack_awq(words):
    w = words.to(torch.int64) & 0xFFFFFFFF
    k, m = w.shape
    out = torch.empty(k, m, 8, dtype=torch.int64)
    for i in range(8):
        out[:, :, AWQ_ORDER[i]] = (w >> (4 * i)) & 0xF
    return out.reshape(k, m * 8)


# ---------------------------------------------------------------------------------------------
# Quantizers: each returns (tensors to store under the weight's stem, float32 dequantized).

def fp8_channel(w, scale_dtype):
    wf = w.float()
    s = (wf.abs().amax(dim=1, keepdim=True) / 448.0).clamp(min=1e-12).to(scale_dtype)
    q = (wf / s.float()).clamp(-448, 448).to(torch.float8_e4m3fn)
    return {"weight": q, "weight_scale": s}, q.float() * s.float()


def fp8_tensor(w, scale_dtype, shape):
    wf = w.float()
    s = (wf.abs().max() / 448.0).clamp(min=1e-12).to(scale_dtype).reshape(shape)
    q = (wf / s.float()).clamp(-448, 448).to(torch.float8_e4m3fn)
    return {"weight": q, "weight_scale": s}, q.float() * s.float()


def nvfp4_compressed_tensors(w):
    wf = w.float()
    n, k = wf.shape
    g = wf.reshape(n, k // 16, 16)
    gscale = (448.0 * 6.0 / wf.abs().max()).reshape(1).float()
    local = (g.abs().amax(-1) / 6.0 * gscale).clamp(max=448).to(torch.float8_e4m3fn)
    eff = local.float() / gscale  # the definition: weight_scale / weight_global_scale, in float32
    eff_safe = torch.where(eff == 0, torch.ones_like(eff), eff)
    codes = e2m1_codes((g / eff_safe.unsqueeze(-1)).reshape(n, k))
    packed = pack_nibbles(codes)
    assert torch.equal(unpack_nibbles(packed), codes.to(torch.int64))
    dq = E2M1_VALUES[unpack_nibbles(packed)].reshape(n, k // 16, 16) * eff.unsqueeze(-1)
    return ({"weight_packed": packed, "weight_scale": local, "weight_global_scale": gscale,
             "input_global_scale": torch.tensor([3.5], dtype=torch.float32)}, dq.reshape(n, k))


def nvfp4_modelopt(w):
    wf = w.float()
    n, k = wf.shape
    g = wf.reshape(n, k // 16, 16)
    s2 = (wf.abs().max() / (6.0 * 448.0)).float().reshape(())
    local = (g.abs().amax(-1) / (6.0 * s2)).clamp(max=448).to(torch.float8_e4m3fn)
    eff = local.float() * s2  # e4m3 * weight_scale_2, in float32
    eff_safe = torch.where(eff == 0, torch.ones_like(eff), eff)
    codes = e2m1_codes((g / eff_safe.unsqueeze(-1)).reshape(n, k))
    packed = pack_nibbles(codes)
    dq = E2M1_VALUES[unpack_nibbles(packed)].reshape(n, k // 16, 16) * eff.unsqueeze(-1)
    return ({"weight": packed, "weight_scale": local, "weight_scale_2": s2,
             "input_scale": torch.tensor(0.0125, dtype=torch.float32)}, dq.reshape(n, k))


def int_groups(wf, bits, group, sym, perm=None):
    """Integer codes (unsigned, 0..2^bits-1), zero points (unsigned) and scales of [N, K] with
    groups of `group` columns; perm (activation order) assigns column k to group g_idx[k]."""
    n, k = wf.shape
    g_idx = (torch.arange(k) // group) if perm is None else (torch.argsort(perm) // group)
    ngroups = k // group
    qmax = 2 ** bits - 1
    scales = torch.empty(n, ngroups)
    zeros = torch.empty(n, ngroups, dtype=torch.int64)
    for gi in range(ngroups):
        cols = wf[:, g_idx == gi]
        if sym:
            s = cols.abs().amax(1) / (2 ** (bits - 1) - 1)
            z = torch.full((n,), 2 ** (bits - 1), dtype=torch.int64)
        else:
            lo, hi = cols.amin(1).clamp(max=0), cols.amax(1).clamp(min=0)
            s = (hi - lo) / qmax
            s = torch.where(s == 0, torch.ones_like(s), s)
            z = torch.round(-lo / s).clamp(0, qmax).to(torch.int64)
        scales[:, gi] = torch.where(s == 0, torch.ones_like(s), s)
        zeros[:, gi] = z
    return g_idx, scales, zeros


def int_codes(wf, g_idx, scales, zeros, bits):
    s = scales[:, g_idx]
    z = zeros[:, g_idx]
    return (torch.round(wf / s) + z).clamp(0, 2 ** bits - 1).to(torch.int64)


def ct_pack_quantized(w, bits, group, sym, actorder, scale_dtype):
    wf = w.float()
    n, k = wf.shape
    group = k if group is None else group
    perm = torch.randperm(k) if actorder else None
    g_idx, scales, zeros = int_groups(wf, bits, group, sym, perm)
    scales = scales.to(scale_dtype)
    q = int_codes(wf, g_idx, scales.float(), zeros, bits)
    packed = pack_int32(q, bits, 1)
    assert torch.equal(unpack_int32(packed, bits, 1, k), q)
    out = {"weight_packed": packed, "weight_scale": scales, "weight_shape": torch.tensor([n, k], dtype=torch.int64)}
    zf = zeros
    if not sym:
        out["weight_zero_point"] = pack_int32(zeros, bits, 0)
        assert torch.equal(unpack_int32(out["weight_zero_point"], bits, 0, n), zeros)
    if actorder:
        out["weight_g_idx"] = g_idx.to(torch.int32)
    dq = (q - zf[:, g_idx]).float() * scales.float()[:, g_idx]
    return out, dq


def gptq(w, bits, group, sym, desc_act):
    wf = w.float()
    n, k = wf.shape
    perm = torch.randperm(k) if desc_act else None
    g_idx, scales, zeros = int_groups(wf, bits, group, sym, perm)
    scales = scales.to(torch.float16)
    q = int_codes(wf, g_idx, scales.float(), zeros, bits)  # [N, K]
    qweight = pack_int32(q.t().contiguous(), bits, 0)  # [K/8, N]: packed along K
    qzeros = pack_int32((zeros - 1).t().contiguous(), bits, 1)  # [K/g, N/8], v1: zero minus one
    assert torch.equal(unpack_int32(qweight, bits, 0, k), q.t())
    dq = (q - zeros[:, g_idx]).float() * scales.float()[:, g_idx]
    return ({"qweight": qweight, "qzeros": qzeros, "scales": scales.t().contiguous(),
             "g_idx": g_idx.to(torch.int32)}, dq)


def awq(w, group):
    wf = w.float()
    n, k = wf.shape
    g_idx, scales, zeros = int_groups(wf, 4, group, False)
    scales = scales.to(torch.float16)
    q = int_codes(wf, g_idx, scales.float(), zeros, 4)
    qweight = pack_awq(q.t().contiguous())  # [K, N/8]
    qzeros = pack_awq(zeros.t().contiguous())  # [K/g, N/8]
    assert torch.equal(unpack_awq(qweight), q.t())
    dq = (q - zeros[:, g_idx]).float() * scales.float()[:, g_idx]
    return {"qweight": qweight, "qzeros": qzeros, "scales": scales.t().contiguous()}, dq


def mxfp4(w):
    wf = w.float()
    n, k = wf.shape
    g = wf.reshape(n, k // 32, 32)
    amax = g.abs().amax(-1)
    e = torch.where(amax > 0, torch.floor(torch.log2(amax)) - 2, torch.full_like(amax, -127)).clamp(-127, 127)
    codes = e2m1_codes((g / torch.pow(2.0, e).unsqueeze(-1)).reshape(n, k))
    packed = pack_nibbles(codes)
    scale = (e + 127).to(torch.uint8)
    dq = E2M1_VALUES[unpack_nibbles(packed)].reshape(n, k // 32, 32) * torch.pow(2.0, scale.float() - 127).unsqueeze(-1)
    return {"weight": packed.view(torch.int8), "scale": scale.view(torch.float8_e8m0fnu)}, dq.reshape(n, k)


def block_fp8(w):
    wf = w.float()
    n, k = wf.shape
    so, si = math.ceil(n / 128), math.ceil(k / 128)
    s = torch.empty(so, si)
    q = torch.empty(n, k, dtype=torch.float8_e4m3fn)
    dq = torch.empty(n, k)
    for i in range(so):
        for j in range(si):
            blk = wf[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]
            sc = blk.abs().max() / 448.0
            sc = sc if sc > 0 else torch.tensor(1.0)
            s[i, j] = sc
            qq = (blk / sc).to(torch.float8_e4m3fn)
            q[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] = qq
            dq[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] = qq.float() * sc
    return {"weight": q, "scale": s}, dq


# ---------------------------------------------------------------------------------------------
# Fixtures.

def suffix_skip(*suffixes):
    return [lambda n, s=s: n.endswith(s) for s in suffixes]


QWEN_SKIP = suffix_skip("lm_head.weight", "mlp.gate.weight", "embed_tokens.weight")
DSV3_SKIP = suffix_skip("lm_head.weight", "mlp.gate.weight", "embed_tokens.weight")


def build(out, name, model, quantize, qconfig, skip, extra_files=None, config_extra=None):
    sd, cfg = source(model)
    tensors, ref = {}, {}
    torch.manual_seed(sum(map(ord, name)))  # stable across runs
    for k, v in sd.items():
        if is_linear(k, v, skip) and "norm" not in k:
            stem = k[: -len("weight")]
            parts, dq = quantize(k, v)
            for suf, t in parts.items():
                tensors[stem + suf] = t.contiguous()
            ref[k] = dq.to(torch.bfloat16)
            ref[k + "@f32"] = dq
            ref[k + "@f16"] = dq.to(torch.float16)
        else:
            tensors[k] = v
            ref[k] = v
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    save_file(tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    if qconfig is not None:
        cfg["quantization_config"] = qconfig
    cfg.update(config_extra or {})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    for fn, doc in (extra_files or {}).items():
        with open(os.path.join(d, fn), "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
    # The source model's generation_config.json, as a release carries it beside config.json.
    src = {"qwen3": "qwen3_moe", "dsv3": "deepseek_v3", "dsv4": "deepseek_v4"}
    for tag, model in src.items():
        gen = os.path.join(MODELS, model, "generation_config.json")
        if tag in name.split("_") and os.path.exists(gen):
            shutil.copy(gen, os.path.join(d, "generation_config.json"))
    save_file(ref, os.path.join(out, name + ".ref.safetensors"))
    REPORT["fixtures"][name] = {"tensors": len(tensors), "bytes": os.path.getsize(os.path.join(d, "model.safetensors"))}


# DeepSeek V4's config.json declares block FP8; expert_dtype says how the experts are stored.
DSV4_FP8 = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}


def ct_config(fmt, weights, inputs=None, ignore=("lm_head", "re:.*mlp.gate$")):
    return {"quant_method": "compressed-tensors", "format": fmt, "quantization_status": "compressed",
            "global_compression_ratio": None, "kv_cache_scheme": None, "ignore": list(ignore),
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights,
                                          "input_activations": inputs, "output_activations": None}}}


def wargs(num_bits, typ, strategy, group_size=None, symmetric=True, actorder=None, dynamic=False):
    return {"num_bits": num_bits, "type": typ, "strategy": strategy, "group_size": group_size,
            "symmetric": symmetric, "dynamic": dynamic, "actorder": actorder, "block_structure": None,
            "observer": "minmax", "observer_kwargs": {}}


def with_input_scale(fn):
    def q(name, w):
        parts, dq = fn(name, w)
        parts["input_scale"] = torch.tensor([0.02], dtype=torch.bfloat16)
        return parts, dq
    return q


def main():
    global MODELS
    out = sys.argv[1]
    if len(sys.argv) > 2:
        MODELS = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    bf16 = torch.bfloat16
    modelopt_producer = {"name": "modelopt", "version": "0.37.0"}
    jobs = {
        "ct_fp8_qwen3": lambda: build(out, "ct_fp8_qwen3", "qwen3_moe", lambda n, w: fp8_channel(w, bf16),
                                      ct_config("float-quantized", wargs(8, "float", "channel"),
                                                wargs(8, "float", "token", dynamic=True)), QWEN_SKIP),
        "ct_fp8_static_dsv3": lambda: build(out, "ct_fp8_static_dsv3", "deepseek_v3",
                                            with_input_scale(lambda n, w: fp8_tensor(w, bf16, (1,))),
                                            ct_config("float-quantized", wargs(8, "float", "tensor"),
                                                      wargs(8, "float", "tensor")), DSV3_SKIP),
        "ct_nvfp4_qwen3": lambda: build(out, "ct_nvfp4_qwen3", "qwen3_moe", lambda n, w: nvfp4_compressed_tensors(w),
                                        ct_config("nvfp4-pack-quantized", wargs(4, "float", "tensor_group", 16),
                                                  wargs(4, "float", "tensor_group", 16, dynamic="local")), QWEN_SKIP),
        "ct_w4a16_qwen3": lambda: build(out, "ct_w4a16_qwen3", "qwen3_moe",
                                        lambda n, w: ct_pack_quantized(w, 4, 32, True, False, bf16),
                                        ct_config("pack-quantized", wargs(4, "int", "group", 32)), QWEN_SKIP),
        "ct_w4a16_asym_dsv3": lambda: build(out, "ct_w4a16_asym_dsv3", "deepseek_v3",
                                            lambda n, w: ct_pack_quantized(w, 4, 16, False, True, bf16),
                                            ct_config("pack-quantized", wargs(4, "int", "group", 16, False, "group")),
                                            DSV3_SKIP),
        "ct_w8a16_dsv3": lambda: build(out, "ct_w8a16_dsv3", "deepseek_v3",
                                       lambda n, w: ct_pack_quantized(w, 8, None, True, False, bf16),
                                       ct_config("pack-quantized", wargs(8, "int", "channel")), DSV3_SKIP),
        "modelopt_fp8_qwen3": lambda: build(
            out, "modelopt_fp8_qwen3", "qwen3_moe",
            with_float_input_scale(lambda n, w: fp8_tensor(w, torch.float32, ())),
            {"quant_method": "modelopt", "quant_algo": "FP8", "kv_cache_quant_algo": None,
             "exclude_modules": ["lm_head", "model.layers.*.mlp.gate"], "producer": modelopt_producer},
            QWEN_SKIP,
            {"hf_quant_config.json": {"producer": modelopt_producer,
                                      "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": None,
                                                       "exclude_modules": ["lm_head", "model.layers.*.mlp.gate"]}}}),
        "modelopt_nvfp4_dsv3": lambda: build(
            out, "modelopt_nvfp4_dsv3", "deepseek_v3", lambda n, w: nvfp4_modelopt(w),
            {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16, "kv_cache_quant_algo": None,
             "exclude_modules": ["lm_head", "model.layers.*.mlp.gate"], "producer": modelopt_producer},
            DSV3_SKIP,
            {"hf_quant_config.json": {"producer": modelopt_producer,
                                      "quantization": {"quant_algo": "NVFP4", "group_size": 16, "kv_cache_quant_algo": None,
                                                       "exclude_modules": ["lm_head", "model.layers.*.mlp.gate"]}}}),
        "gptq_qwen3": lambda: build(out, "gptq_qwen3", "qwen3_moe", lambda n, w: gptq(w, 4, 32, True, False),
                                    {"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": False, "sym": True,
                                     "checkpoint_format": "gptq", "damp_percent": 0.01, "static_groups": False,
                                     "true_sequential": True}, QWEN_SKIP),
        "gptq_actorder_dsv3": lambda: build(out, "gptq_actorder_dsv3", "deepseek_v3", lambda n, w: gptq(w, 4, 16, False, True),
                                            {"quant_method": "gptq", "bits": 4, "group_size": 16, "desc_act": True,
                                             "sym": False, "checkpoint_format": "gptq", "damp_percent": 0.01,
                                             "static_groups": False, "true_sequential": True}, DSV3_SKIP),
        "awq_qwen3": lambda: build(out, "awq_qwen3", "qwen3_moe", lambda n, w: awq(w, 32),
                                   {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True,
                                    "version": "gemm", "modules_to_not_convert": None}, QWEN_SKIP),
        "dsv4_fp4": lambda: build(out, "dsv4_fp4", "deepseek_v4", lambda n, w: mxfp4(w), DSV4_FP8,
                                  [lambda n: ".experts." not in n], config_extra={"expert_dtype": "fp4"}),
        "dsv4_fp8": lambda: build(out, "dsv4_fp8", "deepseek_v4", lambda n, w: block_fp8(w), DSV4_FP8,
                                  [lambda n: ".experts." not in n], config_extra={"expert_dtype": "fp8"}),
    }
    for name, job in jobs.items():
        try:
            job()
        except Exception as e:  # noqa: BLE001
            REPORT["errors"][name] = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]
    import safetensors
    REPORT["versions"]["safetensors"] = safetensors.__version__
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(REPORT, f, indent=1, sort_keys=True)
    print(json.dumps(REPORT, indent=1, sort_keys=True))


def with_float_input_scale(fn):
    def q(name, w):
        parts, dq = fn(name, w)
        parts["input_scale"] = torch.tensor(0.02, dtype=torch.float32)
        return parts, dq
    return q


if __name__ == "__main__":
    main()
