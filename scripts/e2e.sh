#!/usr/bin/env bash
# npm run e2e: only the end-to-end suites (the VSIXes, code-server + chromium, and the
# extension-host suite in code-server's remote extension host; its @vscode/test-electron
# twin says NOT RUN without VSCODE_EXECUTABLE_PATH).
# scripts/test.sh runs them too, with everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p .
npm run -s build
make -s -C test/fixtures
mapfile -t files < <(find out/test/e2e out/test/vscode -name '*.test.js' | sort)
exec node --test --test-reporter=spec --test-concurrency=2 "${files[@]}"
