#!/usr/bin/env bash
# npm run package: builds the webpack bundles and packs bpf-lens-<version>.vsix with @vscode/vsce.
#
# The VSIX holds only what runs: dist/*.js (client, language server, LSP worker, CLI, agent),
# the grammars, the icon, README, and koffi with its native module for linux-x64 and
# linux-arm64 (the only ones BPF Lens supports: bpf(2) is Linux-only). It is assembled in
# a staging directory, because vsce either ships every production dependency (all of
# them are bundled by webpack except koffi) or none. The arm64 native package is not
# installed on an x64 machine: `npm pack` fetches it once into the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${BPF_LENS_CACHE:-/var/cache/bpf-lens}/npm
version=$(node -p 'require("./package.json").version')
koffi_version=$(node -p 'require("./node_modules/koffi/package.json").version')
out=${1:-$root/bpf-lens-$version.vsix}
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

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dist" "$stage/node_modules/koffi/src/koffi/src" "$stage/node_modules/@koromix"
cp dist/*.js "$stage/dist/"
cp -r syntaxes media README.md .vscodeignore "$stage/"
[ -d docs/screenshots ] && mkdir -p "$stage/docs" && cp -r docs/screenshots "$stage/docs/"
[ -f LICENSE ] && cp LICENSE "$stage/"
# koffi's JavaScript loader (index.cjs → src/koffi/index.cjs → src/static.cjs) and the native modules.
cp node_modules/koffi/{package.json,index.cjs,index.d.ts,LICENSE.txt} "$stage/node_modules/koffi/"
cp node_modules/koffi/src/koffi/index.cjs "$stage/node_modules/koffi/src/koffi/"
cp node_modules/koffi/src/koffi/src/static.cjs "$stage/node_modules/koffi/src/koffi/src/"
deps="\"koffi\": \"$koffi_version\""
for arch in x64 arm64; do
  src=$(native_dir "$arch")
  dst=$stage/node_modules/@koromix/koffi-linux-$arch
  mkdir -p "$dst/linux_$arch"
  cp "$src/package.json" "$src/index.js" "$dst/"
  cp "$src/linux_$arch/koffi.node" "$dst/linux_$arch/"
  deps="$deps, \"@koromix/koffi-linux-$arch\": \"$koffi_version\""
done
# The manifest as published: no scripts or dev dependencies; dependencies = what is shipped.
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
  delete p.devDependencies; delete p.scripts; delete p.bin;
  p.dependencies = JSON.parse(process.argv[2]);
  fs.writeFileSync(process.argv[1] + "/package.json", JSON.stringify(p, null, 2) + "\n");
' "$stage" "{$deps}"

# The README's screenshots ship too (docs/screenshots), so its relative links stay relative.
(cd "$stage" && "$root/node_modules/.bin/vsce" package --skip-license --allow-missing-repository \
  --allow-star-activation --no-rewrite-relative-links -o "$out" >&2)

size=$(stat -c %s "$out")
if [ "$size" -gt "$max_bytes" ]; then
  echo "$out is $size bytes, more than $max_bytes" >&2; exit 1
fi
echo "$out ($size bytes)" >&2
echo "$out"
