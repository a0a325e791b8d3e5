#!/usr/bin/env bash
# The cost curves of bench/RESULTS.md as PNG (gnuplot):
#   bench/plot.sh OUT_DIR [--scale scale.tsv]... [--curves curves.json [--machine LABEL]]
# --scale: bench/scale.sh's table (give it as LABEL=FILE to name the machine in the legend),
# plotted as CPU time (user + sys: the 2-core development machine is shared, its wall time is
# mostly waiting); the device's scale step is plotted as wall time;
# --curves: bench/device_curves.py's results (the reference environment). Writes
# scale-time.png, scale-rss.png (from each table and the device's scale step), convert-bytes.png
# and convert-threads.png (from the device's results).
set -euo pipefail
out=$1; shift
scales=(); curves=; machine="reference environment (16 cores)"
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scales+=("$2"); shift 2 ;;
    --curves) curves=$2; shift 2 ;;
    --machine) machine=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The device's results as tables: scale (same columns as scale.tsv), convert by bytes, by threads.
if [[ -n $curves ]]; then
  python3 - "$curves" "$tmp" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = sys.argv[2]
with open(f"{t}/dev-scale.tsv", "w") as f:
    f.write("tensors\theader_bytes\tpy_wall\tpy_cpu\tpy_rss\tinspect_wall\tinspect_cpu\tinspect_rss\tvalidate_wall\tvalidate_cpu\tvalidate_rss\tmap_wall\tmap_cpu\tmap_rss\tvalidate_exit\n")
    for p in r["scale"]:
        row = [p["tensors"], p["header_bytes"]]
        for k in ("python_list", "inspect", "validate", "map"):
            row += [p[k]["median_s"], "", p[k]["rss_mib"]]
        f.write("\t".join(map(str, row + [""])) + "\n")
with open(f"{t}/bytes.tsv", "w") as f:
    for p in r["convert_bytes"]:
        f.write(f'{p["in_bytes"] / 1e9}\t{p["cp"]["median_s"]}\t{p["convert"]["median_s"]}\t{p["convert"]["rss_mib"]}\t{p["cp"]["median_s"] * (p["in_bytes"] + p["out_bytes"]) / (2 * p["in_bytes"])}\n')
with open(f"{t}/threads.tsv", "w") as f:
    for p in r["convert_threads"]:
        f.write(f'{p["threads"]}\t{p["cp"]["median_s"]}\t{p["convert"]["median_s"]}\t{p["convert"]["rss_mib"]}\n')
PY
  scales+=("wall=$machine=$tmp/dev-scale.tsv")
fi

time_plots=(); rss_plots=()
for s in "${scales[@]}"; do
  cols=("7:inspect" "10:validate" "13:map" "4:Python header listing"); kind=CPU
  if [[ $s == wall=* ]]; then s=${s#wall=}; cols=("6:inspect" "9:validate" "12:map" "3:Python header listing"); kind=wall; fi
  label=${s%%=*}; file=${s#*=}
  [[ $label == "$s" ]] && label=$(basename "$file")
  [[ $(wc -l <"$file") -gt 1 ]] || continue
  for c in "${cols[@]}"; do
    time_plots+=("'$file' using 1:${c%%:*} with linespoints title '${c#*:}, $label ($kind)'")
  done
  for c in "8:inspect" "11:validate" "14:map"; do
    rss_plots+=("'$file' using 1:${c%%:*} with linespoints title '${c#*:}, $label'")
  done
  rss_plots+=("'$file' using 1:((2*\$2+64e6)/1048576) with lines dashtype 2 title 'limit 2 x headers + 64 MB, $label'")
done
join() { local IFS=,; echo "$*"; }

{
  echo "set terminal pngcairo size 1000,650; set grid; set key left top; set datafile separator '\t'"
  if [[ ${#time_plots[@]} -gt 0 ]]; then
    echo "set output '$out/scale-time.png'; set logscale xy; set xlabel 'tensors (160 shards)'; set ylabel 'seconds (median; CPU or wall, see each line)'"
    echo "set title 'Header work against the tensor count (DeepSeek-V3-shaped, bench/scale.sh)'"
    echo "plot $(join "${time_plots[@]}")"
    echo "set output '$out/scale-rss.png'; set logscale xy; set ylabel 'peak RSS, MiB'; set title 'Peak memory against the tensor count'"
    echo "plot $(join "${rss_plots[@]}")"
  fi
  if [[ -s $tmp/bytes.tsv ]]; then
    echo "unset logscale; set logscale x 2; set output '$out/convert-bytes.png'; set xlabel 'checkpoint GB (block FP8 in; BF16 out is 2x)'"
    echo "set ylabel 'seconds (median)'; set y2label 'peak RSS of convert, MiB'; set y2tics; set ytics nomirror; set logscale y; set y2range [0:*]"
    echo "set title 'convert --dequant bf16 against cp -r, $machine, all threads'"
    echo "plot '$tmp/bytes.tsv' using 1:2 with linespoints title 'cp -r', '' using 1:5 with linespoints title 'cp scaled to the bytes convert moves (1 in + 2 out)', '' using 1:3 with linespoints title 'moeckpt convert', '' using 1:4 axes x1y2 with linespoints dashtype 3 title 'convert peak RSS (right axis)'"
  fi
  if [[ -s $tmp/threads.tsv ]]; then
    echo "unset logscale; set logscale x 2; set output '$out/convert-threads.png'; set xlabel 'threads'; set ylabel 'seconds (median)'"
    echo "set y2label 'peak RSS of convert, MiB'; set y2tics; set ytics nomirror; set yrange [0:*]; set y2range [0:*]"
    echo "set title 'convert --dequant bf16 of the 1 GB checkpoint against the thread count, $machine'"
    echo "plot '$tmp/threads.tsv' using 1:3 with linespoints title 'moeckpt convert', '' using 1:2 with linespoints title 'cp -r (one thread)', '' using 1:4 axes x1y2 with linespoints dashtype 3 title 'convert peak RSS (right axis)'"
  fi
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
ls "$out"/*.png
