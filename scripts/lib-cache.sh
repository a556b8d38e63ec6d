# Sourced by the scripts that build something once into ${BPF_LENS_CACHE:-/var/cache/bpf-lens}
# and print where it is (build-refs.sh, selftests-corpus.sh, debian-kernel.sh). Safe when
# several processes run them at once: a lock, and a build in a temporary directory that is
# renamed into place whole, marked complete.

# cache_open DIR [LOCK] [TAG]: when DIR is complete, prints it and exits the script. Else takes
# the lock LOCK (default .lock) in DIR's parent until the script exits, looks again (another
# process may have built it meanwhile) and sets $work: a fresh directory beside DIR (named
# after TAG, default build), removed when the script exits.
cache_open() {
  cache_dir=$1
  local parent
  parent=$(dirname "$cache_dir")
  if [ -f "$cache_dir/.complete" ]; then echo "$cache_dir"; exit 0; fi
  mkdir -p "$parent"
  exec 9>"$parent/${2:-.lock}"
  flock 9
  if [ -f "$cache_dir/.complete" ]; then echo "$cache_dir"; exit 0; fi
  work=$(mktemp -d "$parent/.${3:-build}.XXXXXX")
  trap 'rm -rf "$work"' EXIT
}

# cache_close OUT: marks OUT complete, puts it in the place of cache_open's DIR, prints DIR.
cache_close() {
  touch "$1/.complete"
  rm -rf "$cache_dir"
  mv "$1" "$cache_dir"
  echo "$cache_dir"
}
