#!/usr/bin/env bash
# Gathers a Release build's moeckpt, make_synthetic, kernels_bench and header_floor with the shared libraries
# Debian's packages provide (fmt, spdlog, simdjson, Highway, RE2, benchmark: no static archives
# are packaged) into one folder that runs on another x86-64 Linux with glibc >= Debian 12's:
#   bench/package.sh BUILD_DIR PKG_DIR     (BUILD_DIR configured with -DMOECKPT_BENCH=ON)
set -euo pipefail
build=$1; pkg=$2
rm -rf "$pkg"; mkdir -p "$pkg/lib"
cp "$build/cli/moeckpt" "$build/bench/make_synthetic" "$build/bench/kernels_bench" "$build/bench/header_floor" "$pkg/"
ldd "$pkg"/moeckpt "$pkg"/make_synthetic "$pkg"/kernels_bench "$pkg"/header_floor | awk '/=>/ {print $3}' | sort -u |
  grep -vE '/(libc|libm|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so' | xargs -I{} cp -L {} "$pkg/lib/"
echo "packaged into $pkg: $(du -sh "$pkg" | cut -f1)"
