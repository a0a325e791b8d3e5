#!/usr/bin/env bash
# Header work against the tensor count: inspect, validate and map of DeepSeek-V3-shaped header-only
# checkpoints from ~1k to ~1M tensors (bench/tools/dsv3_headers.py --layers L --experts E, 160
# shards each), against the plain Python header listing (bench/tools/list_headers.py) of the same
# files, alternating, medians of REPEATS. Wall time, CPU time (user + sys) and peak RSS of each
# child (GNU time). Writes WORKDIR/scale.tsv (one row per checkpoint, for bench/plot.sh) and
# prints a markdown table for bench/RESULTS.md.
#   bench/scale.sh MOECKPT WORKDIR [--repeats 5] [--points "8:32 16:96 ..."] [--keep]
# --keep leaves the generated checkpoints in WORKDIR (they are sparse: ~20 MB on disk at 92k).
set -euo pipefail
moeckpt=$(realpath "$1"); work=$2; shift 2
repeats=5; points="8:32 16:96 32:128 61:256 100:512 160:1024"; keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --points) points=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
tsv=$work/scale.tsv

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# One run: "wall cpu rss_mib" of the command (its stdout discarded; exit 1 = findings is fine).
measure() {
  local f=$work/time.txt
  /usr/bin/time -f "%e %U %S %M" -o "$f" "$@" >/dev/null 2>"$work/stderr.txt" || [[ $? == 1 ]] ||
    { cat "$work/stderr.txt" >&2; exit 1; }
  awk '{printf "%s %.3f %.1f\n", $1, $2 + $3, $4 / 1024}' "$f"
}
col() { cut -d' ' -f"$1" | median; }
maxcol() { cut -d' ' -f"$1" | sort -g | tail -1; }

printf 'tensors\theader_bytes\tpy_wall\tpy_cpu\tpy_rss\tinspect_wall\tinspect_cpu\tinspect_rss\tvalidate_wall\tvalidate_cpu\tvalidate_rss\tmap_wall\tmap_cpu\tmap_rss\tvalidate_exit\n' >"$tsv"
for p in $points; do
  layers=${p%%:*}; experts=${p##*:}
  ck=$work/dsv3-L$layers-E$experts
  [[ -f $ck/config.json ]] || python3 "$here/tools/dsv3_headers.py" "$ck" --layers "$layers" --experts "$experts" >/dev/null
  tensors=$(python3 "$here/tools/list_headers.py" "$ck")
  hbytes=$(python3 -c 'import os,struct,sys; d=sys.argv[1]; print(sum(8+struct.unpack("<Q",open(os.path.join(d,f),"rb").read(8))[0] for f in os.listdir(d) if f.endswith(".safetensors")))' "$ck")
  py=(); ins=(); val=(); map=()
  for ((i = 0; i < repeats; i++)); do
    py+=("$(measure python3 "$here/tools/list_headers.py" "$ck")")
    ins+=("$(measure "$moeckpt" inspect "$ck")")
    val+=("$(measure "$moeckpt" validate "$ck")")
    map+=("$(measure "$moeckpt" map "$ck")")
  done
  vexit=0; "$moeckpt" validate "$ck" >/dev/null 2>&1 || vexit=$?
  row=("$tensors" "$hbytes")
  for runs in py ins val map; do
    declare -n r=$runs
    row+=("$(printf '%s\n' "${r[@]}" | col 1)" "$(printf '%s\n' "${r[@]}" | col 2)" "$(printf '%s\n' "${r[@]}" | maxcol 3)")
  done
  row+=("$vexit")
  (IFS=$'\t'; echo "${row[*]}") >>"$tsv"
  [[ $keep == 1 ]] || rm -rf "$ck"
done

printf '| tensors | header MB | Python listing wall / CPU s | inspect wall / CPU s | inspect ÷ Python (wall) | validate wall / CPU s | validate ÷ inspect (wall) | map wall / CPU s | map ÷ inspect | peak RSS MiB: Python / inspect / validate / map | RSS limit (2 × headers + 64 MB) MiB |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
tail -n +2 "$tsv" | while IFS=$'\t' read -r n hb pw pc pr iw ic ir vw vc vr mw mc mr ve; do
  printf '| %s | %.1f | %s / %s | %s / %s | %.2f | %s / %s | %.2f | %s / %s | %.2f | %s / %s / %s / %s | %.0f |\n' "$n" "$(echo "$hb / 1000000" | bc -l)" \
    "$pw" "$pc" "$iw" "$ic" "$(echo "$iw / $pw" | bc -l)" "$vw" "$vc" "$(echo "$vw / $iw" | bc -l)" "$mw" "$mc" "$(echo "$mw / $iw" | bc -l)" "$pr" "$ir" "$vr" "$mr" \
    "$(echo "(2 * $hb + 64000000) / 1048576" | bc -l)"
done
