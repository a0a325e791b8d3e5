#!/usr/bin/env python3
"""Builds moeckpt's real fixtures in the reference environment.

Runs where PyTorch, safetensors, transformers 5.x, ml_dtypes and numpy are installed (the GPU
machine; see CONTRIBUTING.md). Everything written here is made by the peers moeckpt must agree
with, so tests compare moeckpt against them rather than against moeckpt's own idea of a format.

    python3 testdata/generate.py OUTDIR [--parts models,torchbin,formats,schemes,fp8model]

Each part catches its own failures and records them in OUTDIR/report.json, so one family that
transformers cannot build does not cost the others.
"""
import argparse
import collections
import hashlib
import inspect
import io
import json
import math
import os
import pickletools
import shutil
import sys
import traceback
import zipfile

import numpy as np
import torch

REPORT = {"versions": {}, "parts": {}, "errors": {}}


def note_error(part, key, exc):
    REPORT["errors"].setdefault(part, {})[key] = "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]


# ----------------------------------------------------------------------------------------------
# safetensors' own view of a file: what inspect --json must agree with.

ST_DTYPE = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2", torch.complex64: "C64",
}
if hasattr(torch, "float8_e8m0fnu"):
    ST_DTYPE[torch.float8_e8m0fnu] = "F8_E8M0"
for _n in ("uint16", "uint32", "uint64"):
    if hasattr(torch, _n):
        ST_DTYPE[getattr(torch, _n)] = {"uint16": "U16", "uint32": "U32", "uint64": "U64"}[_n]
if hasattr(torch, "float4_e2m1fn_x2"):
    ST_DTYPE[torch.float4_e2m1fn_x2] = "F4"


def safetensors_view(directory):
    """Tensor list of every .safetensors file under directory, read with safetensors itself
    (header parsed by the reference implementation, not by us)."""
    out = {"files": {}}
    for fn in sorted(os.listdir(directory)):
        if not fn.endswith(".safetensors"):
            continue
        path = os.path.join(directory, fn)
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        meta = header.pop("__metadata__", None)
        # Cross-check the raw header against safetensors' own loader.
        from safetensors import safe_open
        with safe_open(path, framework="pt") as f:
            keys = sorted(f.keys())
            assert keys == sorted(header.keys()), (keys, sorted(header.keys()))
        tensors = [{"name": k, "dtype": header[k]["dtype"], "shape": header[k]["shape"],
                    "data_offsets": header[k]["data_offsets"]} for k in sorted(header)]
        out["files"][fn] = {"bytes": os.path.getsize(path), "metadata": meta, "tensors": tensors}
    return out


# ----------------------------------------------------------------------------------------------
# Part: MoE families through transformers' own save_pretrained.

MOE_KEYS = ["num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts",
            "num_experts_per_tok", "top_k_experts", "moe_k", "moe_topk", "num_moe_experts",
            "moe_num_routed_experts", "n_experts"]

TINY = {
    "vocab_size": 128, "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 32,
    "shared_expert_intermediate_size": 32, "moe_shared_expert_intermediate_size": 32,
    "expert_intermediate_size": 32, "intermediate_size_mlp": 96,
    "num_hidden_layers": 2, "num_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 16, "max_position_embeddings": 256,
    "num_experts": 4, "num_local_experts": 4, "n_routed_experts": 4, "moe_num_experts": 4,
    "num_moe_experts": 4, "moe_num_routed_experts": 4, "n_experts": 4,
    "num_experts_per_tok": 2, "num_experts_per_token": 2, "top_k_experts": 2, "moe_k": 2, "moe_topk": 2,
    "n_group": 1, "topk_group": 1, "first_k_dense_replace": 1,
    "kv_lora_rank": 16, "q_lora_rank": 32, "qk_rope_head_dim": 8, "qk_nope_head_dim": 16,
    "v_head_dim": 16, "qk_head_dim": 24,
    "decoder_sparse_step": 1, "moe_layer_freq": 1, "mlp_only_layers": [],
    "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": False,
    "sliding_window": 64,
    # linear-attention / SSM sizes of hybrid families
    "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 16,
    "linear_value_head_dim": 16, "linear_conv_kernel_dim": 4,
    "mamba_d_state": 8, "mamba_dt_rank": 8, "mamba_n_heads": 8, "mamba_d_head": 16,
    "mamba_n_groups": 1, "mamba_num_heads": 8, "mamba_head_dim": 16, "ssm_state_size": 16,
    "n_groups": 1, "chunk_size": 16, "conv_kernel": 4, "time_step_rank": 8,
    "index_n_heads": 2, "index_head_dim": 16, "index_topk": 8,
}

