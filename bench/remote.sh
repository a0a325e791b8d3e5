#!/usr/bin/env bash
# inspect over HTTP: the 160-shard DeepSeek-V3-shaped checkpoint (make_synthetic dsv3-headers)
# served by a private nginx on loopback (tests/remote/nginx.sh), against inspect of the same
# files on the local disk, alternating, medians of REPEATS; a fresh header cache each run, so
# every header comes over the network. Bytes are nginx's ($body_bytes_sent summed) against the
# headers' own 8 + N bytes and the JSON files. Prints a markdown table for bench/RESULTS.md.
#   bench/remote.sh BUILD_DIR WORKDIR [--repeats 5]
# BUILD_DIR must hold cli/moeckpt and bench/make_synthetic (configure with -DMOECKPT_BENCH=ON).
set -euo pipefail
build=$(realpath "$1"); work=$2; shift 2
repeats=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --repeats) repeats=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
src=$(cd "$(dirname "$0")/.." && pwd)
moeckpt=$build/cli/moeckpt
mkdir -p "$work"
work=$(realpath "$work")
hdr=$work/root/dsv3-headers
[[ -f $hdr/config.json ]] || "$build/bench/make_synthetic" dsv3-headers "$hdr" >/dev/null
chmod 755 "$work" "$work/root"
# shellcheck source=tests/remote/nginx.sh
source "$src/tests/remote/nginx.sh"
rm -rf "$work/nginx"
start_nginx "$work/root" "$work/nginx"
trap stop_nginx EXIT
url=http://127.0.0.1:$PORT/plain/dsv3-headers

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }

header_sum=0
for f in "$hdr"/*.safetensors; do
  n=$(od -An -t u8 -N8 "$f" | tr -d ' ')
  header_sum=$((header_sum + 8 + n))
done
json_sum=$(cat "$hdr"/*.json | wc -c)

loc=(); rem=(); served=()
for ((i = 0; i < repeats; i++)); do
  t=$(now); "$moeckpt" inspect "$hdr" >/dev/null; loc+=("$(elapsed "$t")")
  rm -rf "$work/cache"; clear_log
  t=$(now); XDG_CACHE_HOME=$work/cache "$moeckpt" inspect "$url" >/dev/null; rem+=("$(elapsed "$t")")
  served+=("$(served_bytes)")
done
t=$(now); XDG_CACHE_HOME=$work/cache "$moeckpt" inspect "$url" >/dev/null; cached=$(elapsed "$t")
reported=$(XDG_CACHE_HOME=$work/cache-json "$moeckpt" inspect "$url" --json | awk '/"network"/ {f=1} f && /"bytes"/ {gsub(/[^0-9]/, ""); print; exit}')
loc_med=$(printf '%s\n' "${loc[@]}" | median)
rem_med=$(printf '%s\n' "${rem[@]}" | median)
srv=$(printf '%s\n' "${served[@]}" | sort -n | tail -1)
shards=$(ls "$hdr"/*.safetensors | wc -l)

printf '| measurement | median | ratio | target |\n| --- | --- | --- | --- |\n'
printf '| inspect, %d shards, local files | %.3f s | reference | |\n' "$shards" "$loc_med"
printf '| inspect over HTTP (loopback nginx, cold cache) | %.3f s | %.2f × local | ≤ 1 s |\n' "$rem_med" "$(echo "$rem_med / $loc_med" | bc -l)"
printf '| same, header cache warm (304s) | %.3f s | | |\n' "$cached"
printf '| bytes nginx served (largest run; JSON gzip-compressed) | %d | %.3f × the headers (%d B); %.3f × headers + JSON (%d B uncompressed) | ≤ 1.05 × the headers |\n' \
  "$srv" "$(echo "$srv / $header_sum" | bc -l)" "$header_sum" "$(echo "$srv / ($header_sum + $json_sum)" | bc -l)" "$json_sum"
printf '| bytes moeckpt reports (--json network.bytes) | %d | | |\n' "$reported"
