#!/usr/bin/env python3
"""Reference-environment check of `moeckpt convert --text-only` (run where transformers 5 and
torch are installed):

    python3 testdata/check_text_only.py OUTS_DIR [RESULT.json [FIXTURES_DIR]]

OUTS_DIR/<fixture> holds moeckpt's --text-only output of testdata/composite/<fixture> (the
three wrappers and their language-model-only twins). For each: transformers' Auto classes load
the output's config.json as the text class (AutoModelForCausalLM, or AutoModel for a bare text
model), with no missing, unexpected or mismatched keys; and every tensor of the loaded text
model equals, bit for bit, the same tensor of the language model inside the wrapper class
loaded from the original fixture (the head too). That checks the renamed names, the promoted
config and the tensors against transformers' own wrapper and text classes.
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = ["qwen3_vl_moe", "qwen3_vl_moe_lm_only", "qwen3_5_moe", "qwen3_5_moe_lm_only", "aria", "aria_lm_only"]


def text_part(m):
    return m.model if hasattr(m, "model") and not hasattr(m.model, "language_model") else m


def check(outs, fixtures, name):
    out = os.path.join(outs, name)
    cfg = AutoConfig.from_pretrained(out)
    bare = cfg.architectures[0].endswith("TextModel")
    auto = AutoModel if bare else AutoModelForCausalLM
    model, info = auto.from_pretrained(out, output_loading_info=True)
    wrapper = AutoModelForImageTextToText.from_pretrained(os.path.join(fixtures, name))
    ref = wrapper.model.language_model.state_dict()
    got = text_part(model).state_dict()
    differ = sorted(k for k in ref if k not in got or got[k].shape != ref[k].shape or not torch.equal(got[k], ref[k]))
    extra = sorted(k for k in got if k not in ref)
    head = None
    if hasattr(model, "lm_head"):
        head = bool(torch.equal(model.lm_head.weight, wrapper.lm_head.weight))
    return {
        "config_class": type(cfg).__name__,
        "model_class": type(model).__name__,
        "architectures": cfg.architectures,
        "model_type": cfg.model_type,
        "missing_keys": sorted(info["missing_keys"]),
        "unexpected_keys": sorted(info["unexpected_keys"]),
        "mismatched_keys": [list(map(str, k)) for k in info["mismatched_keys"]],
        "language_model_tensors": len(ref),
        "differ_from_wrapper": differ,
        "not_in_wrapper": extra,
        "lm_head_equal": head,
        "ok": not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"] and not differ
        and not extra and head is not False,
    }


def main():
    outs = sys.argv[1]
    fixtures = sys.argv[3] if len(sys.argv) > 3 else os.path.join(HERE, "composite")
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "fixtures": {}}
    for name in FIXTURES:
        try:
            result["fixtures"][name] = check(outs, fixtures, name)
        except Exception as e:  # report, do not stop: one line per failing fixture
            result["fixtures"][name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    result["ok"] = all(r["ok"] for r in result["fixtures"].values())
    text = json.dumps(result, indent=2, sort_keys=True)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write(text + "\n")
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
