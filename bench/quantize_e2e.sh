#!/usr/bin/env bash
# convert --quantize against a durable copy (cp + sync) of the same bytes, same run, alternating,
# medians of REPEATS. The BF16 input is make_synthetic's block-FP8 checkpoint dequantized.
#   bench/quantize_e2e.sh MOECKPT MAKE_SYNTHETIC WORKDIR [--bytes 1GB] [--repeats 3] [--threads N] [--scheme fp8-block]
# "Bytes moved": cp reads the BF16 input once and writes it once; convert reads it (2 units) and
# writes the codes (1 unit for FP8) and scales, so cp's time is scaled to convert's bytes.
set -euo pipefail
moeckpt=$1; synth=$2; work=$3; shift 3
bytes=1GB; repeats=3; threads=$(nproc); scheme=fp8-block
while [[ $# -gt 0 ]]; do
  case $1 in
    --bytes) bytes=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --scheme) scheme=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$work"
fp8=$work/fp8-in; in=$work/bf16-in
[[ -f $fp8/config.json ]] || "$synth" fp8 "$fp8" --bytes "$bytes" >/dev/null
[[ -f $in/config.json ]] || "$moeckpt" convert "$fp8" "$in" --dequant bf16 -q
in_bytes=$(du -sb "$in" | cut -f1)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; }

cp_times=(); mo_times=()
for ((i = 0; i < repeats; i++)); do
  rm -rf "$work/cp-out" "$work/q-out"; sync
  t=$(now); cp -r "$in" "$work/cp-out"; sync; cp_times+=("$(elapsed "$t")")
  t=$(now); "$moeckpt" convert "$in" "$work/q-out" --quantize "$scheme" --threads "$threads" -q; sync; mo_times+=("$(elapsed "$t")")
done
out_bytes=$(du -sb "$work/q-out" | cut -f1)
cp_med=$(printf '%s\n' "${cp_times[@]}" | median)
mo_med=$(printf '%s\n' "${mo_times[@]}" | median)
ratio=$(awk -v m="$mo_med" -v c="$cp_med" -v i="$in_bytes" -v o="$out_bytes" 'BEGIN { print (m / (i + o)) / (c / (2 * i)) }')
printf '| measurement | median | notes |\n| --- | --- | --- |\n'
printf '| cp -r + sync of the %d-byte BF16 checkpoint | %.3f s | times: %s |\n' "$in_bytes" "$cp_med" "${cp_times[*]}"
printf '| convert --quantize %s, %s threads (+ sync) | %.3f s | %d bytes out; times: %s |\n' "$scheme" "$threads" "$mo_med" "$out_bytes" "${mo_times[*]}"
printf '| ratio convert / cp, per byte moved | %.2f | target <= 1.3 |\n' "$ratio"
