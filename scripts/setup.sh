#!/usr/bin/env bash
# Installs what BPF Lens needs to build and test on a Debian machine with Node 20, as
# root: Debian packages when missing, then npm ci and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(clang llvm bpftool libbpf-dev golang-github-cilium-ebpf-dev linux-libc-dev xz-utils make gcc clang-16 clang-19 dwarves zstd qemu-system-x86 busybox-static python3 chromium openssh-server gcc-12 libelf1 sudo
  linux-source-6.12 linux-source-6.1 libelf-dev zlib1g-dev libcap-dev systemtap-sdt-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs for the load tests
if [ -d /sys/fs/bpf ] && ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

# libbpf 1.5, bpftool 7.5 and veristat from linux-source-6.12, and the BPF selftests corpus from
# linux-source-6.1, for the differential tests (cached under /var/cache/bpf-lens: minutes once)
bash scripts/selftests-corpus.sh >/dev/null
