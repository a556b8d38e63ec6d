#!/usr/bin/env bash
# Installs code-server (VS Code 1.100.3 served to a browser) into a cache directory outside
# the checkout, keyed by version, and prints the path of its launcher. Later runs (CI reruns
# on the same machine) find it there and skip the ~8-minute npm install.
#   ${BPF_LENS_CACHE:-/var/cache/bpf-lens}/code-server-<version>/node_modules/.bin/code-server
set -euo pipefail
version=${CODE_SERVER_VERSION:-4.100.3}
cache=${BPF_LENS_CACHE:-/var/cache/bpf-lens}
dir=$cache/code-server-$version
bin=$dir/node_modules/.bin/code-server
if [ -f "$dir/.complete" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/code-server-$version.lock"
flock 9
if [ -f "$dir/.complete" ]; then echo "$bin"; exit 0; fi

# Native modules of code-server need these; ripgrep stands in for the rg download.
need=()
for p in pkg-config libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev ripgrep make g++ python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# @vscode/ripgrep 1.15.11 looks in this cache before downloading rg from GitHub (no network here).
rgcache=${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11
mkdir -p "$rgcache"
tarball=$rgcache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
if [ ! -f "$tarball" ]; then
  t=$(mktemp -d)
  cp /usr/bin/rg "$t/rg"
  tar -C "$t" -czf "$tarball.tmp" rg && mv "$tarball.tmp" "$tarball"
  rm -rf "$t"
fi

work=$(mktemp -d "$cache/.code-server-$version.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
( cd "$work" && echo '{"name":"code-server-cache","private":true}' > package.json &&
  npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund --loglevel=error \
    "code-server@$version" >&2 )
echo "code-server $version installed in $(( $(date +%s) - start )) s" >&2
touch "$work/.complete"
rm -rf "$dir"
mv "$work" "$dir"
trap - EXIT
echo "$bin"