# Families whose layer schedule or sub-modules need more than the generic sizes above.
PER_TYPE = {
    "jamba": {"attn_layer_period": 2, "attn_layer_offset": 1, "expert_layer_period": 2,
              "expert_layer_offset": 1, "mamba_expand": 2, "mamba_d_conv": 4},
    "nemotron_h": {"num_hidden_layers": 3, "hybrid_override_pattern": "M*E",
                   "n_shared_experts": 1},
    "llama4_text": {"interleave_moe_layer_step": 1, "intermediate_size": 32},
    "mixtral": {"intermediate_size": 32},
    "phimoe": {"intermediate_size": 32},
    "jetmoe": {"intermediate_size": 32, "kv_channels": 16, "num_key_value_heads": 4},
    "granitemoe": {"intermediate_size": 32},
    "granitemoeshared": {"intermediate_size": 32},
    "granitemoehybrid": {"intermediate_size": 32},
    "olmoe": {"intermediate_size": 32},
    "dbrx": {},
    "gpt_oss": {"intermediate_size": 32},
}

SHARDED_TYPE = "qwen3_moe"
ONLY = set()  # --only: the model types the models part builds (all when empty)


def discover_moe_types():
    from transformers import CONFIG_MAPPING
    found, skipped = [], {}
    for mt in sorted(CONFIG_MAPPING.keys()):
        try:
            cls = CONFIG_MAPPING[mt]
            d = cls().to_dict()
        except Exception as e:  # noqa: BLE001
            skipped[mt] = f"default config failed: {e}"[:300]
            continue
        keys = [k for k in MOE_KEYS if k in d]
        if keys:
            found.append((mt, keys))
        else:
            subs = [k for k, v in d.items() if isinstance(v, dict) and any(m in v for m in MOE_KEYS)]
            if subs:
                skipped[mt] = f"composite: MoE keys only under {subs}"
    return found, skipped


def tiny_config(mt, extra=None):
    """The tiny config of model type mt; extra (a family's overrides, sub-configs as dicts) is
    applied last, before the config class validates the whole."""
    from transformers import CONFIG_MAPPING
    cls = CONFIG_MAPPING[mt]
    default = cls().to_dict()
    kw = {}
    for k, v in TINY.items():
        if k in default:
            kw[k] = v
    for k, v in default.items():  # keep optional sub-sizes consistent with the tiny hidden size
        if k == "n_shared_experts" and isinstance(v, int) and v > 0:
            kw[k] = 1
        if k == "num_shared_experts" and isinstance(v, int) and v > 0:
            kw[k] = 1
    n = kw.get("num_hidden_layers", 2)
    lt = default.get("layer_types")
    if isinstance(lt, list) and lt:
        distinct = list(dict.fromkeys(lt))
        if len(distinct) > 1:
            n = max(2, len(distinct))
            kw["layer_types"] = distinct + distinct[: n - len(distinct)]
        else:
            kw["layer_types"] = [distinct[0]] * n
        if "num_hidden_layers" in default:
            kw["num_hidden_layers"] = n
    if isinstance(default.get("layers_block_type"), list):
        distinct = list(dict.fromkeys(default["layers_block_type"]))
        kw["layers_block_type"] = distinct
        kw["num_hidden_layers"] = len(distinct)
    kw.update(PER_TYPE.get(mt, {}))
    if "hybrid_override_pattern" in kw:
        kw["num_hidden_layers"] = len(kw["hybrid_override_pattern"])
    kw.update(extra or {})
    return cls(**kw), default


def build_model(cfg):
    from transformers import AutoModelForCausalLM, AutoModel
    errs = []
    for auto in (AutoModelForCausalLM, AutoModel):
        try:
            return auto.from_config(cfg, dtype=torch.bfloat16), auto.__name__
        except Exception as e:  # noqa: BLE001
            errs.append(f"{auto.__name__}: {type(e).__name__}: {e}"[:1500])
    raise RuntimeError(" | ".join(errs))


