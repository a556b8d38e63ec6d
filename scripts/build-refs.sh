#!/usr/bin/env bash
# Usage: scripts/build-refs.sh
#
# Builds modern references for the differential tests from Debian's linux-source-6.12 (the
# kernel's own copies, newer than Debian's libbpf 1.1 / bpftool 7.1) and prints the directory:
#   ${BPF_LENS_CACHE:-/var/cache/bpf-lens}/refs/<linux-source-6.12 package version>/
#     libbpf.a, include/bpf/*.h   libbpf 1.5 (tools/lib/bpf) and its installed headers
#     include/linux/*.h           the matching UAPI bpf.h/btf.h (newer than linux-libc-dev's)
#     bpftool                     bpftool 7.5 linked with libbpf 1.5 (tools/bpf/bpftool)
#     veristat                    tools/testing/selftests/bpf/veristat.c, against that libbpf
#     version                     the package version
#
# Only those three are built (-j2), from the few folders of the tarball they need (~1 min).
# A new package version gives a new directory. Idempotent and safe to run from several
# processes at once (a lock; built in a temporary directory renamed into place).
# Needs linux-source-6.12, make, gcc, python3, libelf-dev, zlib1g-dev (libcap-dev optional).
set -euo pipefail
. "$(dirname "$0")/lib-cache.sh"

pkg=linux-source-6.12
version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
if [ -z "$version" ]; then echo "$0: $pkg is not installed (scripts/setup.sh installs it)" >&2; exit 1; fi
cache_open "${BPF_LENS_CACHE:-/var/cache/bpf-lens}/refs/$version"
top=$pkg
tar -xJf "/usr/src/$pkg.tar.xz" -C "$work" --wildcards \
  "$top/tools/lib/bpf" "$top/tools/lib/*.[ch]" "$top/tools/bpf/bpftool" "$top/tools/include" "$top/tools/scripts" \
  "$top/tools/build" "$top/tools/arch/x86" "$top/tools/Makefile" "$top/kernel/bpf/disasm.*" "$top/scripts/bpf_doc.py" \
  "$top/include/uapi/linux/bpf.h" "$top/tools/testing/selftests/bpf/veristat.c"
src=$work/$top
out=$work/out
mkdir -p "$out/include/linux" "$work/libbpf" "$work/bpftool"

make -s -C "$src/tools/lib/bpf" -j2 OUTPUT="$work/libbpf/" DESTDIR="$work/root" prefix=/usr \
  "$work/libbpf/libbpf.a" install_headers >&2
cp "$work/libbpf/libbpf.a" "$out/"
cp -r "$work/root/usr/include/bpf" "$out/include/"
cp "$src"/tools/include/uapi/linux/{bpf.h,bpf_common.h,btf.h} "$out/include/linux/"

make -s -C "$src/tools/bpf/bpftool" -j2 OUTPUT="$work/bpftool/" >&2
cp "$work/bpftool/bpftool" "$out/"

gcc -O2 -I"$out/include" -o "$out/veristat" "$src/tools/testing/selftests/bpf/veristat.c" "$out/libbpf.a" -lelf -lz -lm

echo "$version" >"$out/version"
cache_close "$out"
