#!/usr/bin/env python3
"""Builds the composite (multimodal wrapper) fixtures, and the text families the main generator
could not build, in the reference environment, with transformers' own classes.

    python3 testdata/generate_composite.py OUTDIR [MODEL_TYPE...]
    (e.g. OUTDIR ernie4_5_vl_moe qwen3_omni_moe ernie4_5_vl_moe_text: the two wrappers whose
    main fixtures testdata/make_composite_wrappers.py synthesizes, and ERNIE's text model)

For each composite MoE model type transformers 5 knows (its MoE keys only under text_config):
OUTDIR/composite/<type>/ is the full checkpoint from save_pretrained (towers included) and
OUTDIR/composite/<type>_lm_only/ the same config with only the language model's tensors, as
text-only releases under the wrapper's names ship. Tiny sizes: the text model takes
generate.py's TINY sizes, every other sub-config VISION_TINY's. OUTDIR/composite_report.json
records each build, its class, tensor names, and every failure with its traceback.
"""
import json
import os
import shutil
import sys
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate as g  # noqa: E402  (TINY, safetensors_view)

COMPOSITE = ["qwen3_vl_moe", "qwen3_5_moe", "glm4v_moe", "gemma4", "llama4", "aria", "ernie4_5_vl_moe",
             "kimi_k25", "kimi_vl", "minimax_m3_vl", "deepseek_ocr2", "deepseek_vl_v2", "qwen3_omni_moe",
             "qwen3_omni_moe_thinker", "inkling_mm_model", "step3p7", "glm5_next", "diffusion_gemma", "qwen4_exp"]
# Sub-configs holding the language model (their own sub-configs are shrunk the same way).
TEXT_KEYS = ("text_config", "llm_config", "language_config")
# Sub-configs left as they are: a wrapper that is only partly built here (the Qwen3-Omni talker and
# code2wav are not what vLLM's thinker class loads) still needs them to be small.
PARAM_LIMIT = 3_000_000
# Sizes for vision/audio/projector sub-configs; the keys that meet the text model must equal its
# hidden size (64).
VISION_TINY = {"depth": 1, "num_hidden_layers": 1, "num_layers": 1, "hidden_size": 32, "intermediate_size": 64,
               "num_heads": 2, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 16,
               "out_hidden_size": 64, "projection_dim": 64, "text_hidden_size": 64, "output_dim": 64,
               "fullatt_block_indexes": [0], "deepstack_visual_indexes": [0], "vision_output_dim": 64,
               "projector_hidden_size": 64, "d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2,
               "encoder_ffn_dim": 64, "num_mel_bins": 16, "vocab_size": 128,
               # Qwen3-Omni's audio convs (480 channels by default) made the thinker 4.47M parameters.
               "downsample_hidden_size": 16}
