#!/usr/bin/env bash
# npm run package: builds the webpack bundles and packs one VSIX per platform with
# @vscode/vsce --target: bpf-lens-linux-x64-<version>.vsix and bpf-lens-linux-arm64-<version>.vsix
# (into OUTDIR, default the checkout), each printed on its own line.
#   bash scripts/package.sh [OUTDIR]        BPF_LENS_TARGETS="linux-x64" packs only that one
#
# A VSIX holds only what runs: dist/*.js (client, language server, LSP worker, CLI, agent),
# the grammars, the icons, README, CHANGELOG, LICENSE, and koffi with the native module of its
# platform only (as rust-analyzer ships a VSIX per platform: VS Code installs the one that
# matches; bpf(2) is Linux-only, so linux-x64 and linux-arm64). It is assembled in a staging
# directory, because vsce either ships every production dependency (all of them are bundled
# by webpack except koffi) or none. The arm64 native package is not installed on an x64
# machine: `npm pack` fetches it once into the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${BPF_LENS_CACHE:-/var/cache/bpf-lens}/npm
version=$(node -p 'require("./package.json").version')
koffi_version=$(node -p 'require("./node_modules/koffi/package.json").version')
outdir=$(mkdir -p "${1:-$root}" && cd "${1:-$root}" && pwd)
targets=${BPF_LENS_TARGETS:-linux-x64 linux-arm64}
max_bytes=$((10 * 1024 * 1024))

[ "${BPF_LENS_SKIP_BUILD:-}" = 1 ] || npm run -s build

# The native koffi package of each supported architecture: from node_modules when npm
# installed it for this machine, else fetched with npm pack into the cache.
native_dir() {
  local arch=$1 pkg=@koromix/koffi-linux-$1
  if [ -f "node_modules/$pkg/linux_$arch/koffi.node" ]; then echo "$root/node_modules/$pkg"; return; fi
  local dir=$cache/koffi-linux-$arch-$koffi_version
  if [ ! -f "$dir/package/linux_$arch/koffi.node" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$pkg@$koffi_version" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz)
  fi
  echo "$dir/package"
}

stages=()
trap 'rm -rf "${stages[@]}"' EXIT

# pack TARGET: stage what ships for that platform and run vsce there.
pack() {
  local target=$1 arch=${1#linux-}
  local out=$outdir/bpf-lens-$target-$version.vsix
  local stage
  stage=$(mktemp -d)
  stages+=("$stage")
  mkdir -p "$stage/dist" "$stage/node_modules/koffi/src/koffi/src" "$stage/node_modules/@koromix"
  cp dist/*.js "$stage/dist/"
  cp -r syntaxes README.md CHANGELOG.md LICENSE .vscodeignore "$stage/"
  mkdir -p "$stage/media" && cp media/bpf.svg media/icon.png "$stage/media/"
  # koffi's JavaScript loader (index.cjs → src/koffi/index.cjs → src/static.cjs) and the native module.
  cp node_modules/koffi/{package.json,index.cjs,LICENSE.txt} "$stage/node_modules/koffi/"
  cp node_modules/koffi/src/koffi/index.cjs "$stage/node_modules/koffi/src/koffi/"
  cp node_modules/koffi/src/koffi/src/static.cjs "$stage/node_modules/koffi/src/koffi/src/"
  local src dst
  src=$(native_dir "$arch")
  dst=$stage/node_modules/@koromix/koffi-linux-$arch
  mkdir -p "$dst/linux_$arch"
  cp "$src/package.json" "$src/index.js" "$dst/"
  cp "$src/linux_$arch/koffi.node" "$dst/linux_$arch/"
  # The manifest as published: no scripts or dev dependencies; dependencies = what is shipped.
  node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
    delete p.devDependencies; delete p.scripts; delete p.bin;
    p.dependencies = JSON.parse(process.argv[2]);
    fs.writeFileSync(process.argv[1] + "/package.json", JSON.stringify(p, null, 2) + "\n");
  ' "$stage" "{\"koffi\": \"$koffi_version\", \"@koromix/koffi-linux-$arch\": \"$koffi_version\"}"
  # vsce's warnings are errors here: a VSIX that needs a suppression flag is not shipped.
  local log
  log=$(cd "$stage" && "$root/node_modules/.bin/vsce" package --target "$target" -o "$out" 2>&1) || { echo "$log" >&2; exit 1; }
  if grep -q WARNING <<<"$log"; then echo "$log" >&2; echo "vsce warned: $out not shipped" >&2; rm -f "$out"; exit 1; fi
  local size
  size=$(stat -c %s "$out")
  if [ "$size" -gt "$max_bytes" ]; then
    echo "$out is $size bytes, more than $max_bytes" >&2; exit 1
  fi
  echo "$out ($size bytes)" >&2
  echo "$out"
}

for t in $targets; do
  case $t in linux-x64|linux-arm64) pack "$t" ;; *) echo "unsupported target $t (linux-x64, linux-arm64)" >&2; exit 2 ;; esac
done
