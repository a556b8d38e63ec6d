#!/usr/bin/env bash
# Usage: scripts/selftests-corpus.sh
#
# Compiles the kernel's BPF selftests (tools/testing/selftests/bpf/progs of Debian's
# linux-source-6.1) with clang-16, against this machine's vmlinux.h and the libbpf 1.5
# headers scripts/build-refs.sh builds, and prints the directory:
#   ${BPF_LENS_CACHE:-/var/cache/bpf-lens}/corpus/<key>/
#     objs/NAME.o      every program that compiled (-O2 -g -mcpu=v3, as the selftests build)
#     skipped          the sources that did not compile, one a line
#     sources          how many sources there were
# <key> hashes the 6.1 package version, the refs directory, clang's version, the running
# kernel's BTF and this script, so any of them changing gives a fresh corpus. The compile runs
# -j2, once; later runs only print the directory. Safe to run from several processes at once.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib-cache.sh"
pkg=linux-source-6.1
CLANG=${CLANG:-clang-16}
version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
if [ -z "$version" ]; then echo "$0: $pkg is not installed (scripts/setup.sh installs it)" >&2; exit 1; fi
refs=$(bash "$root/scripts/build-refs.sh")
key=$( { echo "$version" "$refs" "$("$CLANG" --version | head -n 1)"; cat /sys/kernel/btf/vmlinux "$0"; } | sha256sum | cut -c1-16)
cache_open "${BPF_LENS_CACHE:-/var/cache/bpf-lens}/corpus/$key"
sel=$pkg/tools/testing/selftests/bpf
tar -xJf "/usr/src/$pkg.tar.xz" -C "$work" --wildcards "$sel/progs" "$sel/*.h"
out=$work/out
mkdir -p "$out/objs" "$work/inc" "$work/err"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$work/inc/vmlinux.h"

arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
export CLANG SEL="$work/$sel" INC="$work/inc" REFS="$refs" OUT="$out/objs" ERR="$work/err" ARCH="$arch"
compile() {
  local name
  name=$(basename "$1" .c)
  # the selftests' own flags (BPF_CFLAGS, CLANG_CFLAGS), without -Werror: newer clang warns more
  "$CLANG" -g -O2 -target bpf -mcpu=v3 -mlittle-endian -D__TARGET_ARCH_x86 -DENABLE_ATOMICS_TESTS \
    -Wno-compare-distinct-pointer-types -I"$INC" -I"$REFS/include" -I"$SEL" -I"$SEL/progs" \
    -idirafter /usr/include/"$ARCH" -idirafter /usr/include \
    -c "$1" -o "$OUT/$name.o" 2>"$ERR/$name" || { rm -f "$OUT/$name.o"; echo "$name" >"$ERR/$name.skipped"; }
}
export -f compile
ls "$work/$sel"/progs/*.c | sort >"$work/list"
xargs -P 2 -n 1 bash -c 'compile "$0"' <"$work/list"
wc -l <"$work/list" | tr -d ' ' >"$out/sources"
cat "$work"/err/*.skipped 2>/dev/null | sort >"$out/skipped" || true
cache_close "$out"
