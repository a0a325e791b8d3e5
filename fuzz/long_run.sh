#!/usr/bin/env bash
# The long fuzzing run (not CI): every target at once in libFuzzer's fork mode, JOBS processes
# each, for SECONDS, on corpora seeded by `fuzz/run.sh 0`. Meant for a many-core machine; the
# binaries may come from another machine with their libraries (then set LD_LIBRARY_PATH).
#   fuzz/long_run.sh BIN_DIR CORPUS_DIR LOG_DIR SECONDS JOBS [TARGET...]
# Writes LOG_DIR/<target>.log, crashing inputs to LOG_DIR/artifacts/<target>/, the grown corpora
# back into CORPUS_DIR, and LOG_DIR/summary.tsv: target, executions, seconds, corpus size, crashes.
set -euo pipefail
bin=$1 corpora=$2 logs=$3 secs=$4 jobs=$5
shift 5
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(safetensors_header index_file config rules torch_file http_parse)
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p "$logs"
for t in "${targets[@]}"; do
  mkdir -p "$logs/artifacts/$t" "$corpora/corpus-$t"
  "$bin/fuzz_$t" "$corpora/corpus-$t" -fork="$jobs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=1048576 -artifact_prefix="$logs/artifacts/$t/" >"$logs/$t.log" 2>&1 &
done
wait || true
printf 'target\texecutions\tseconds\tcorpus\tfailing_inputs\n' >"$logs/summary.tsv"
for t in "${targets[@]}"; do
  # fork mode's status lines: "#EXECS: cov: C ft: F corp: N exec/s: R oom/timeout/crash: a/b/c time: Ts ..."
  last=$(grep -E '^#[0-9]+: cov:' "$logs/$t.log" | tail -1 || true)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  time=$(sed -E 's/.* time: ([0-9]+)s.*/\1/' <<<"$last")
  corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
  fails=$(find "$logs/artifacts/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-?}" "${time:-?}" "${corp:-?}" "$fails" >>"$logs/summary.tsv"
done
cat "$logs/summary.tsv"
