#!/usr/bin/env bash
# convert --experts per-expert on a >= 1 GB fused checkpoint against a cp of the same bytes and
# a plain convert (copy), in the same run, alternating: wall time (s) and peak RSS (KiB,
# /usr/bin/time -v); then --experts fused of the split, which must give the copy's bytes.
#   bench/expert_layout.sh MOECKPT WORKDIR [--layers 1] [--repeats 3]
set -euo pipefail
moeckpt=$1; work=$2; shift 2
layers=1; repeats=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --layers) layers=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
in=$work/fused-in
mkdir -p "$work"
[[ -f $in/config.json ]] || python3 "$here/make_fused_experts.py" "$in" --layers "$layers" >/dev/null
bytes=$(du -sb "$in" | cut -f1)
measure() {  # label command... -> "label seconds max_rss_kb"
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  rm -f "$log"
  echo "$label $wall $rss"
}
echo "input: $in, $bytes bytes"
for ((i = 0; i < repeats; i++)); do
  rm -rf "$work/cp" "$work/split" "$work/copy" "$work/fuse"
  measure cp cp -r "$in" "$work/cp"
  measure split "$moeckpt" convert "$in" "$work/split" --experts per-expert -q
  measure convert-copy "$moeckpt" convert "$in" "$work/copy" -q
  measure fuse "$moeckpt" convert "$work/split" "$work/fuse" --experts fused -q
  cmp "$work/fuse/model.safetensors" "$work/copy/model.safetensors"  # the round trip is a copy
done
"$moeckpt" inspect "$work/split" | head -4
rm -rf "$work/cp" "$work/split" "$work/copy" "$work/fuse"
