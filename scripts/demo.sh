#!/usr/bin/env bash
# The main job on the built-in examples: build them with clang, then show what BPF Lens
# sees in them (inspect, BTF dump).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
make -s -C examples
for obj in examples/build/*.o; do
  echo "=== bpf-lens inspect $obj"
  node bin/bpf-lens.js inspect "$obj"
done
first=$(ls examples/build/*.o | head -1)
echo "=== bpf-lens btf dump $first --format c"
node bin/bpf-lens.js btf dump "$first" --format c
