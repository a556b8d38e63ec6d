#!/usr/bin/env bash
# Installs what is needed, builds, compiles the C fixtures, then runs every test with
# node's test runner. Ends with the runner's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p .
# bin/bpf-lens.js prefers the bundle: keep dist/ current with the sources under test.
npm run build --silent
make -s -C test/fixtures
mapfile -t files < <(find out/test -name '*.test.js' | sort)
exec node --test --test-reporter=spec --test-concurrency=2 "${files[@]}"
