#!/usr/bin/env bash
# Regenerates tests/golden/<name>.json from tests/golden/cases*.txt (or only the manifests given
# as arguments) with the built binary.
# Review the diff (git diff tests/golden) against an independent source before committing.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MOECKPT:-build/cli/moeckpt}
if [[ $# -gt 0 ]]; then manifests=("$@"); else manifests=(tests/golden/cases*.txt); fi
cat "${manifests[@]}" | while IFS='|' read -r name rc args; do
  name=$(echo "$name" | xargs)
  [[ -z "$name" || "$name" == \#* ]] && continue
  rc=$(echo "$rc" | xargs)
  mkdir -p "tests/golden/$(dirname "$name")"
  set +e
  # shellcheck disable=SC2086
  env -u MOECKPT_ARCHS_DIR "$bin" $args > "tests/golden/$name.json"
  got=$?
  set -e
  if [[ "$got" != "$rc" ]]; then echo "$name: exit $got, manifest says $rc" >&2; fi
done
echo "updated; review with: git diff tests/golden"
