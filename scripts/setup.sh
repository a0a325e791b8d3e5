#!/usr/bin/env bash
# Installs what building and testing moeckpt needs, from Debian's packages (nothing else is
# downloaded). Safe to run again: it installs only what is missing.
#   scripts/setup.sh            build + tests (the Slurm test needs slurm-wlm, munge and strace,
#                               the remote test nginx; they start their own daemons, not the
#                               services Debian installs)
#   scripts/setup.sh --fuzz     also clang and libFuzzer (fuzz/ targets, sanitizer builds)
#   scripts/setup.sh --bench    also Google Benchmark (bench/)
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config git libcli11-dev nlohmann-json3-dev zlib1g-dev libfmt-dev
      libspdlog-dev libgtest-dev libgmock-dev libhwy-dev libre2-dev libsimdjson-dev groff-base man-db
      slurm-wlm munge strace libcurl4-openssl-dev nginx)
for arg in "$@"; do
  case "$arg" in
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14) ;;
    --bench) pkgs+=(libbenchmark-dev time) ;;
    *) echo "usage: scripts/setup.sh [--fuzz] [--bench]" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; fi
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
