#!/usr/bin/env bash
# The fast tier (`npm run test:unit`): the pure engine's tests under test/unit — no root, no
# bpf(2), no qemu, no browser. They read /sys/kernel/btf/vmlinux (world-readable) and compare
# with bpftool/pahole/clang where those are installed. Builds what the tests need: TypeScript,
# the bundle the CLI tests run, and the C fixtures. scripts/test.sh stays the full run (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
npm run build --silent
make -s -C test/fixtures
mapfile -t files < <(find out/test/unit -name '*.test.js' | sort)
exec node --test --test-reporter=spec --test-concurrency=2 "${files[@]}"
