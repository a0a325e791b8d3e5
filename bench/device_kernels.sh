#!/usr/bin/env bash
# The kernel benchmarks and the quantize end-to-end run in the reference environment, in one go:
#   bench/device_kernels.sh PKG OUT      (PKG from bench/package.sh, plus bench/quantize_e2e.sh)
# OUT/kernels.json: kernels_bench, medians of 3 repetitions; OUT/quantize_e2e.md: the table.
set -euo pipefail
pkg=$1; out=$2
export LD_LIBRARY_PATH=$pkg/lib
mkdir -p "$out"
lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-300 > "$out/machine.txt"
"$pkg/kernels_bench" --benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json > "$out/kernels.json"
"$pkg/quantize_e2e.sh" "$pkg/moeckpt" "$pkg/make_synthetic" /tmp/moeckpt-qbench --bytes 1GB --repeats 3 > "$out/quantize_e2e.md"
"$pkg/quantize_e2e.sh" "$pkg/moeckpt" "$pkg/make_synthetic" /tmp/moeckpt-qbench --bytes 1GB --repeats 3 --threads 1 > "$out/quantize_e2e_1t.md"
