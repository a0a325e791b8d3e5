#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS seconds
# (default 30) on seeds taken from testdata/. Crashing inputs land in fuzz/artifacts/<target>/;
# copy them to tests/regress/<target>/ once fixed, so the regression test keeps them.
#   fuzz/run.sh [SECONDS] [TARGET...]
# SECONDS 0 builds and seeds only (fuzz/long_run.sh then runs the corpora elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(safetensors_header index_file config rules torch_file http_parse)
build=build-fuzz
# The first N files under testdata named like $1 (further find tests after N). Not `find | head`:
# under pipefail, head closing the pipe early makes find die of SIGPIPE and the script exit 141.
first() { local name=$1 n=$2; shift 2; local -a all; mapfile -t all < <(find testdata -name "$name" "$@" | sort)
  (( ${#all[@]} == 0 )) || printf '%s\n' "${all[@]:0:n}"; }
cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DMOECKPT_FUZZ=ON -DMOECKPT_TESTS=OFF >/dev/null
cmake --build $build -j2 --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
for t in "${targets[@]}"; do
  corpus=fuzz/corpus-$t
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  case $t in
    safetensors_header) find testdata -name '*.safetensors' -size -64k -exec cp {} "$corpus/" \; ;;
    index_file) find testdata -name '*.index.json' -exec cp {} "$corpus/" \; ;;
    config) first config.json 80 | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done ;;
    rules) cp tests/regress/rules/* "$corpus/" 2>/dev/null || true; find testdata -name '*rules*.json' -exec cp {} "$corpus/" \; ;;
    http_parse)  # a seed of each kind: the mode byte, then the text
      printf '\0bytes 0-7/188032' >"$corpus/range"
      printf '\1https://hub.example/o/r/resolve/main/a.safetensors\n//cdn.example/x?sig=1' >"$corpus/redirect"
      printf '\2moeckpt-header-cache 1\nurl http://h/x\netag "e"\nsize 9\nlength 3\n\nabc' >"$corpus/cache"
      first '*.safetensors' 20 -size -16k | while read -r f; do
        { printf '\3'; cat "$f"; } >"$corpus/file-$(echo "$f" | tr / _)"; done ;;
    torch_file) find testdata -name '*.bin' -o -name '*.pt' | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done ;;
  esac
  [[ -d tests/regress/$t ]] && cp tests/regress/$t/* "$corpus/" 2>/dev/null || true
  (( secs > 0 )) || continue
  echo "== $t: $secs s"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz/fuzz_$t" "$corpus" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 2>&1 | grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY|Done' || true
done
