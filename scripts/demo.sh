#!/usr/bin/env bash
# The main job on the built-in examples:
#   1. build everything (bundles, the example BPF programs, a Debian 6.1 module);
#   2. show what BPF Lens sees in them from the command line (inspect, BTF dump, base diff);
#   3. package the VSIX, install it into code-server (VS Code 1.100.3) and serve VS Code with
#      examples/ open on 127.0.0.1, printing the URL (PORT, default 8080; Ctrl-C stops it).
# DEMO_SERVE=0 stops after step 2.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s build
make -s -C examples
for obj in examples/build/*.o; do
  echo "=== bpf-lens inspect $obj"
  node bin/bpf-lens.js inspect "$obj"
done
first=$(ls examples/build/*.o | head -1)
echo "=== bpf-lens btf dump $first --format c"
node bin/bpf-lens.js btf dump "$first" --format c
echo "=== bpf-lens base-diff examples/build/tcp_bbr.ko --base /sys/kernel/btf/vmlinux --orig-base examples/build/vmlinux-6.1.btf"
node bin/bpf-lens.js base-diff examples/build/tcp_bbr.ko --base /sys/kernel/btf/vmlinux \
  --orig-base examples/build/vmlinux-6.1.btf || echo "(exit $?: some base types would not relocate onto this kernel)"
[ "${DEMO_SERVE:-1}" = 0 ] && exit 0
vsix=$(BPF_LENS_SKIP_BUILD=1 BPF_LENS_TARGETS="linux-$(node -p process.arch)" bash scripts/package.sh)
exec bash scripts/serve.sh "$vsix" examples
