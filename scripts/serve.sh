#!/usr/bin/env bash
# Usage: scripts/serve.sh [VSIX] [FOLDER]
# Serves VS Code (code-server 4.100.3 = VS Code 1.100.3) on 127.0.0.1 with BPF Lens installed
# from VSIX (default: bpf-lens-linux-<arch>-<version>.vsix for this machine, packaged when
# missing) and FOLDER (default:
# examples/) open, and prints the URL. Runs in the foreground until interrupted.
# PORT (default 8080) picks the port; the profile lives in a fresh temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
target=linux-$(node -p process.arch)
vsix=${1:-$PWD/bpf-lens-$target-$version.vsix}
folder=$(realpath "${2:-examples}")
port=${PORT:-8080}
[ -f "$vsix" ] || vsix=$(BPF_LENS_TARGETS=$target bash scripts/package.sh)
code_server=$(bash scripts/code-server.sh)

profile=$(mktemp -d "${TMPDIR:-/tmp}/bpf-lens-serve.XXXXXX")
trap 'rm -rf "$profile"' EXIT
"$code_server" --config "$profile/config.yaml" --user-data-dir "$profile/user" --extensions-dir "$profile/extensions" \
  --install-extension "$vsix" >&2
echo
echo "BPF Lens in VS Code: http://127.0.0.1:$port/?folder=$folder"
echo "(code-server on loopback only, no password; Ctrl-C stops it)"
echo
"$code_server" --bind-addr "127.0.0.1:$port" --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust \
  --config "$profile/config.yaml" --user-data-dir "$profile/user" --extensions-dir "$profile/extensions" "$folder"
