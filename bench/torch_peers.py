#!/usr/bin/env python3
"""The peers moeckpt is measured against, in the reference environment (PyTorch, safetensors):

  block-FP8 -> BF16 conversion of the same checkpoint, end to end including disk, with
  PyTorch on the CPU (1 thread and all threads) and on the GPU; and listing every tensor of a
  160-shard checkpoint with safetensors (names, dtypes, shapes).

    python3 bench/torch_peers.py convert IN OUT_DIR [--device cpu|cuda] [--threads N]
    python3 bench/torch_peers.py list CKPT_DIR

Prints one JSON line with the seconds taken, so bench/device_run.sh can tabulate it.
"""
import argparse
import json
import os
import sys
import time

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def dequant(q, s, device):
    q = q.to(device)
    s = s.to(device)
    out, inn = q.shape
    b = 128
    sf = s.repeat_interleave(b, 0)[:out].repeat_interleave(b, 1)[:, :inn]
    return (q.to(torch.float32) * sf).to(torch.bfloat16)


def convert(src, dst, device, threads):
    if threads:
        torch.set_num_threads(threads)
    os.makedirs(dst, exist_ok=True)
    t0 = time.perf_counter()
    elems = 0
    files = sorted(f for f in os.listdir(src) if f.endswith(".safetensors"))
    for fn in files:
        out = {}
        with safe_open(os.path.join(src, fn), framework="pt") as f:
            keys = set(f.keys())
            for k in sorted(keys):
                if k.endswith(".weight_scale_inv"):
                    continue
                t = f.get_tensor(k)
                sk = k[: -len("weight")] + "weight_scale_inv"
                if t.dtype == torch.float8_e4m3fn and sk in keys:
                    r = dequant(t, f.get_tensor(sk), device)
                    elems += r.numel()
                    out[k] = r.cpu()
                else:
                    out[k] = t
        save_file(out, os.path.join(dst, fn), metadata={"format": "pt"})
    if device == "cuda":
        torch.cuda.synchronize()
    os.sync()
    return {"seconds": time.perf_counter() - t0, "elements": elems, "device": device, "threads": torch.get_num_threads()}


def listing(ckpt):
    t0 = time.perf_counter()
    n = 0
    for fn in sorted(os.listdir(ckpt)):
        if not fn.endswith(".safetensors"):
            continue
        with safe_open(os.path.join(ckpt, fn), framework="pt") as f:
            for k in f.keys():
                sl = f.get_slice(k)
                sl.get_dtype()
                sl.get_shape()
                n += 1
    return {"seconds": time.perf_counter() - t0, "tensors": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["convert", "list"])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.mode == "convert":
        r = convert(a.paths[0], a.paths[1], a.device, a.threads)
    else:
        r = listing(a.paths[0])
    print(json.dumps(r))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
