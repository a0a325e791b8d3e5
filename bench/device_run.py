#!/usr/bin/env python3
"""Side-by-side performance run in the reference environment (16 cores, one GPU, PyTorch).

    python3 bench/device_run.py PKG OUT [--bytes 1GB] [--repeats 3]

PKG holds moeckpt, make_synthetic, kernels_bench and the shared libraries they need (lib/), as
built on the development machine (bench/package.sh). Everything runs in alternation in this one
process's lifetime, so each ratio compares measurements taken under the same conditions:

  cp -r of the block-FP8 checkpoint            (the reference: bytes in, bytes out)
  moeckpt convert --dequant bf16, all threads and 1 thread
  PyTorch CPU (all threads, 1 thread) and GPU doing the same conversion (bench/torch_peers.py)
  moeckpt inspect / validate vs safetensors' Python listing of a 160-shard, 90k-tensor checkpoint
  the kernel micro-benchmarks (kernels_bench, single thread, against memcpy)

Writes OUT/results.json and prints a markdown table for bench/RESULTS.md.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    """Seconds and peak RSS (MiB) of one child process (its own rusage, from wait4), after a
    sync so that writes are counted."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        os.sync()
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{cmd}: exit {p.returncode}: {stderr[-2000:]}")
    return dt, usage.ru_maxrss / 1024, stdout


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pkg")
    ap.add_argument("out")
    ap.add_argument("--bytes", default="1GB")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cols", default="18432", help="columns of each expert weight (rows are 7168)")
    ap.add_argument("--work", default="/tmp/moeckpt-bench")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(a.pkg, "lib"))
    mo, synth, kb = (os.path.join(a.pkg, n) for n in ("moeckpt", "make_synthetic", "kernels_bench"))
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    src, hdr = os.path.join(a.work, "fp8-in"), os.path.join(a.work, "dsv3-headers")
    subprocess.run([synth, "fp8", src, "--bytes", a.bytes, "--cols", a.cols], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([synth, "dsv3-headers", hdr], env=env, check=True, stdout=subprocess.DEVNULL)
    in_bytes = du(src)
    ncpu = os.cpu_count()
    peers = os.path.join(HERE, "torch_peers.py")
    py = sys.executable

    def out_dir(name):
        d = os.path.join(a.work, name)
        shutil.rmtree(d, ignore_errors=True)
        return d

    jobs = {
        "cp": lambda: run(["cp", "-r", src, out_dir("cp")]),
        "moeckpt_all": lambda: run([mo, "convert", src, out_dir("mo"), "--dequant", "bf16", "-q"], env),
        "moeckpt_1": lambda: run([mo, "convert", src, out_dir("mo1"), "--dequant", "bf16", "--threads", "1", "-q"], env),
        "torch_cpu_all": lambda: run([py, peers, "convert", src, out_dir("tc"), "--device", "cpu", "--threads", str(ncpu)]),
        "torch_cpu_1": lambda: run([py, peers, "convert", src, out_dir("tc1"), "--device", "cpu", "--threads", "1"]),
        "torch_cuda": lambda: run([py, peers, "convert", src, out_dir("tg"), "--device", "cuda"]),
        "inspect_160": lambda: run([mo, "inspect", hdr], env),
        "validate_160": lambda: run([mo, "validate", hdr], env),
        "safetensors_list_160": lambda: run([py, peers, "list", hdr]),
    }
    times = {k: [] for k in jobs}
    # The Python peers also report their own seconds (after interpreter start and the torch
    # import, ~2 s that a user pays too but that is not the work): ratios use those, the
    # conservative choice for moeckpt.
    inner = {k: [] for k in jobs}
    rss = {k: 0.0 for k in jobs}
    for _ in range(a.repeats):
        for k, job in jobs.items():
            try:
                dt, r, stdout = job()
            except Exception as e:  # noqa: BLE001
                times[k].append(None)
                print(f"{k}: {e}", file=sys.stderr)
                continue
            times[k].append(dt)
            rss[k] = max(rss[k], r)
            try:
                inner[k].append(json.loads(stdout.strip().splitlines()[-1])["seconds"])
            except (ValueError, KeyError, IndexError, TypeError):
                pass

    def median(v):
        v = [t for t in v if t is not None]
        return statistics.median(v) if v else None

    med = {k: median(v) for k, v in times.items()}
    med_inner = {k: median(v) for k, v in inner.items() if v}
    out_bytes = du(os.path.join(a.work, "mo"))
    # Output equality with PyTorch's conversion: the same bytes for every tensor.
    same = subprocess.run([mo, "diff", os.path.join(a.work, "mo"), os.path.join(a.work, "tc"), "--json"], env=env,
                          stdout=subprocess.PIPE, text=True)
    kernels = subprocess.run([kb, "--benchmark_min_time=0.5", "--benchmark_format=json"], env=env, stdout=subprocess.PIPE, text=True,
                             check=True)
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], stdout=subprocess.PIPE, text=True).stdout.strip()
    res = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": ncpu, "gpu": gpu,
                       "lscpu": subprocess.run(["bash", "-c", "lscpu | grep -E 'Model name|^CPU\\(s\\)'"], stdout=subprocess.PIPE,
                                               text=True).stdout},
           "in_bytes": in_bytes, "out_bytes": out_bytes, "times": times, "median": med, "inner_times": inner,
           "median_inner": med_inner, "peak_rss_mib": rss,
           "diff_vs_torch": json.loads(same.stdout) if same.stdout else None, "kernels": json.loads(kernels.stdout)}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({"median": med, "median_inner": med_inner, "peak_rss_mib": rss, "in": in_bytes, "out": out_bytes,
                      "equal_to_torch": res["diff_vs_torch"] and res["diff_vs_torch"].get("equal_within_tolerance")}, indent=1))


if __name__ == "__main__":
    main()
