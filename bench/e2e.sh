#!/usr/bin/env bash
# End-to-end benchmarks: moeckpt against a plain copy of the same bytes, measured in the same
# run, alternating, medians of REPEATS. Prints a markdown table for bench/RESULTS.md.
#   bench/e2e.sh BUILD_DIR WORKDIR [--bytes 1GB] [--repeats 5] [--threads N]
# BUILD_DIR must hold cli/moeckpt and bench/make_synthetic (configure with -DMOECKPT_BENCH=ON).
set -euo pipefail
build=$1; work=$2; shift 2
bytes=1GB; repeats=5; threads=$(nproc)
while [[ $# -gt 0 ]]; do
  case $1 in
    --bytes) bytes=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
moeckpt=$build/cli/moeckpt
synth=$build/bench/make_synthetic
mkdir -p "$work"
in=$work/fp8-in
[[ -f $in/config.json ]] || "$synth" fp8 "$in" --bytes "$bytes" >/dev/null
hdr=$work/dsv3-headers
[[ -f $hdr/config.json ]] || "$synth" dsv3-headers "$hdr" >/dev/null
in_bytes=$(du -sb "$in" | cut -f1)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }

cp_times=(); mo_times=(); rss=0
for ((i = 0; i < repeats; i++)); do
  rm -rf "$work/cp-out" "$work/mo-out"
  sync
  t=$(now); cp -r "$in" "$work/cp-out"; sync; cp_times+=("$(elapsed "$t")")
  t=$(now)
  /usr/bin/time -f "%M" -o "$work/rss.txt" "$moeckpt" convert "$in" "$work/mo-out" --dequant bf16 --threads "$threads" -q
  sync; mo_times+=("$(elapsed "$t")")
  r=$(cat "$work/rss.txt"); (( r > rss )) && rss=$r
done
out_bytes=$(du -sb "$work/mo-out" | cut -f1)
cp_med=$(printf '%s\n' "${cp_times[@]}" | median)
mo_med=$(printf '%s\n' "${mo_times[@]}" | median)
# cp moves the bytes in once and out once; convert reads 1 unit and writes 2 (BF16 from FP8).
cp_rate=$(echo "2 * $in_bytes / $cp_med / 1e9" | bc -l)
mo_rate=$(echo "($in_bytes + $out_bytes) / $mo_med / 1e9" | bc -l)

insp=(); val=()
for ((i = 0; i < repeats; i++)); do
  t=$(now); "$moeckpt" inspect "$hdr" >/dev/null; insp+=("$(elapsed "$t")")
  t=$(now); "$moeckpt" validate "$hdr" >/dev/null || true; val+=("$(elapsed "$t")")
done

printf '| measurement | median | notes |\n| --- | --- | --- |\n'
printf '| cp -r of %s block-FP8 checkpoint | %.3f s | %.2f GB/s counting read + write |\n' "$bytes" "$cp_med" "$cp_rate"
printf '| convert --dequant bf16, %s threads | %.3f s | %.2f GB/s counting 1 unit in + 2 out |\n' "$threads" "$mo_med" "$mo_rate"
printf '| ratio convert / cp, per byte moved | %.2f | target <= 1.3 |\n' "$(echo "($mo_med / ($in_bytes + $out_bytes)) / ($cp_med / (2 * $in_bytes))" | bc -l)"
printf '| peak RSS of convert | %d MB | largest output tensor %d MB |\n' "$((rss / 1024))" "$(( $(ls -S $work/mo-out/*.safetensors | head -1 | xargs stat -c %s) / 1048576 ))"
printf '| inspect, 160 shards / %s tensors | %.3f s | |\n' "$("$moeckpt" inspect "$hdr" --json | grep -c '"name"' || true)" "$(printf '%s\n' "${insp[@]}" | median)"
printf '| validate, 160 shards | %.3f s | |\n' "$(printf '%s\n' "${val[@]}" | median)"