def part_models(out):
    import transformers
    root = os.path.join(out, "models")
    os.makedirs(root, exist_ok=True)
    found, skipped = discover_moe_types()
    REPORT["parts"]["models"] = {"discovered": [m for m, _ in found], "skipped": skipped,
                                 "built": {}, "default_configs": {}}
    for mt, keys in found:
        if ONLY and mt not in ONLY:
            continue
        torch.manual_seed(0)
        d = os.path.join(root, mt)
        try:
            cfg, default = tiny_config(mt)
            REPORT["parts"]["models"]["default_configs"][mt] = {
                k: v for k, v in default.items() if not isinstance(v, (dict, list)) or k in ("layer_types", "mlp_only_layers", "architectures")}
            model, auto = build_model(cfg)
            nparams = sum(p.numel() for p in model.parameters())
            if nparams > 4_000_000:
                raise RuntimeError(f"tiny model too large: {nparams} params")
            shard = "300KB" if mt == SHARDED_TYPE else "50MB"
            model.save_pretrained(d, max_shard_size=shard)
            REPORT["parts"]["models"]["built"][mt] = {
                "class": type(model).__name__, "auto": auto, "params": nparams,
                "state_dict_keys": sorted(model.state_dict().keys())[:4000]}
            with open(os.path.join(d, "reference.json"), "w") as f:
                json.dump({"generator": "safetensors " + __import__("safetensors").__version__,
                           "transformers": transformers.__version__,
                           "model_class": type(model).__name__, **safetensors_view(d)},
                          f, indent=1, sort_keys=True)
        except Exception as e:  # noqa: BLE001
            note_error("models", mt, e)
            shutil.rmtree(d, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Part: torch.save zip checkpoints (.bin/.pt) and PyTorch's own view of them.

def torch_view(obj):
    rows = []
    for k, t in obj.items():
        c = t.detach().contiguous()
        raw = c.reshape(-1).view(torch.uint8).numpy().tobytes() if c.numel() else b""
        rows.append({"name": k, "dtype": ST_DTYPE.get(t.dtype, str(t.dtype)), "torch_dtype": str(t.dtype),
                     "shape": list(t.shape), "stride": list(t.stride()),
                     "storage_offset": t.storage_offset(),
                     "storage_ptr": t.untyped_storage().data_ptr(),
                     "sha256": hashlib.sha256(raw).hexdigest()})
    ptrs = {}
    for r in rows:
        ptrs.setdefault(r["storage_ptr"], []).append(r["name"])
    for r in rows:
        r["shares_storage_with"] = sorted(n for n in ptrs[r.pop("storage_ptr")] if n != r["name"])
    return sorted(rows, key=lambda r: r["name"])


def dis(path):
    with zipfile.ZipFile(path) as z:
        name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        buf = io.StringIO()
        pickletools.dis(z.read(name), out=buf)
        return {"entries": [(i.filename, i.compress_type, i.file_size, i.header_offset) for i in z.infolist()],
                "data_pkl": buf.getvalue()[:60000]}


def part_torchbin(out):
    root = os.path.join(out, "torchbin")
    os.makedirs(root, exist_ok=True)
    torch.manual_seed(1)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 5)
    sd["bf16"] = torch.randn(4, 6).to(torch.bfloat16)
    sd["f16"] = torch.randn(7).half()
    sd["f64"] = torch.randn(2, 2, dtype=torch.float64)
    sd["fp8_e4m3"] = (torch.randn(8, 4) * 10).to(torch.float8_e4m3fn)
    sd["fp8_e5m2"] = (torch.randn(8, 4) * 10).to(torch.float8_e5m2)
    if hasattr(torch, "float8_e8m0fnu"):
        sd["fp8_e8m0"] = torch.tensor([0.25, 1.0, 4.0, 1024.0]).to(torch.float8_e8m0fnu)
    sd["i64"] = torch.arange(10)
    sd["i32"] = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    sd["i8"] = torch.tensor([-3, 0, 7], dtype=torch.int8)
    sd["u8"] = torch.tensor([1, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 4)
    base = torch.randn(6, 4)
    sd["tied_a"] = base
    sd["tied_b"] = base
    sd["view_rows"] = base[2:4]
    sd["transposed"] = base.t()
    sd["param"] = torch.nn.Parameter(torch.randn(2, 3), requires_grad=False)
    variants = {"state.bin": {}, "state_protocol4.pt": {"pickle_protocol": 4}}
    views = {}
    for fn, kw in variants.items():
        p = os.path.join(root, fn)
        torch.save(sd, p, **kw)
        # weights_only=False: torch's safe unpickler refuses protocol 4's FRAME opcode; our own file.
        back = torch.load(p, weights_only=False)
        views[fn] = {"tensors": torch_view(back), "zip": dis(p)}
    # A legacy (pre-1.6, non-zip) file: moeckpt must refuse it with a clear message.
    torch.save({"x": torch.ones(2)}, os.path.join(root, "legacy.bin"), _use_new_zipfile_serialization=False)
    # A real model state dict, single and sharded with pytorch_model.bin.index.json.
    from transformers import MixtralConfig, AutoModelForCausalLM
    cfg = MixtralConfig(vocab_size=128, hidden_size=64, intermediate_size=32, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                        num_experts_per_tok=2, max_position_embeddings=256, tie_word_embeddings=False)
    torch.manual_seed(2)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    msd = collections.OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    d1 = os.path.join(root, "mixtral_bin")
    os.makedirs(d1, exist_ok=True)
    cfg.save_pretrained(d1)
    torch.save(msd, os.path.join(d1, "pytorch_model.bin"))
    views["mixtral_bin/pytorch_model.bin"] = {"tensors": torch_view(torch.load(os.path.join(d1, "pytorch_model.bin"), weights_only=True)),
                                              "zip": dis(os.path.join(d1, "pytorch_model.bin"))}
    d2 = os.path.join(root, "mixtral_bin_sharded")
    os.makedirs(d2, exist_ok=True)
    cfg.save_pretrained(d2)
    keys = list(msd.keys())
    half = len(keys) // 2
    wm, total = {}, 0
    for i, part in enumerate((keys[:half], keys[half:])):
        fn = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save(collections.OrderedDict((k, msd[k]) for k in part), os.path.join(d2, fn))
        for k in part:
            wm[k] = fn
            total += msd[k].numel() * msd[k].element_size()
    with open(os.path.join(d2, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2, sort_keys=True)
    with open(os.path.join(root, "reference.json"), "w") as f:
        json.dump({"torch": torch.__version__, "views": views}, f, indent=1, sort_keys=True)
    REPORT["parts"]["torchbin"] = "ok"


# ----------------------------------------------------------------------------------------------
# Part: number-format tables from ml_dtypes and torch.

def part_formats(out):
    import ml_dtypes
    root = os.path.join(out, "formats")
    os.makedirs(root, exist_ok=True)
    fmts = {
        "f8_e4m3fn": (ml_dtypes.float8_e4m3fn, torch.float8_e4m3fn, 8),
        "f8_e5m2": (ml_dtypes.float8_e5m2, torch.float8_e5m2, 8),
        "f8_e4m3fnuz": (ml_dtypes.float8_e4m3fnuz, torch.float8_e4m3fnuz, 8),
        "f8_e5m2fnuz": (ml_dtypes.float8_e5m2fnuz, torch.float8_e5m2fnuz, 8),
        "f8_e8m0fnu": (ml_dtypes.float8_e8m0fnu, getattr(torch, "float8_e8m0fnu", None), 8),
        "f4_e2m1fn": (ml_dtypes.float4_e2m1fn, None, 4),
        "bf16": (ml_dtypes.bfloat16, torch.bfloat16, 16),
        "f16": (np.float16, torch.float16, 16),
    }
    summary = {"ml_dtypes": ml_dtypes.__version__, "torch": torch.__version__, "formats": {}}
    # Decode tables: every code -> float32 bits, by ml_dtypes.
    for name, (mld, _, bits) in fmts.items():
        ncodes = 1 << bits
        codes = np.arange(ncodes, dtype=np.uint16 if bits == 16 else np.uint8)
        vals = codes.view(mld) if bits >= 8 else codes.astype(np.uint8).view(mld)
        f = vals.astype(np.float32)
        f.view(np.uint32).astype("<u4").tofile(os.path.join(root, f"decode_{name}.u32"))
    # Encode inputs: float32 values chosen to hit every rounding case of every format.
    rng = np.random.default_rng(1234)
    parts = []
    parts.append((np.arange(65536, dtype=np.uint32) << 16).view(np.float32))  # every bf16 value
    parts.append(rng.integers(0, 2**32, size=40000, dtype=np.uint64).astype(np.uint32).view(np.float32))
    for name, (mld, _, bits) in fmts.items():
        ncodes = 1 << bits
        codes = np.arange(ncodes, dtype=np.uint16 if bits == 16 else np.uint8)
        v = (codes.view(mld) if bits >= 8 else codes.view(mld)).astype(np.float64)
        v = np.unique(v[np.isfinite(v)])
        if bits == 16:
            v = v[rng.choice(len(v), size=min(len(v), 3000), replace=False)]
            v = np.unique(v)
        mids = (v[:-1] + v[1:]) / 2
        m32 = mids.astype(np.float32)
        near = np.concatenate([m32, np.nextafter(m32, np.float32(np.inf)), np.nextafter(m32, np.float32(-np.inf)),
                               v.astype(np.float32), np.nextafter(v.astype(np.float32), np.float32(np.inf)),
                               np.nextafter(v.astype(np.float32), np.float32(-np.inf))])
        top = v.max()
        step = v[-1] - v[-2]
        over = np.array([top + step / 2, top + step / 2 * 0.999, top + step, top * 2, top * 1e3,
                         top + step / 4, top + step * 0.75], dtype=np.float64).astype(np.float32)
        near = np.concatenate([near, over])
        parts.append(near)
        parts.append(-near)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38],
                       dtype=np.float32)
    nan_payloads = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7FA00000], dtype=np.uint32).view(np.float32)
    parts += [special, nan_payloads]
    for e in range(-150, 130, 1):  # gaussian values across every binade
        parts.append((rng.standard_normal(120) * (2.0 ** e)).astype(np.float32))
    x = np.concatenate(parts).astype(np.float32)
    x.view(np.uint32).astype("<u4").tofile(os.path.join(root, "encode_inputs.f32"))
    summary["num_inputs"] = int(len(x))
    for name, (mld, tdt, bits) in fmts.items():
        enc = x.astype(mld)
        codes = enc.view(np.uint16 if bits == 16 else np.uint8)
        codes.astype("<u2" if bits == 16 else "u1").tofile(os.path.join(root, f"encode_{name}_mldtypes.bin"))
        info = {"bits": bits}
        if tdt is not None:
            try:
                tcodes = torch.from_numpy(x.copy()).to(tdt).view(torch.int16 if bits == 16 else torch.uint8).numpy()
                tcodes = tcodes.view(np.uint16) if bits == 16 else tcodes
                dec_m = enc.astype(np.float32)
                isnan_m = np.isnan(dec_m)
                diff = (tcodes != codes) & ~(isnan_m & np.isnan(tcodes.view(mld).astype(np.float32)))
                info["torch_disagreements"] = int(diff.sum())
                if diff.any():
                    idx = np.nonzero(diff)[0][:40]
                    info["torch_disagreement_examples"] = [
                        {"input_bits": f"0x{int(x.view(np.uint32)[i]):08x}", "input": float(x[i]),
                         "mldtypes": int(codes[i]), "torch": int(tcodes[i])} for i in idx]
                tcodes.astype("<u2" if bits == 16 else "u1").tofile(os.path.join(root, f"encode_{name}_torch.bin"))
            except Exception as e:  # noqa: BLE001
                info["torch_error"] = str(e)[:300]
        summary["formats"][name] = info
    with open(os.path.join(root, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    REPORT["parts"]["formats"] = summary


# ----------------------------------------------------------------------------------------------
# Part: quantized schemes with references computed by torch (and transformers where it has one).

E2M1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def unpack_e2m1(packed_u8, last_dim):
    p = packed_u8.to(torch.int64)
    lo, hi = p & 0xF, p >> 4
    vals = torch.stack([E2M1[lo], E2M1[hi]], dim=-1).reshape(*packed_u8.shape[:-1], packed_u8.shape[-1] * 2)
    return vals[..., :last_dim].to(torch.float32)


def block_fp8_quant(w, b0=128, b1=128):
    out_, in_ = w.shape
    so, si = math.ceil(out_ / b0), math.ceil(in_ / b1)
    scale = torch.empty(so, si, dtype=torch.float32)
    q = torch.empty(out_, in_, dtype=torch.float8_e4m3fn)
    wf = w.float()
    for i in range(so):
        for j in range(si):
            blk = wf[i * b0:(i + 1) * b0, j * b1:(j + 1) * b1]
            s = blk.abs().max() / 448.0
            s = torch.where(s == 0, torch.ones_like(s), s)
            scale[i, j] = s
            q[i * b0:(i + 1) * b0, j * b1:(j + 1) * b1] = (blk / s).to(torch.float8_e4m3fn)
    return q, scale


def block_fp8_dequant(q, scale, b0=128, b1=128):
    s = scale.repeat_interleave(b0, 0)[: q.shape[0]].repeat_interleave(b1, 1)[:, : q.shape[1]]
    return q.to(torch.float32) * s


def part_schemes(out):
    from safetensors.torch import save_file
    root = os.path.join(out, "schemes")
    os.makedirs(root, exist_ok=True)
    torch.manual_seed(3)
    info = {}

    def refs(dq32):
        return {"bf16": dq32.to(torch.bfloat16), "f16": dq32.to(torch.float16), "f32": dq32}

    # Block FP8 (DeepSeek V3 / FineGrainedFP8): edges not multiples of the block.
    w1 = torch.randn(300, 200, dtype=torch.float32) * 0.05
    w1[5, 7] = 3.0  # an outlier that sets one block's scale
    q1, s1 = block_fp8_quant(w1)
    w2 = torch.randn(128, 256, dtype=torch.float32)
    q2, s2 = block_fp8_quant(w2)
    w3 = torch.randn(64, 96, dtype=torch.float32)  # block 32x64 from quantization_config
    q3, s3 = block_fp8_quant(w3, 32, 64)
    t = {"a.weight": q1, "a.weight_scale_inv": s1, "b.weight": q2, "b.weight_scale_inv": s2,
         "norm.weight": torch.randn(64).to(torch.bfloat16)}
    save_file(t, os.path.join(root, "block_fp8.safetensors"), metadata={"format": "pt"})
    r = {}
    for n, (q, s) in {"a.weight": (q1, s1), "b.weight": (q2, s2)}.items():
        for k, v in refs(block_fp8_dequant(q, s)).items():
            r[f"{n}.{k}"] = v
    save_file(r, os.path.join(root, "block_fp8.ref.safetensors"))
    # The same with a 32x64 block declared in config.json.
    d = os.path.join(root, "block_fp8_32x64")
    os.makedirs(d, exist_ok=True)
    save_file({"c.weight": q3, "c.weight_scale_inv": s3}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                           "weight_block_size": [32, 64]}}, f, indent=2)
    save_file({f"c.weight.{k}": v for k, v in refs(block_fp8_dequant(q3, s3, 32, 64)).items()},
              os.path.join(root, "block_fp8_32x64.ref.safetensors"))
    # Squeezed / flattened scales as transformers 5.x may save for experts.
    save_file({"e.weight": q2, "e.weight_scale_inv": s2.reshape(-1)}, os.path.join(root, "block_fp8_flat_scale.safetensors"))

    # Per-tensor and per-channel FP8.
    w = torch.randn(48, 40)
    st = (w.abs().max() / 448).reshape(())
    qt = (w / st).to(torch.float8_e4m3fn)
    sc = (w.abs().amax(dim=1) / 448)
    qc = (w / sc[:, None]).to(torch.float8_e4m3fn)
    save_file({"t.weight": qt, "t.weight_scale": st.float(), "t.input_scale": torch.tensor(0.02),
               "c.weight": qc, "c.weight_scale": sc.float()}, os.path.join(root, "per_tensor_fp8.safetensors"))
    r = {}
    for k, v in refs(qt.float() * st).items():
        r[f"t.weight.{k}"] = v
    for k, v in refs(qc.float() * sc[:, None]).items():
        r[f"c.weight.{k}"] = v
    save_file(r, os.path.join(root, "per_tensor_fp8.ref.safetensors"))

    # MXFP4, gpt-oss layout, reference by transformers' own dequantizer.
    E, O, I = 2, 64, 96
    blocks = torch.randint(0, 256, (E, O, I // 32, 16), dtype=torch.uint8)
    scales = torch.randint(118, 136, (E, O, I // 32), dtype=torch.uint8)
    save_file({"model.layers.0.mlp.experts.gate_up_proj_blocks": blocks,
               "model.layers.0.mlp.experts.gate_up_proj_scales": scales},
              os.path.join(root, "mxfp4_gptoss.safetensors"))
    try:
        from transformers.integrations.mxfp4 import convert_moe_packed_tensors
        ref = {}
        for dt, k in ((torch.bfloat16, "bf16"), (torch.float32, "f32"), (torch.float16, "f16")):
            ref[f"gate_up_proj.{k}"] = convert_moe_packed_tensors(blocks.clone(), scales.clone(), dtype=dt).cpu()
        save_file(ref, os.path.join(root, "mxfp4_gptoss.ref_transformers.safetensors"))
    except Exception as e:  # noqa: BLE001
        note_error("schemes", "mxfp4_transformers", e)
    vals = unpack_e2m1(blocks.reshape(E, O, -1), I)  # [E, O, I]
    sc = torch.pow(2.0, scales.to(torch.float32) - 127).repeat_interleave(32, -1)
    dq = (vals * sc).transpose(1, 2).contiguous()  # [E, I, O]
    save_file({f"gate_up_proj.{k}": v for k, v in refs(dq).items()}, os.path.join(root, "mxfp4_gptoss.ref.safetensors"))

    # MXFP4, DeepSeek V4 layout: packed I8 [out, in/2] + e8m0 scale [out, in/32].
    O, I = 64, 128
    packed = torch.randint(-128, 128, (O, I // 2), dtype=torch.int8)
    s8 = torch.randint(120, 134, (O, I // 32), dtype=torch.uint8)
    tens = {"layers.1.ffn.experts.0.w1.weight": packed}
    if hasattr(torch, "float8_e8m0fnu"):
        tens["layers.1.ffn.experts.0.w1.scale"] = s8.view(torch.float8_e8m0fnu)
    else:
        tens["layers.1.ffn.experts.0.w1.scale"] = s8
    tens["layers.1.ffn.experts.0.w2.weight"] = packed.clone()
    tens["layers.1.ffn.experts.0.w2.scale"] = s8.clone()  # U8 spelling
    save_file(tens, os.path.join(root, "mxfp4_dsv4.safetensors"))
    vals = unpack_e2m1(packed.view(torch.uint8), I)
    dq = vals * torch.pow(2.0, s8.to(torch.float32) - 127).repeat_interleave(32, -1)
    save_file({f"w.{k}": v for k, v in refs(dq).items()}, os.path.join(root, "mxfp4_dsv4.ref.safetensors"))

    # NVFP4 (ModelOpt).
    O, I = 64, 128
    packed = torch.randint(0, 256, (O, I // 2), dtype=torch.uint8)
    bs = (torch.rand(O, I // 16) * 4 + 0.05).to(torch.float8_e4m3fn)
    ws2 = torch.tensor(0.0123, dtype=torch.float32)
    save_file({"l.weight": packed, "l.weight_scale": bs, "l.weight_scale_2": ws2,
               "l.input_scale": torch.tensor(0.5, dtype=torch.float32)}, os.path.join(root, "nvfp4.safetensors"))
    block_scale = bs.to(torch.float32) * ws2
    dq = unpack_e2m1(packed, I) * block_scale.repeat_interleave(16, -1)
    save_file({f"l.weight.{k}": v for k, v in refs(dq).items()}, os.path.join(root, "nvfp4.ref.safetensors"))

    # Native F4 / F8_E8M0 dtypes as safetensors 0.8 writes them.
    if hasattr(torch, "float4_e2m1fn_x2"):
        try:
            save_file({"f4": torch.randint(0, 256, (8, 4), dtype=torch.uint8).view(torch.float4_e2m1fn_x2),
                       "e8m0": s8[:4, :2].contiguous().view(torch.float8_e8m0fnu)},
                      os.path.join(root, "native_f4_e8m0.safetensors"))
        except Exception as e:  # noqa: BLE001
            note_error("schemes", "native_f4", e)

    # BF16 / F32 sources for quantize round trips and casts.
    save_file({"x.weight": (torch.randn(256, 384) * 0.02).to(torch.bfloat16),
               "y.weight": torch.randn(130, 70, dtype=torch.float32),
               "z.bias": torch.randn(70, dtype=torch.float32)}, os.path.join(root, "dense_src.safetensors"))
    info["files"] = sorted(os.listdir(root))
    REPORT["parts"]["schemes"] = info


# ----------------------------------------------------------------------------------------------
# Part: a transformers FineGrainedFP8 checkpoint and its BF16 original.

def fp8_block_dequant_torch(w, s, block=128):
    """Block FP8 dequant written directly in torch: each 128x128 block times its scale."""
    out_f, in_f = w.shape[-2], w.shape[-1]
    sf = s.float().repeat_interleave(block, dim=-2)[..., :out_f, :].repeat_interleave(block, dim=-1)[..., :in_f]
    return (w.float() * sf).to(torch.bfloat16)


def build_fp8model(root, name, moe_intermediate_size, intermediate_size, seed):
    from transformers import AutoModelForCausalLM, Qwen3MoeConfig, FineGrainedFP8Config
    from safetensors.torch import load_file, save_file
    cfg = Qwen3MoeConfig(vocab_size=256, hidden_size=256, intermediate_size=intermediate_size,
                         moe_intermediate_size=moe_intermediate_size,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                         num_experts=4, num_experts_per_tok=2, max_position_embeddings=256,
                         tie_word_embeddings=False, mlp_only_layers=[0], decoder_sparse_step=1)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    src = os.path.join(root, name + "_bf16")
    model.save_pretrained(src)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    qm = AutoModelForCausalLM.from_pretrained(src, quantization_config=FineGrainedFP8Config(), device_map=dev,
                                              dtype=torch.bfloat16)
    dst = os.path.join(root, name + "_fp8")
    qm.save_pretrained(dst)
    info = {"src": safetensors_view(src), "fp8": safetensors_view(dst)}
    # Reference dequant computed here with plain torch from the saved FP8 tensors.
    sd = {}
    for fn in sorted(os.listdir(dst)):
        if fn.endswith(".safetensors"):
            sd.update(load_file(os.path.join(dst, fn)))
    ref = {}
    for k, v in sd.items():
        if k.endswith("_scale_inv"):
            continue
        sk = k[: -len("weight")] + "weight_scale_inv" if k.endswith(".weight") else None
        if v.dtype == torch.float8_e4m3fn and sk in sd and sd[sk].dim() == v.dim():
            ref[k] = fp8_block_dequant_torch(v, sd[sk])
        else:
            ref[k] = v
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(root, name + "_fp8.dequant_torch.safetensors"))
    try:
        dq = AutoModelForCausalLM.from_pretrained(dst, quantization_config=FineGrainedFP8Config(dequantize=True),
                                                  device_map="cpu", dtype=torch.bfloat16)
        save_file({k: v.detach().contiguous().cpu() for k, v in dq.state_dict().items()},
                  os.path.join(root, name + "_fp8.dequant_transformers.safetensors"))
        info["dequant_transformers"] = "ok"
    except Exception as e:  # noqa: BLE001
        note_error("fp8model", name + "_dequantize", e)
    return info, sorted(os.listdir(dst))


def part_fp8model(out):
    root = os.path.join(out, "fp8model")
    os.makedirs(root, exist_ok=True)
    info, files = {}, {}
    # qwen3_moe: moe_intermediate_size 192 puts a fused gate_up split inside a 128-row block
    # (transformers writes scales moeckpt must reject); qwen3_moe_aligned: every dim a multiple of 128.
    for name, moe_i, inter, seed in (("qwen3_moe", 192, 384, 4), ("qwen3_moe_aligned", 256, 512, 5)):
        try:
            info[name], files[name] = build_fp8model(root, name, moe_i, inter, seed)
        except Exception as e:  # noqa: BLE001
            note_error("fp8model", name, e)
    REPORT["parts"]["fp8model"] = {"files": files}
    with open(os.path.join(root, "reference.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)


PARTS = {"models": part_models, "torchbin": part_torchbin, "formats": part_formats, "schemes": part_schemes,
         "fp8model": part_fp8model}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--only", default="", help="models part: build only these model types (comma-separated)")
    a = ap.parse_args()
    ONLY.update(t for t in a.only.split(",") if t)
    os.makedirs(a.out, exist_ok=True)
    import safetensors
    REPORT["versions"] = {"torch": torch.__version__, "numpy": np.__version__,
                          "safetensors": safetensors.__version__, "python": sys.version}
    try:
        import transformers, ml_dtypes
        REPORT["versions"].update(transformers=transformers.__version__, ml_dtypes=ml_dtypes.__version__)
    except Exception as e:  # noqa: BLE001
        note_error("versions", "import", e)
    for p in a.parts.split(","):
        try:
            PARTS[p](a.out)
        except Exception as e:  # noqa: BLE001
            note_error(p, "part", e)
        print(f"part {p} done", flush=True)
    with open(os.path.join(a.out, "report.json"), "w") as f:
        json.dump(REPORT, f, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
