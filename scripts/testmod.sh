#!/usr/bin/env bash
# Usage: scripts/testmod.sh [6.12]
#
# Builds the test kernel module test/kmod/bpf_lens_testmod.c (a struct_ops type that exists
# only in module BTF) for the Debian kernel scripts/debian-kernel.sh caches, and prints the
# path of the .ko. The matching headers come from the same Debian version as the cached image
# (linux-headers-<release>, linux-headers-<ver>-common, linux-kbuild-<ver>, downloaded with
# apt-get download and unpacked, never installed: installing them would pull a kernel image
# onto this machine) into ${BPF_LENS_CACHE:-/var/cache/bpf-lens}/headers/<release>/. Debian's
# headers ship a vmlinux (BTF only) built with pahole 1.24, which kbuild uses to give the
# module split BTF (CONFIG_DEBUG_INFO_BTF_MODULES) with the host's pahole (dwarves).
#
# The module goes to build/kmod/<release>/ and is rebuilt only when its sources change.
# Needs gcc-12, make, dwarves (pahole), libelf1 (objtool, resolve_btfids).
set -euo pipefail

version=${1:-6.12}
root=$(cd "$(dirname "$0")/.." && pwd)
kdir=$(bash "$root/scripts/debian-kernel.sh" "$version")
release=$(cat "$kdir/release")                       # 6.12.117+deb12-amd64
abi=${release%-amd64}                                # 6.12.117+deb12
debver=$(sed -E 's/^[^_]+_([^_]+)_.*/\1/' "$kdir/package")  # 6.12.117-1~deb12u1

cache=${BPF_LENS_CACHE:-/var/cache/bpf-lens}/headers
hdir=$cache/$release
if [ ! -f "$hdir/.complete" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/$release.lock"
  flock 9
  if [ ! -f "$hdir/.complete" ]; then
    work=$(mktemp -d "$cache/.$release.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    ( cd "$work" && apt-get download -qq "linux-headers-$release=$debver" "linux-headers-$abi-common=$debver" "linux-kbuild-$abi=$debver" >&2 2>/dev/null ) \
      || { apt-get update -qq >&2; ( cd "$work" && apt-get download -qq "linux-headers-$release=$debver" "linux-headers-$abi-common=$debver" "linux-kbuild-$abi=$debver" >&2 ); } \
      || { echo "$0: apt has no headers $debver for the cached kernel $release any more; remove $kdir to fetch the newest kernel" >&2; exit 1; }
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/out"; done
    # The arch headers' Makefile includes the common one by absolute path: point it here.
    sed -i "s|/usr/src/linux-headers-$abi-common/|$hdir/usr/src/linux-headers-$abi-common/|" "$work/out/usr/src/linux-headers-$release/Makefile"
    touch "$work/out/.complete"
    rm -rf "$hdir"
    mv "$work/out" "$hdir"
    rm -rf "$work"
    trap - EXIT
  fi
  exec 9>&-
fi

out=$root/build/kmod/$release
ko=$out/bpf_lens_testmod.ko
mkdir -p "$out"
exec 8>"$out/.lock"
flock 8
stale=
for src in "$root"/test/kmod/*; do [ "$src" -nt "$ko" ] && stale=1; done
if [ -n "$stale" ] || [ ! -f "$ko" ]; then
  cp "$root"/test/kmod/* "$out/"
  make -s -C "$hdir/usr/src/linux-headers-$release" M="$out" modules >&2
  # Without split BTF the type would be invisible to the kernel's struct_ops registry.
  # (grep reads all of readelf's output: with -q it would quit early, readelf would die of
  # SIGPIPE, and pipefail would report "no .BTF" for a module that has one)
  if ! readelf -S "$ko" | grep '\.BTF\b' >/dev/null; then echo "$0: $ko has no .BTF section (is pahole installed?)" >&2; rm -f "$ko"; exit 1; fi
fi
echo "$ko"
