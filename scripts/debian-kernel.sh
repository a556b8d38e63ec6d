#!/usr/bin/env bash
# Usage: scripts/debian-kernel.sh SERIES                  (6.1, 6.12, or another series apt knows)
#        scripts/debian-kernel.sh --deb FILE.deb... NAME  (kernel packages you downloaded)
#
# Prepares a kernel for BPF Lens: a VM target (bpf-lens load OBJ --target vm:DIR/vmlinuz, or
# { "name", "kernel": "DIR/vmlinuz" } in bpfLens.targets; the modules/ beside it are found by
# themselves) and a BTF-only target (--btf DIR/vmlinux.btf, { "name", "btf": "DIR/vmlinux.btf" }).
# Puts the kernel package's data into a cache directory outside the checkout and prints that
# directory:
#   ${BPF_LENS_CACHE:-/var/cache/bpf-lens}/kernels/<SERIES or NAME>/
#     release      the kernel release (uname -r of that kernel, e.g. 6.1.0-56-amd64)
#     package      the .deb it came from
#     vmlinuz      the bzImage (bootable under qemu), with config and System.map beside it
#     vmlinux.btf  vmlinux's .BTF section (what /sys/kernel/btf/vmlinux holds on that kernel)
#     modules/     lib/modules/<release>: every module as a plain .ko (split BTF in .BTF)
#
# SERIES picks the newest linux-image-SERIES…-amd64-unsigned package of the configured apt
# sources (6.1: linux-image-6.1.0-N-amd64-unsigned; 6.12: linux-image-6.12.N+deb12-amd64-unsigned)
# and fetches it with apt-get download. --deb takes .deb files instead (e.g. Ubuntu's
# linux-image-RELEASE and linux-modules-RELEASE together); any package that holds
# boot/vmlinuz-RELEASE and lib/modules/RELEASE works. Sizes: the 6.1 .deb is about 70 MB and unpacks
# to about 400 MB (~4000 modules); the 6.12 .deb is about 105 MB (its modules ship as
# .ko.xz and are decompressed here, ~500 MB; its vmlinuz is zstd). The .deb is not kept.
#
# Idempotent and safe to run from several processes at once: the first one builds the
# directory (under a lock, in a temporary directory renamed into place), later ones only
# print it.
set -euo pipefail
. "$(dirname "$0")/lib-cache.sh"

usage() { echo "usage: $0 SERIES | --deb FILE.deb... NAME" >&2; exit 2; }
debs=()
if [ "${1:-}" = --deb ]; then
  shift
  while [ $# -gt 1 ]; do debs+=("$(realpath -- "$1")"); shift; done
  release=${1:-}
  [ ${#debs[@]} -gt 0 ] || usage
else
  release=${1:-}
fi
[[ "$release" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$ ]] || usage
case "$release" in
  6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
  6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
  # the generic flavour (not -cloud or -rt): 6.6.15-amd64, 6.19.1+deb13-amd64, …
  *) pattern="^linux-image-${release//./\\.}[.-][0-9][0-9.-]*(\\+deb[0-9]+(u[0-9]+)?)?-amd64-unsigned\$" ;;
esac

cache_open "${BPF_LENS_CACHE:-/var/cache/bpf-lens}/kernels/$release" "$release.lock" "$release"

newest_package() {
  apt-cache pkgnames linux-image- | grep -E "$pattern" | sort -V | tail -n 1
}
if [ ${#debs[@]} -eq 0 ]; then
  pkg=$(newest_package || true)
  if [ -z "$pkg" ]; then
    apt-get update -qq >&2
    pkg=$(newest_package || true)
  fi
  if [ -z "$pkg" ]; then echo "$0: apt knows no package matching $pattern" >&2; exit 1; fi
  ( cd "$work" && apt-get download -qq "$pkg" >&2 )
  debs=("$work"/*.deb)
fi
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$work/root"; done
deb=${debs[0]}

out=$work/out
mkdir -p "$out"
basename "$deb" >"$out/package"
vmlinuz=$(ls "$work"/root/boot/vmlinuz-* | head -n 1)
if [ -z "$vmlinuz" ]; then echo "$0: no boot/vmlinuz-* in ${debs[*]}" >&2; exit 1; fi
kver=${vmlinuz##*/vmlinuz-}
echo "$kver" >"$out/release"
mv "$vmlinuz" "$out/vmlinuz"
for f in config System.map; do
  if [ -f "$work/root/boot/$f-$kver" ]; then mv "$work/root/boot/$f-$kver" "$out/$f"; fi
done

# The bzImage carries vmlinux as one compressed stream (6.1: xz, 6.12: zstd): try each
# magic (xz FD 37 7A 58 5A 00, zstd 28 B5 2F FD) until one decompresses to an ELF file
# (the decompressors complain about the bytes after the stream: ignored).
is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }
found=
for codec in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd'; do
  tool=${codec%%:*}
  for off in $(LC_ALL=C grep -obUaP "${codec#*:}" "$out/vmlinuz" | cut -d: -f1); do
    tail -c +$((off + 1)) "$out/vmlinuz" | "$tool" -dc >"$work/vmlinux" 2>/dev/null || true
    if is_elf "$work/vmlinux"; then found=1; break 2; fi
  done
done
if [ -z "$found" ]; then echo "$0: no xz- or zstd-compressed vmlinux in $vmlinuz" >&2; exit 1; fi
llvm-objcopy --dump-section ".BTF=$out/vmlinux.btf" "$work/vmlinux" "$work/discard"

for m in "$work/root/lib/modules/$kver" "$work/root/usr/lib/modules/$kver"; do
  if [ -d "$m" ]; then mv "$m" "$out/modules"; break; fi
done
if [ ! -d "$out/modules" ]; then echo "$0: no lib/modules/$kver in ${debs[*]}" >&2; exit 1; fi
# 6.12 ships modules xz-compressed (Ubuntu: zstd); tools and tests want plain ELF files.
find "$out/modules" -name '*.ko.xz' -print0 | xargs -0 -r -P "$(nproc)" -n 64 xz -d
find "$out/modules" -name '*.ko.zst' -print0 | xargs -0 -r -P "$(nproc)" -n 64 zstd -q -d --rm

cache_close "$out"
