#!/usr/bin/env bash
# moeckpt on URLs, against a real HTTP server: a private nginx on loopback (tests/remote/nginx.sh)
# serving testdata/models/ as a plain server, as the hub with its CDN redirect, gated, ignoring
# Range, slow, dropping the connection, failing, redirecting to file://.
#
#   tests/remote/http_test.sh MOECKPT SOURCE_DIR
#
# Exit status 0 passed, 1 failed, 77 skipped (nginx not installed: scripts/setup.sh installs it).
# Everything lives in a temporary directory removed at exit; nginx is stopped at exit.
set -euo pipefail
export LC_ALL=C
if (($# != 2)); then
  echo "usage: http_test.sh MOECKPT SOURCE_DIR" >&2
  exit 2
fi
moeckpt=$(realpath "$1")
src=$(realpath "$2")
if ! PATH=$PATH:/usr/sbin:/sbin command -v nginx >/dev/null; then
  echo "SKIP: nginx is not installed (scripts/setup.sh installs it)"
  exit 77
fi
# shellcheck source=tests/remote/nginx.sh
source "$src/tests/remote/nginx.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/moeckpt-http.XXXXXX")
trap 'stop_nginx; rm -rf "$tmp"' EXIT
# The models, and one 64 MiB file (sparse) for the server that ignores Range.
mkdir -p "$tmp/root/big"
chmod 755 "$tmp"  # nginx workers started by root run as nobody
for d in "$src"/testdata/models/*/; do ln -s "$d" "$tmp/root/$(basename "$d")"; done
big_header='{"w":{"dtype":"U8","shape":[67108864],"data_offsets":[0,67108864]}}'
{
  printf "$(printf '\\x%02x' ${#big_header} 0 0 0 0 0 0 0)"
  printf '%s' "$big_header"
} >"$tmp/root/big/model.safetensors"
truncate -s $((8 + ${#big_header} + 67108864)) "$tmp/root/big/model.safetensors"
start_nginx "$tmp/root" "$tmp/nginx" || { echo "FAIL: nginx did not start"; cat "$tmp/nginx/error.log"; exit 1; }
cd "$src"
export XDG_CACHE_HOME=$tmp/cache HOME=$tmp/home
unset HF_TOKEN HF_ENDPOINT HF_HUB_OFFLINE HF_HOME HF_TOKEN_PATH
mkdir -p "$HOME"
base=http://127.0.0.1:$PORT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The document without its "network" member (the last one), URL prefix turned into the local one.
normalize() {  # PREFIX_FROM PREFIX_TO
  sed "s#$1#$2#g" | awk '
    /^  "network": \{$/ { skip = 1; sub(/,$/, "", prev); next }
    skip && /^  \}$/ { skip = 0; next }
    skip { next }
    NR > 1 && !held { print prev }
    { prev = $0; held = 0 }
    END { print prev }'
}

# Exit status and output of a command, for comparing runs.
run() { set +e; out=$("$moeckpt" "$@" 2>"$tmp/err"); rc=$?; set -e; }

header_bytes() {  # 8 + N of a safetensors file
  local n
  n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
  echo $((8 + n))
}

# 1. Every checkpoint: inspect, map and validate --json over HTTP equal the local output but for
#    the path; what nginx served is the headers and JSON files (and the 404 of the index probe).
clear_log
for dir in testdata/models/*/; do
  m=$(basename "$dir")
  for cmd in inspect map validate; do
    run "$cmd" "testdata/models/$m" --json; local_rc=$rc; local_out=$out
    run "$cmd" "$base/plain/$m" --json; remote_rc=$rc
    remote_out=$(printf '%s\n' "$out" | normalize "$base/plain/" "testdata/models/")
    [[ $local_rc == "$remote_rc" ]] || fail "$cmd $m: exit $remote_rc over HTTP, $local_rc locally: $(cat "$tmp/err")"
    [[ $local_out == "$remote_out" ]] || { fail "$cmd $m: output differs"; diff <(echo "$local_out") <(echo "$remote_out") | head -5; }
    [[ $remote_rc != 0 && $remote_rc != 1 ]] || grep -q '"network"' <<<"$out" || fail "$cmd $m: --json does not say what came over the network"
  done
  allowed=$(( $(header_bytes "$dir/model.safetensors") + $(stat -c %s "$dir/config.json") + 3 * 200 + 512 ))
  served=$(awk -v p="/plain/$m/" 'index($5, p) == 1 { s += $3 } END { print s + 0 }' "$NGINX_DIR/access.log")
  ((served <= allowed)) || fail "$m: nginx served $served bytes, more than headers + JSON + slack ($allowed)"
  ((served < $(stat -c %s "$dir/model.safetensors"))) || fail "$m: served as much as the whole file"
done
# The second and third command of each model were answered by the cache (304, no body).
grep -q " 304 0 " "$NGINX_DIR/access.log" || fail "no revalidated cache entry (304) seen"

# 2. The hub: resolve URLs, weights redirected to the CDN (another host); the token goes to the
#    hub only. An index file and a SUBDIR-less repository, --revision in the URL.
export HF_ENDPOINT=$base/hub
clear_log
run inspect "hf://models/mixtral@v1" --json
[[ $rc == 0 ]] || fail "hf:// inspect: exit $rc: $(cat "$tmp/err")"
run inspect testdata/models/mixtral --json; local_out=$out
run inspect "hf://models/mixtral" --json --revision v2
[[ $(normalize "hf://models/" "testdata/models/" <<<"$out") == "$local_out" ]] || fail "hf:// inspect differs from the local one"
grep -q "/resolve/v2/" "$NGINX_DIR/access.log" || fail "--revision not in the resolve URL"
grep -q "^$CDN_PORT 206 " "$NGINX_DIR/access.log" || fail "no range read from the CDN after the redirect"
clear_log
HF_TOKEN=secret-token HF_ENDPOINT=$base/gated run validate hf://models/deepseek_v3 --json
[[ $rc == 0 ]] || fail "gated with HF_TOKEN: exit $rc: $(cat "$tmp/err")"
grep -q "^$PORT 200 [0-9]* bearer " "$NGINX_DIR/access.log" || fail "the hub did not get the token"
if grep -q "^$CDN_PORT .* bearer " "$NGINX_DIR/access.log"; then fail "the token went to the CDN"; fi
grep -q "^$CDN_PORT 206 " "$NGINX_DIR/access.log" || fail "the gated weights were not read from the CDN"
if grep -rq secret-token "$XDG_CACHE_HOME"; then fail "the token is in the cache"; fi
# The token file the hub CLI writes.
mkdir -p "$tmp/hfhome" && echo secret-token >"$tmp/hfhome/token"
HF_HOME=$tmp/hfhome HF_ENDPOINT=$base/gated run inspect hf://models/qwen3_moe
[[ $rc == 0 ]] || fail "gated with the token file: exit $rc: $(cat "$tmp/err")"
HF_ENDPOINT=$base/gated run inspect hf://models/olmoe
[[ $rc == 3 ]] && grep -q "gated or private: set HF_TOKEN" "$tmp/err" || fail "gated without a token: exit $rc: $(cat "$tmp/err")"
run inspect hf://models/norepo
[[ $rc == 3 ]] && grep -q "no repository models/norepo" "$tmp/err" || fail "missing repository: exit $rc: $(cat "$tmp/err")"
run inspect hf://models/nosuchmodel
[[ $rc == 3 ]] && grep -q "no file 'model.safetensors' in models/nosuchmodel at revision 'main'" "$tmp/err" || fail "missing file: $(cat "$tmp/err")"

# 3. Offline: what the cache holds answers without a request; what it lacks is one line.
clear_log
HF_HUB_OFFLINE=1 run inspect hf://models/mixtral --revision v2 --json
[[ $rc == 0 ]] || fail "offline from the cache: exit $rc: $(cat "$tmp/err")"
[[ ! -s $NGINX_DIR/access.log ]] || fail "offline made requests: $(cat "$NGINX_DIR/access.log")"
HF_HUB_OFFLINE=1 run inspect hf://models/jamba
[[ $rc == 3 ]] && grep -q "HF_HUB_OFFLINE=1" "$tmp/err" || fail "offline, not cached: exit $rc: $(cat "$tmp/err")"
unset HF_ENDPOINT

# 4. Servers that misbehave: one line, exit 3, nothing downloaded whole, no hang.
expect_fail() {  # NEEDLE ARGS...
  local needle=$1
  shift
  local t0=$SECONDS
  run "$@"
  [[ $rc == 3 ]] || fail "$*: exit $rc, expected 3: $(cat "$tmp/err")"
  grep -q -- "$needle" "$tmp/err" || fail "$*: message lacks '$needle': $(cat "$tmp/err")"
  [[ $(wc -l <"$tmp/err") == 1 ]] || fail "$*: more than one line on stderr"
  ((SECONDS - t0 <= 15)) || fail "$*: took $((SECONDS - t0)) s"
}
clear_log
expect_fail "ignores byte ranges" inspect "$base/norange/mixtral"
expect_fail "ignores byte ranges" inspect "$base/norange/big"
sent=$(awk '$5 ~ /norange\/big.*safetensors/ { print $3 }' "$NGINX_DIR/access.log" | sort -n | tail -1)
# What nginx wrote before the connection closed (loopback socket buffers take a few MB).
((sent < 16777216)) || fail "a server ignoring Range sent $sent bytes of 64 MiB before moeckpt stopped it"
expect_fail "timed out after 1 s (--timeout)" inspect --timeout 1 "$base/slow/mixtral/model.safetensors"
expect_fail "broke mid-transfer" inspect "$base/drop/mixtral"
expect_fail "HTTP 503 (after 4 attempts)" map "$base/busy/mixtral"
expect_fail "only http and https" inspect "$base/badredir/mixtral/model.safetensors"
expect_fail "no such file on the server" inspect "$base/plain/nosuchmodel"
expect_fail "reads local checkpoints only" convert "$base/plain/mixtral" "$tmp/out"
run inspect "hf://x" ; [[ $rc == 2 ]] || fail "a malformed hf:// URL: exit $rc, expected 2"

# 5. tensor reads its range only; diff local vs remote; experts --config URL.
name=$("$moeckpt" inspect testdata/models/mixtral --json | sed -n 's/^ *"name": "\(model.layers.0.block_sparse_moe.experts.0.w1.weight\)",/\1/p' | head -1)
[[ -n $name ]] || name=model.embed_tokens.weight
clear_log
run tensor "$base/plain/mixtral" "$name" --json --stats; remote_out=$out
run tensor testdata/models/mixtral "$name" --json --stats
[[ $(normalize "$base/plain/" "testdata/models/" <<<"$remote_out") == "$out" ]] || fail "tensor over HTTP differs"
tensor_bytes=$(awk '$5 ~ /safetensors/ { n++ } END { print n }' "$NGINX_DIR/access.log")
((tensor_bytes == 3)) || fail "tensor made $tensor_bytes weight requests, expected 3 (8 bytes, header, its range)"
run diff testdata/models/mixtral "$base/plain/mixtral"
[[ $rc == 0 ]] || fail "diff local vs remote: exit $rc: $(cat "$tmp/err")"
run diff testdata/models/mixtral "$base/plain/qwen3_moe"
[[ $rc == 1 ]] || fail "diff of two different checkpoints: exit $rc"
run experts --config "$base/plain/mixtral/config.json" --json; remote_out=$out
run experts --config testdata/models/mixtral/config.json --json
[[ $rc == 0 && $(normalize "$base/plain/" "testdata/models/" <<<"$remote_out") == "$out" ]] || fail "experts --config URL differs"

if ((failures)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all passed"
