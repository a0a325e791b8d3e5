#!/usr/bin/env python3
"""Cost curves in the reference environment (16 cores), every reference measured in the same run,
alternating with the tool, steps in priority order within a time budget (a step that would not
fit is skipped and said so in the output):

  1. header work on the DeepSeek-V3-shaped 160-shard checkpoint (bench/tools/dsv3_headers.py):
     inspect, validate, map against the plain Python header listing (bench/tools/list_headers.py)
     and safetensors' safe_open listing (bench/torch_peers.py list), with two floors: moeckpt's
     start-up alone and a bare simdjson listing of the same headers (bench/tools/header_floor.cpp);
  2. convert --dequant bf16 against cp -r of the same block-FP8 checkpoint, 0.25 to 8 GB;
  3. the same at 1 GB against the thread count, 1 to 16, and PyTorch's conversion
     (bench/torch_peers.py convert, fp8_cast_bf16.py's method) once on all threads;
  4. inspect/validate/map against the tensor count, ~1k to ~1M (dsv3_headers.py --layers/--experts).

    python3 bench/device_curves.py PKG OUT [--budget 200] [--work /tmp/moeckpt-curves] [--smoke]

PKG is bench/package.sh's folder. Writes OUT/curves.json (every raw time and peak RSS, from
wait4 of each child) after each step, and prints it.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from device_run import du, run  # noqa: E402  (one child: seconds, peak RSS MiB, stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pkg")
    ap.add_argument("out")
    ap.add_argument("--budget", type=float, default=200)
    ap.add_argument("--work", default="/tmp/moeckpt-curves")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: checks the script itself")
    a = ap.parse_args()
    sizes = ((0.02, 1), (0.04, 1)) if a.smoke else ((0.25, 3), (0.5, 3), (1, 3), (2, 2), (4, 1), (8, 1))
    one_gb = sizes[0][0] if a.smoke else 1
    points = ((4, 8, 3), (8, 32, 3)) if a.smoke else ((8, 32, 3), (16, 96, 3), (32, 128, 5), (61, 256, 8), (100, 512, 25), (160, 1024, 80))
    header_point, header_repeats = ((8, 32), 1) if a.smoke else ((61, 256), 5)
    end = time.monotonic() + a.budget
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(a.pkg, "lib"))
    mo, synth = os.path.join(a.pkg, "moeckpt"), os.path.join(a.pkg, "make_synthetic")
    py = sys.executable
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    res = {"machine": {"cores": os.cpu_count(), "cpu": subprocess.run(["bash", "-c", "lscpu | grep -E 'Model name'"],
                                                                         stdout=subprocess.PIPE, text=True).stdout.strip(),
                       "python": platform.python_version()},
           "headers": {}, "convert_bytes": [], "convert_threads": [], "torch": {}, "scale": [], "skipped": []}

    def save():
        with open(os.path.join(a.out, "curves.json"), "w") as f:
            json.dump(res, f, indent=1)

    def fits(what, seconds):
        if time.monotonic() + seconds < end:
            return True
        res["skipped"].append(what)
        return False

    def timed(jobs, repeats):
        """jobs: name -> (argv, env[, folder removed first, untimed]); alternating, `repeats`
        rounds; raw seconds and max RSS."""
        out = {k: {"s": [], "rss_mib": 0.0} for k in jobs}
        for _ in range(repeats):
            for k, (argv, e, *clear) in jobs.items():
                for d in clear:
                    shutil.rmtree(d, ignore_errors=True)
                try:
                    dt, rss, stdout = run(argv, e)
                except RuntimeError as err:  # a peer missing here, say: kept, and the rest goes on
                    out[k]["error"] = str(err)[-500:]
                    continue
                out[k]["s"].append(round(dt, 4))
                out[k]["rss_mib"] = max(out[k]["rss_mib"], round(rss, 1))
                try:
                    out[k]["inner_s"] = out[k].get("inner_s", []) + [json.loads(stdout.strip().splitlines()[-1])["seconds"]]
                except (ValueError, KeyError, IndexError, TypeError):
                    pass
        for v in out.values():
            v["median_s"] = statistics.median(v["s"]) if v["s"] else None
        return out

    def header_jobs(ck, peers):
        jobs = {"python_list": ([py, os.path.join(HERE, "tools", "list_headers.py"), ck], None),
                "inspect": ([mo, "inspect", ck], env), "validate": ([mo, "validate", ck], env), "map": ([mo, "map", ck], env)}
        if peers:  # the floors: moeckpt's own start-up, a bare simdjson listing (bench/tools/header_floor.cpp)
            jobs["startup"] = ([mo, "--version"], env)
            jobs["floor_headers"] = ([os.path.join(a.pkg, "header_floor"), ck], env)
            jobs["floor_headers_index"] = ([os.path.join(a.pkg, "header_floor"), ck, "--index"], env)
            jobs["safe_open_list"] = ([py, os.path.join(HERE, "torch_peers.py"), "list", ck], None)
        return jobs

    def gen_headers(ck, layers, experts):
        subprocess.run([py, os.path.join(HERE, "tools", "dsv3_headers.py"), ck, "--layers", str(layers), "--experts", str(experts)],
                       check=True, stdout=subprocess.PIPE)

    # 1. The 160-shard DeepSeek-V3 checkpoint.
    hdr = os.path.join(a.work, "dsv3")
    gen_headers(hdr, *header_point)
    res["headers"] = timed(header_jobs(hdr, True), header_repeats)
    save()

    # 2. convert against cp, by size.
    def fp8(gb):
        d = os.path.join(a.work, f"fp8-{gb}")
        subprocess.run([synth, "fp8", d, "--bytes", f"{int(gb * 1000)}MB", "--cols", "18432"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return d

    def conv_jobs(src, threads):
        cp_out, mo_out = os.path.join(a.work, "cp-out"), os.path.join(a.work, "mo-out")
        return {"cp": (["cp", "-r", src, cp_out], None, cp_out),
                "convert": ([mo, "convert", src, mo_out, "--dequant", "bf16", "-q", "--threads", str(threads)], env, mo_out)}

    for gb, reps in sizes:
        if not fits(f"convert {gb} GB", 6 * gb * reps + 4 * gb):
            break
        src = fp8(gb)
        r = timed(conv_jobs(src, os.cpu_count()), reps)
        r["in_bytes"], r["out_bytes"], r["gb"] = du(src), du(os.path.join(a.work, "mo-out")), gb
        res["convert_bytes"].append(r)
        save()
        if gb != one_gb:
            shutil.rmtree(src)
        shutil.rmtree(os.path.join(a.work, "mo-out"), ignore_errors=True)
        shutil.rmtree(os.path.join(a.work, "cp-out"), ignore_errors=True)

    # 3. by threads at 1 GB, and PyTorch's conversion of the same checkpoint.
    src1 = os.path.join(a.work, f"fp8-{one_gb}")
    if os.path.isdir(src1):
        for th in ((1, 2) if a.smoke else (1, 2, 4, 8, 16)):
            if not fits(f"convert 1 GB, {th} threads", 12 if th < 4 else 6):
                break
            r = timed(conv_jobs(src1, th), 2)
            r["threads"] = th
            res["convert_threads"].append(r)
            save()
        if fits("PyTorch conversion, 1 GB", 15):
            tc = os.path.join(a.work, "torch-out")
            res["torch"] = timed({"torch_cpu_all": ([py, os.path.join(HERE, "torch_peers.py"), "convert", src1, tc, "--device", "cpu",
                                                     "--threads", str(os.cpu_count())], None)}, 1)
            shutil.rmtree(os.path.join(a.work, "mo-out"), ignore_errors=True)
            same = subprocess.run([mo, "convert", src1, os.path.join(a.work, "mo-out"), "--dequant", "bf16", "-q"], env=env)
            d = subprocess.run([mo, "diff", os.path.join(a.work, "mo-out"), tc, "--json"], env=env, stdout=subprocess.PIPE, text=True)
            try:
                res["torch"]["diff_equal"] = json.loads(d.stdout).get("equal_within_tolerance")
            except ValueError:
                res["torch"]["diff_equal"] = None
            res["torch"]["convert_exit"] = same.returncode
            save()
        shutil.rmtree(src1, ignore_errors=True)

    # 4. header work against the tensor count.
    for layers, experts, est in points:
        if not fits(f"scale {layers}x{experts}", est):
            break
        ck = os.path.join(a.work, f"s-{layers}-{experts}")
        gen_headers(ck, layers, experts)
        r = timed(header_jobs(ck, False), 1 if a.smoke else 3)
        hb = 0
        for f in os.listdir(ck):
            if f.endswith(".safetensors"):
                with open(os.path.join(ck, f), "rb") as fh:
                    hb += 8 + int.from_bytes(fh.read(8), "little")
        r["layers"], r["experts"], r["header_bytes"] = layers, experts, hb
        r["tensors"] = int(subprocess.run([py, os.path.join(HERE, "tools", "list_headers.py"), ck], stdout=subprocess.PIPE, text=True).stdout)
        res["scale"].append(r)
        save()
        shutil.rmtree(ck)
    save()
    print(json.dumps({k: res[k] for k in ("machine", "skipped")}))
    print(json.dumps({k: v["median_s"] for k, v in res["headers"].items()}))


if __name__ == "__main__":
    main()
