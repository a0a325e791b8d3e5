#!/usr/bin/env python3
"""transformers 5 loads moeckpt's expert layouts: for every per-expert fixture family (and the
fused Mixtral .bin), `convert --experts fused` and then `--experts per-expert` of that output,
each loaded with transformers' from_pretrained, must give the original's state dict tensor for
tensor (torch.equal, same names, same dtypes). transformers maps per-expert checkpoints to its
fused in-memory layout itself, so this checks moeckpt's layout against transformers' own
conversion. Runs in the reference environment:

    python3 testdata/check_expert_layouts.py MOECKPT RESULT.json [FIXTURE_DIR...]

The result (committed as testdata/check_expert_layouts.json) lists per family: ok, the
tensors compared, and what differed or failed.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

PER_EXPERT = re.compile(r"\.experts\.\d+\.")


def load(path):
    try:
        model, info = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, output_loading_info=True)
    except ValueError:
        model, info = AutoModel.from_pretrained(path, dtype=torch.bfloat16, output_loading_info=True)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return sd, {k: sorted(v) if isinstance(v, (set, list)) else str(v) for k, v in info.items()}


def compare(a, b):
    bad = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            bad.append(f"{k}: only in {'original' if k in a else 'converted'}")
        elif a[k].dtype != b[k].dtype or a[k].shape != b[k].shape or not torch.equal(a[k], b[k]):
            bad.append(f"{k}: differs ({a[k].dtype} {tuple(a[k].shape)} vs {b[k].dtype} {tuple(b[k].shape)})")
    return bad


def names(path):
    from safetensors import safe_open
    out = []
    for fn in os.listdir(path):
        if fn.endswith(".safetensors"):
            with safe_open(os.path.join(path, fn), "pt") as f:
                out += list(f.keys())
    return out


def convert(moeckpt, src, dst, layout):
    r = subprocess.run([moeckpt, "convert", src, dst, "--experts", layout, "-q"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"moeckpt convert --experts {layout}: exit {r.returncode}: {r.stderr.strip()}")


def check(moeckpt, fixture, tmp):
    fam = os.path.basename(fixture.rstrip("/"))
    res = {"fixture": fixture}
    fused, back = os.path.join(tmp, fam + "-fused"), os.path.join(tmp, fam + "-per")
    torch.manual_seed(0)
    orig, info = load(fixture)
    res["original_loading"] = {k: v for k, v in info.items() if v}
    convert(moeckpt, fixture, fused, "fused")
    convert(moeckpt, fused, back, "per-expert")
    res["fused_per_expert_names"] = sum(1 for n in names(fused) if PER_EXPERT.search(n))
    for label, path in (("fused", fused), ("per_expert", back)):
        torch.manual_seed(1)  # different init: a tensor not loaded from the file shows up as a difference
        sd, info = load(path)
        diffs = compare(orig, sd)
        res[label] = {"compared": len(orig), "differences": diffs[:20], "n_differences": len(diffs),
                      "loading": {k: v for k, v in info.items() if v}}
    res["ok"] = all(res[k]["n_differences"] == 0 for k in ("fused", "per_expert")) and res["fused_per_expert_names"] == 0
    return res


def main():
    moeckpt, out = sys.argv[1], sys.argv[2]
    fixtures = sys.argv[3:]
    if not fixtures:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
        for d in sorted(os.listdir(root)):
            p = os.path.join(root, d)
            if any(PER_EXPERT.search(n) for n in names(p)):
                fixtures.append(p)
        fixtures.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchbin", "mixtral_bin"))
    result = {"versions": {"transformers": transformers.__version__, "torch": torch.__version__}, "families": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for fx in fixtures:
            fam = os.path.basename(fx.rstrip("/"))
            try:
                result["families"][fam] = check(moeckpt, fx, tmp)
            except Exception as e:  # one family that transformers cannot build does not cost the others
                result["families"][fam] = {"ok": False, "error": "".join(traceback.format_exception(type(e), e, e.__traceback__))[-1500:]}
            print(fam, result["families"][fam].get("ok"), flush=True)
    fams = result["families"]
    result["summary"] = {"families": len(fams), "ok": sorted(k for k, v in fams.items() if v.get("ok")),
                         "failed": sorted(k for k, v in fams.items() if not v.get("ok"))}
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(json.dumps(result["summary"]))


if __name__ == "__main__":
    main()
