#!/usr/bin/env node
// The bpf-lens command: the webpack bundle when built, else the compiled sources (tests).
// bin/package.json gives node this file's module type, so a start does not read and parse the
// extension's 19 KB manifest at the root to learn it (~25 page faults, ~0.4 ms here).
// BPF_LENS_DEBUG=1 prints a bug's stack trace at the TypeScript lines: through the bundle's
// source map, which node applies to modules it requires (not to runBundle's vm.Script).
const DEBUG = !!process.env.BPF_LENS_DEBUG;
if (DEBUG) process.setSourceMapsEnabled(true);
const fs = require('fs');
const path = require('path');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
/** The first byte of a code cache made by a run that exited with status 0 (runBundle). */
const MADE_BY_SUCCESS = 1;
if (fs.existsSync(bundle)) runBundle(commandBundle() || bundle);
// required, not run as main: its `require.main === module` guard is false here, so start it
else require(path.join(__dirname, '..', 'out', 'server', 'src', 'cli', 'main.js')).main();

/**
 * The bundle of this command alone (dist/cli-btf-dump.js for `btf dump ...`, cli-load.js for
 * `load ...`), when it was built: a cold process then reads and compiles only what it runs.
 */
function commandBundle() {
  const words = process.argv.slice(2, 4);
  for (const name of [words.join('-'), words[0]]) {
    if (!/^[a-z]+(-[a-z]+)*$/.test(name || '')) continue;
    const file = path.join(__dirname, '..', 'dist', `cli-${name}.js`);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

/**
 * Runs the bundle with V8's code cache (node 20 has no NODE_COMPILE_CACHE): compiling the
 * 1.4 MB bundle and the functions a command runs costs ~20 ms of a ~150 ms `load`. The cache
 * lives in $XDG_CACHE_HOME/bpf-lens (or ~/.cache/bpf-lens), one file per bundle, its content,
 * node version and command, the KEEP_CACHES newest per command bundle; V8 also rejects data made
 * by another V8 or with other flags. Its first byte says whether the run that made it succeeded.
 * BPF_LENS_NO_COMPILE_CACHE=1 turns it off; any failure falls back to a plain require.
 */
function runBundle(file) {
  let src;
  let script;
  let cached;
  let cacheFile;
  try {
    if (process.env.BPF_LENS_NO_COMPILE_CACHE || DEBUG) throw new Error('off');
    const vm = require('vm');
    // the module system's class, as require('module') returns it, without loading that facade (~0.5 ms)
    const Module = module.constructor;
    src = readWrapped(file);
    // os.homedir() reads $HOME first too; requiring os costs ~0.4 ms of a cold start
    const home = process.env.HOME || require('os').homedir();
    const dir = path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'bpf-lens');
    // The bundle's size and mtime name it (hashing its 1.5 MB each run cost more than the
    // cache saved); V8 still refuses data made for other source text.
    const st = fs.statSync(file);
    const key = hash16(`${st.size} ${st.mtimeMs} ${process.version} ${process.arch} ${process.execArgv.join(' ')}`);
    const command = /^[a-z-]{1,20}$/.test(process.argv[2] || '') ? process.argv[2] : 'other';
    const base = path.basename(file, '.js');
    cacheFile = path.join(dir, `${base}-${key}-${command}.v8cache`);
    try {
      cached = fs.readFileSync(cacheFile);
    } catch {
      cached = undefined;
    }
    // [how the run that made it ended (MADE_BY_SUCCESS or not)][V8's data]
    const v8data = cached && cached.length > 1 ? cached.subarray(1) : undefined;
    script = new vm.Script(src, { filename: file, cachedData: v8data });
    const m = new Module(file, module);
    m.filename = file;
    m.paths = Module._nodeModulePaths(path.dirname(file));
    const usable = v8data && !script.cachedDataRejected;
    if (!usable || cached[0] !== MADE_BY_SUCCESS) {
      // Written at exit, so it holds the functions this command compiled too. A failed run (a
      // mistyped path) compiles little of what the command does, so its cache stands in only
      // until a run that succeeds replaces it (kept for good, it made `btf dump` ~10 ms slower).
      process.once('exit', (code) => {
        if (usable && code !== 0) return;
        try {
          fs.mkdirSync(dir, { recursive: true });
          const tmp = `${cacheFile}.${process.pid}`;
          fs.writeFileSync(tmp, Buffer.concat([Buffer.of(code === 0 ? MADE_BY_SUCCESS : 0), script.createCachedData()]));
          fs.renameSync(tmp, cacheFile);
          pruneCaches(dir, new RegExp(`^${base}-[0-9a-f]{16}-${command}\\.v8cache$`));
        } catch {
          // a read-only home: run without a cache
        }
      });
    }
    const fn = script.runInThisContext();
    m.loaded = true;
    fn.call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
  } catch (e) {
    if (script) throw e; // the bundle itself failed: its error, not the cache's
    require(file);
  }
}

/** Caches kept per command bundle: two installs or checkouts used in turn keep theirs. */
const KEEP_CACHES = 4;

/** Removes all but the KEEP_CACHES newest (by mtime) caches whose names match `mine`. */
function pruneCaches(dir, mine) {
  const files = fs.readdirSync(dir).filter((f) => mine.test(f));
  if (files.length <= KEEP_CACHES) return;
  const byAge = files.map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { f } of byAge.slice(KEEP_CACHES)) fs.rmSync(path.join(dir, f), { force: true });
}

/**
 * The bundle inside node's module wrapper as one flat string, read once: Module.wrap(text) is a
 * concatenation V8 copies again before it even looks at the cache (another 1 MB of fresh pages).
 * Every bundle is ASCII (webpack.config.js's AsciiOnlyPlugin escapes the rest), for which latin1
 * is the exact decoding: no check at each start.
 */
function readWrapped(file) {
  const head = '(function (exports, require, module, __filename, __dirname) { ';
  const tail = '\n});';
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.allocUnsafeSlow(head.length + size + tail.length);
    let at = buf.write(head, 0, 'latin1');
    for (let n; at < head.length + size; at += n) {
      n = fs.readSync(fd, buf, at, head.length + size - at, null);
      if (n === 0) throw new Error(`${file}: shorter than its size`);
    }
    buf.write(tail, at, 'latin1');
    return buf.toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * 16 hex digits of a short string (two FNV-1a hashes, as server/src/common/fnv.ts's fnvHex: the
 * launcher runs before any bundle, so it keeps its own copy): a file name, not a security check.
 */
function hash16(text) {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    a = Math.imul(a ^ text.charCodeAt(i), 0x01000193) >>> 0;
    b = Math.imul(b ^ text.charCodeAt(i), 0x811c9dc5) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}