# Text families generate.py could not build, with the overrides that make them tiny.
TEXT_RETRY = {
    "lfm2_moe": [{"layer_types": ["conv", "full_attention"], "num_dense_layers": 1},
                 {"full_attn_idxs": [1], "num_dense_layers": 1}],
    "gemma4_text": [{"vocab_size_per_layer_input": 128, "hidden_size_per_layer_input": 16, "num_kv_shared_layers": 0,
                     "global_head_dim": 16, "moe_intermediate_size": 32}],
    "longcat_flash": [{"expert_ffn_hidden_size": 32, "ffn_hidden_size": 96, "num_layers": 1, "zero_expert_num": 2}],
    "deepseek_ocr2_text": [{}],
    # DBRX keeps its sizes under attn_config / ffn_config (sub-configs given as dicts).
    "dbrx": [{"d_model": 64, "n_heads": 4, "n_layers": 2, "max_seq_len": 256, "vocab_size": 128,
              "attn_config": {"kv_n_heads": 2, "clip_qkv": 8.0},
              "ffn_config": {"moe_num_experts": 4, "moe_top_k": 2, "ffn_hidden_size": 32}},
             # transformers 5.17's DbrxAttention reads rope_theta from attn_config
             {"d_model": 64, "n_heads": 4, "n_layers": 2, "max_seq_len": 256, "vocab_size": 128,
              "attn_config": {"kv_n_heads": 2, "clip_qkv": 8.0, "rope_theta": 10000.0},
              "ffn_config": {"moe_num_experts": 4, "moe_top_k": 2, "ffn_hidden_size": 32}}],
    "step3p5": [{}],
    "zaya": [{"num_experts_per_tok": 1}],
    # Ernie4_5_VLMoeTextConfig types moe_intermediate_size as list[int] ([text, vision]); an int
    # failed validation. mrope_section must fit head_dim / 2 (16 / 2 here; the default
    # [22, 22, 20] left the rotary table empty).
    "ernie4_5_vl_moe_text": [{"moe_intermediate_size": [32, 16],
                              "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0, "mrope_section": [3, 3, 2]}}],
}
# Wrappers no auto class maps, built by their own class first (Qwen3OmniMoeTextConfig has no
# causal-LM class; the whole model is Qwen3OmniMoeForConditionalGeneration).
WRAPPER_CLASS = {"qwen3_omni_moe": "Qwen3OmniMoeForConditionalGeneration",
                 "ernie4_5_vl_moe": "Ernie4_5_VLMoeForConditionalGeneration"}
# Per wrapper, the top-level settings tried in order: Qwen3-Omni with its talker and code2wav
# (the release holds them; vLLM's thinker class skips them), then the thinker alone.
COMPOSITE_TRIES = {"qwen3_omni_moe": [{"enable_audio_output": True}, {"enable_audio_output": False}]}
# Text sub-configs whose mrope_section (summing to head_dim / 2 at full size) is scaled to the
# tiny head_dim.
FIT_MROPE = {"ernie4_5_vl_moe_text", "qwen3_omni_moe_text"}
REPORT = {"composite": {}, "text": {}, "errors": {}}


def note(part, key, exc):
    REPORT["errors"].setdefault(part, {})[key] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-2500:]


def shrink(sub, sizes):
    return {k: sizes[k] for k in sizes if k in sub}


def largest(model, n=6):
    return sorted(((p.numel(), name) for name, p in model.named_parameters()), reverse=True)[:n]


class Direct:
    """A model class used as an auto class is (from_config)."""

    def __init__(self, cls):
        self.cls, self.__name__ = cls, cls.__name__

    def from_config(self, c, dtype):
        return self.cls._from_config(c, dtype=dtype)


def direct_classes(cfg):
    """transformers' own wrapper classes for a config no auto class maps (Qwen3-Omni, say)."""
    import transformers

    out = []
    for name in sorted(dir(transformers)):
        if not name.endswith(("ForConditionalGeneration", "ForCausalLM")):
            continue
        try:
            cls = getattr(transformers, name)
        except Exception:  # noqa: BLE001
            continue
        if getattr(cls, "config_class", None) is type(cfg):
            out.append(Direct(cls))
    return out


def build(cls_autos, cfg, limit):
    # Counted on the meta device first: a sub-config left at its default size would otherwise
    # take minutes to initialise before being refused.
    errs = []
    for auto in list(cls_autos) + direct_classes(cfg):
        try:
            with torch.device("meta"):
                probe = auto.from_config(cfg, dtype=torch.bfloat16)
            n = sum(p.numel() for p in probe.parameters())
            if n == 0:  # a base class matched by name (Qwen3OmniMoePreTrainedModelForConditionalGeneration)
                raise RuntimeError("no parameters")
            if n > limit:
                raise RuntimeError(f"too large: {n} params; largest {largest(probe)}")
            return auto.from_config(cfg, dtype=torch.bfloat16), auto.__name__
        except Exception as e:  # noqa: BLE001
            errs.append(f"{auto.__name__}: {type(e).__name__}: {e}"[:800])
    raise RuntimeError(" | ".join(errs))


def fit_text(default, sub):
    """The text sub-config's per-layer lists and keyed settings cut to the tiny layer count, as
    generate.tiny_config does for text classes; list-valued sizes (one per layer kind) kept as lists."""
    n = sub.get("num_hidden_layers", 2)
    for key in ("layer_types", "mlp_layer_types"):
        lt = default.get(key)
        if isinstance(lt, list) and lt:
            distinct = list(dict.fromkeys(lt))
            n = max(n, len(distinct))
    for key in ("layer_types", "mlp_layer_types"):
        lt = default.get(key)
        if isinstance(lt, list) and lt:
            distinct = list(dict.fromkeys(lt))
            sub[key] = (distinct * n)[:n]
    sub["num_hidden_layers"] = n
    if isinstance(default.get("per_layer_config"), dict) or isinstance(sub.get("per_layer_config"), dict):
        sub["per_layer_config"] = {}
    for key in ("moe_intermediate_size", "moe_num_experts"):
        if isinstance(default.get(key), list):
            sub[key] = [g.TINY.get(key, 4) if key in g.TINY else 4] * len(default[key])
    if default.get("num_key_value_heads") == default.get("num_attention_heads"):
        sub["num_key_value_heads"] = sub.get("num_attention_heads", 4)
    if "index_kpool" in default and "index_topk" in sub:
        sub["index_topk"] = default["index_kpool"]
    if default.get("model_type") in FIT_MROPE:
        fit_mrope(sub)
    sub.update(g.PER_TYPE.get(default.get("model_type", ""), {}))
    sub.update({k: v for k, v in TEXT_RETRY.get(default.get("model_type", ""), [{}])[0].items() if k in default})


def fit_mrope(sub):
    """mrope_section scaled to the tiny head_dim / 2, in proportion, each part at least 1. ERNIE's
    rotary falls back to [22, 22, 20] when rope_parameters has none, so it is written out."""
    half = (sub.get("head_dim") or sub.get("hidden_size", 64) // sub.get("num_attention_heads", 4)) // 2
    if sub.get("model_type") == "ernie4_5_vl_moe_text":
        rp = sub.get("rope_parameters") if isinstance(sub.get("rope_parameters"), dict) else {}
        sub["rope_parameters"] = {"rope_type": "default", "rope_theta": 500000.0, **rp,
                                  "mrope_section": rp.get("mrope_section", [22, 22, 20])}
    for key in ("rope_parameters", "rope_scaling"):
        rp = sub.get(key)
        if not isinstance(rp, dict) or not isinstance(rp.get("mrope_section"), list):
            continue
        sec = rp["mrope_section"]
        total = sum(sec) or 1
        new = [max(1, half * x // total) for x in sec]
        new[-1] += half - sum(new)  # h and w parts stay equal (ERNIE pre-rotates them as pairs)
        sub[key] = dict(rp, mrope_section=new)


def is_moe(d):
    return isinstance(d, dict) and any(k in d for k in g.MOE_KEYS)


def shrink_tree(default, text):
    """A sub-config dict made tiny: TINY sizes (and fit_text) for a language model, VISION_TINY's
    for any other tower; nested sub-configs (Qwen3-Omni's thinker_config.text_config, say) alike."""
    sub = dict(default)
    sub.update(shrink(default, g.TINY if text else VISION_TINY))
    if text:
        fit_text(default, sub)
    else:
        fit_layers(sub)
    for k, v in default.items():
        if isinstance(v, dict) and ("model_type" in v or k.endswith("_config")):
            sub[k] = shrink_tree(v, k in TEXT_KEYS or (is_moe(v) and k != "talker_config"))
    return sub


def fit_layers(sub):
    """A tower's per-layer settings cut to its tiny layer count (vision encoders and talker
    code predictors validate len(layer_types) == num_hidden_layers, per_layer_config's keys)."""
    n = sub.get("num_hidden_layers")
    if isinstance(n, int) and isinstance(sub.get("layer_types"), list) and sub["layer_types"]:
        sub["layer_types"] = (list(dict.fromkeys(sub["layer_types"])) * n)[:n]
    if isinstance(sub.get("per_layer_config"), dict):
        sub["per_layer_config"] = {}


def composite_config(mt, extra=None):
    from transformers import CONFIG_MAPPING
    cls = CONFIG_MAPPING[mt]
    default = cls().to_dict()
    kw = {}
    for k, v in default.items():
        if isinstance(v, dict) and ("model_type" in v or k.endswith("_config")):
            kw[k] = shrink_tree(v, k in TEXT_KEYS or (is_moe(v) and k not in ("talker_config", "thinker_config")))
    kw.update(extra or {})
    return cls(**kw)


def meta_names(cfg, autos):
    """The state-dict names (and shapes) of a config's model on the meta device, for the report
    when the real build fails or is too large."""
    last = "no class"
    for auto in list(autos) + direct_classes(cfg):
        try:
            with torch.device("meta"):
                m = auto.from_config(cfg, dtype=torch.bfloat16)
            return {"class": type(m).__name__, "names": {k: list(v.shape) for k, v in m.state_dict().items()}}
        except Exception as e:  # noqa: BLE001
            last = f"{auto.__name__}: {type(e).__name__}: {e}"[:600]
    return {"error": last}


def lm_prefixes(model):
    """Where the language model sits in the state dict: the module get_decoder() returns (or
    model.language_model), plus every head."""
    found = set()
    try:
        targets = [model.get_decoder()]
    except Exception:  # noqa: BLE001
        targets = []
    for attr in ("language_model", "model.language_model", "thinker.model"):
        obj = model
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
            targets.append(obj)
        except AttributeError:
            pass
    for name, mod in model.named_modules():
        if name and any(mod is t for t in targets):
            found.add(name + ".")
    return sorted(found)


# Tower prefixes as the releases save them, for wrappers whose language model is saved at the root.
TOWERS = ("vision_model.", "model.vision_model.", "model.resampler_model.", "model.visual.", "visual.", "vision_tower.",
          "model.vision_tower.", "audio_tower.", "thinker.audio_tower.", "thinker.visual.", "talker.",
          "code2wav.", "mm_projector.", "multi_modal_projector.", "model.multi_modal_projector.")


def lm_only(src, dst, prefixes):
    # The language model's tensors only, under the wrapper's names, with the same config.
    from safetensors.torch import load_file, save_file
    os.makedirs(dst, exist_ok=True)
    tensors = {}
    for fn in sorted(os.listdir(src)):
        if fn.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(src, fn)))
    heads = ("lm_head.", "model.lm_head.", "thinker.lm_head.", "language_model.lm_head.")
    usual = ("model.language_model.", "language_model.", "thinker.model.")
    keep = {k: v for k, v in tensors.items() if k.startswith(tuple(prefixes) + usual + heads)}
    if not keep:
        # Saved under the release's names, not the in-memory module's (transformers reverts its
        # conversion on save: ERNIE-4.5-VL's language model is model.layers.*, its towers
        # vision_model.* and model.resampler_model.*): everything but the towers.
        keep = {k: v for k, v in tensors.items() if not k.startswith(TOWERS)}
    if not keep:
        raise RuntimeError("no language-model tensors under the usual prefixes: " + ", ".join(sorted(tensors)[:20]))
    save_file(keep, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    for fn in ("config.json", "generation_config.json"):
        if os.path.exists(os.path.join(src, fn)):
            shutil.copy(os.path.join(src, fn), os.path.join(dst, fn))
    return len(keep), len(tensors)


def part_composite(out, only):
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText
    root = os.path.join(out, "composite")
    for mt in [m for m in COMPOSITE if not only or m in only]:
        torch.manual_seed(0)
        d = os.path.join(root, mt)
        autos = (AutoModelForImageTextToText, AutoModelForCausalLM, AutoModel)
        if mt in WRAPPER_CLASS:
            import transformers
            autos = (Direct(getattr(transformers, WRAPPER_CLASS[mt])),) + autos
        cfg = None
        try:
            errs = []
            for extra in COMPOSITE_TRIES.get(mt, [{}]):
                try:
                    cfg = composite_config(mt, extra)
                    model, auto = build(autos, cfg, PARAM_LIMIT)
                    break
                except Exception as e:  # noqa: BLE001
                    errs.append(f"{extra}: {type(e).__name__}: {e}"[:1500])
            else:
                raise RuntimeError(" || ".join(errs))
            n = sum(p.numel() for p in model.parameters())
            model.save_pretrained(d)
            prefixes = lm_prefixes(model)
            kept, total = lm_only(d, d + "_lm_only", prefixes)
            REPORT["composite"][mt] = {"class": type(model).__name__, "auto": auto, "params": n,
                                       "lm_prefixes": prefixes, "lm_only_tensors": kept, "tensors": total,
                                       "names": {k: list(v.shape) for k, v in model.state_dict().items()}}
        except Exception as e:  # noqa: BLE001
            note("composite", mt, e)
            if cfg is not None:
                REPORT.setdefault("meta", {})[mt] = meta_names(cfg, autos)
            shutil.rmtree(d, ignore_errors=True)
            shutil.rmtree(d + "_lm_only", ignore_errors=True)


def part_text(out, only):
    from transformers import AutoModel, AutoModelForCausalLM
    root = os.path.join(out, "models")
    for mt, tries in TEXT_RETRY.items():
        if only and mt not in only:
            continue
        for i, extra in enumerate(tries):
            torch.manual_seed(0)
            d = os.path.join(root, mt)
            try:
                cfg, _ = g.tiny_config(mt, extra)
                model, auto = build((AutoModelForCausalLM, AutoModel), cfg, 4_000_000)
                n = sum(p.numel() for p in model.parameters())
                model.save_pretrained(d)
                with open(os.path.join(d, "reference.json"), "w") as f:
                    json.dump({"model_class": type(model).__name__, **g.safetensors_view(d)}, f, indent=1, sort_keys=True)
                REPORT["text"][mt] = {"class": type(model).__name__, "auto": auto, "params": n, "try": i}
                break
            except Exception as e:  # noqa: BLE001
                note("text", f"{mt}#{i}", e)
                shutil.rmtree(d, ignore_errors=True)


def main():
    import transformers
    out = sys.argv[1]
    only = sys.argv[2:]  # model types to build (default: all); the report is per run
    os.makedirs(out, exist_ok=True)
    REPORT["transformers"] = transformers.__version__
    REPORT["torch"] = torch.__version__
    part_composite(out, only)
    part_text(out, only)
    name = "composite_report.json"
    with open(os.path.join(out, name), "w") as f:
        json.dump(REPORT, f, indent=1, sort_keys=True)
    print(json.dumps({k: sorted(v) for k, v in REPORT.items() if isinstance(v, dict)}, indent=1))


if __name__ == "__main__":
    main()
