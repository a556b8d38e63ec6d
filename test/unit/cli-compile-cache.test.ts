// bin/bpf-lens.js runs the command's own bundle (dist/cli-load.js, ...) or the whole CLI's, with
// V8's code cache under $XDG_CACHE_HOME/bpf-lens: made by
// the first run of a command, used (not rewritten) by the next, replaced when it is garbage or
// was made by a failed run, never made with BPF_LENS_NO_COMPILE_CACHE, and the command's output
// is the same throughout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, fixture } from '../helpers';

function run(cache: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: cache, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('the code cache of the bundle: made once per command, reused, replaced when corrupt, off on request', (t) => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'cli.js')), 'dist/cli.js is missing: run npm run build (scripts/test.sh does)');
  const cache = mkdtempSync(path.join(tmpdir(), 'bpf-lens-cc-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const dir = path.join(cache, 'bpf-lens');
  const obj = fixture('core_tracer.o');

  const plain = run(cache, ['inspect', obj], { BPF_LENS_NO_COMPILE_CACHE: '1' });
  assert.ok(!existsSync(dir), 'no cache when turned off');

  assert.equal(run(cache, ['inspect', obj]), plain);
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^cli-inspect-[0-9a-f]{16}-inspect\.v8cache$/, 'inspect runs its own bundle, dist/cli-inspect.js');
  const file = path.join(dir, files[0]);
  const made = statSync(file);
  assert.ok(made.size > 10_000);

  // accepted: not written again
  assert.equal(run(cache, ['inspect', obj]), plain);
  assert.equal(statSync(file).mtimeMs, made.mtimeMs);

  // garbage (or another V8's data): rejected, the command still works, a good cache replaces it
  writeFileSync(file, 'not a code cache');
  assert.equal(run(cache, ['inspect', obj]), plain);
  assert.ok(statSync(file).size > 10_000);

  // another command gets its own file; of the caches of other bundles for it (another checkout,
  // another install) the 3 newest stay beside it, older ones are removed; and a command
  // without a bundle of its own runs the whole CLI's
  const btf = (name: string) => name.startsWith('cli-btf-dump-') && name.endsWith('-btf.v8cache');
  const others = [0, 1, 2, 3].map((k) => `cli-btf-dump-000000000000000${k}-btf.v8cache`);
  others.forEach((f, k) => {
    writeFileSync(path.join(dir, f), 'other');
    utimesSync(path.join(dir, f), 1_700_000_000 + k, 1_700_000_000 + k); // 0 the oldest
  });
  run(cache, ['btf', 'dump', obj]);
  run(cache, ['relocate', obj, '--btf', obj]);
  const after = readdirSync(dir);
  assert.equal(after.filter(btf).length, 4, after.join(' '));
  assert.ok(!after.includes(others[0]), 'the oldest is removed');
  for (const f of others.slice(1)) assert.ok(after.includes(f), `${f} is kept`);
  assert.ok(
    after.some((f) => /^cli-[0-9a-f]{16}-relocate\.v8cache$/.test(f)),
    after.join(' '),
  );
  assert.equal(after.length, 6, after.join(' '));
});

test('a cache made by a failed run stands in until a run that succeeds replaces it; a failed run never replaces a good one', (t) => {
  const cache = mkdtempSync(path.join(tmpdir(), 'bpf-lens-cc-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const dir = path.join(cache, 'bpf-lens');
  const obj = fixture('core_tracer.o');
  const fail = () => {
    const r = spawnSync(process.execPath, [CLI, 'btf', 'dump', '/nonexistent.o'], { env: { ...process.env, XDG_CACHE_HOME: cache } });
    assert.equal(r.status, 1, 'a mistyped path');
  };
  fail();
  const [name] = readdirSync(dir);
  const file = path.join(dir, name);
  const first = readFileSync(file);
  assert.equal(first[0], 0, 'marked as made by a failed run');
  const out = run(cache, ['btf', 'dump', obj]);
  const good = readFileSync(file);
  assert.equal(good[0], 1, 'replaced by the run that succeeded');
  assert.ok(good.length > first.length, `it holds the dump's functions too (${first.length} then ${good.length} bytes)`);
  assert.equal(run(cache, ['btf', 'dump', obj]), out);
  fail();
  assert.ok(readFileSync(file).equals(good), 'a failed run leaves a good cache alone');
  assert.deepEqual(readdirSync(dir), [name]);
});

test('a command run from its own bundle prints what the whole CLI prints: output, help, errors, exit codes', () => {
  const whole = path.join(ROOT, 'dist', 'cli.js');
  const obj = fixture('core_tracer.o');
  const cases = [
    ['inspect', obj],
    ['inspect', obj, '--json'],
    ['btf', 'dump', obj],
    ['btf', 'dump', obj, '--format', 'c'],
    ['btf', 'dump', obj, '--format', 'json'],
    ['load', '--help'],
    ['inspect', '/nonexistent.o'],
    ['btf', 'dump'],
    ['probe', '--bogus'],
    ['link', obj],
    ['link', obj, obj, '-o', '/dev/null'],
    ['link', obj, '-o', '/dev/null', '-q'],
  ];
  for (const args of cases) {
    const mine = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    const all = spawnSync(process.execPath, [whole, ...args], { encoding: 'utf8' });
    assert.deepEqual([mine.status, mine.stdout, mine.stderr], [all.status, all.stdout, all.stderr], args.join(' '));
  }
  for (const name of ['load', 'inspect', 'btf-dump', 'probe', 'link'])
    assert.ok(existsSync(path.join(ROOT, 'dist', `cli-${name}.js`)), `dist/cli-${name}.js`);
});

test('every bundle is ASCII: bin/bpf-lens.js decodes them as latin1 without looking', () => {
  const bundles = readdirSync(path.join(ROOT, 'dist')).filter((f) => f.endsWith('.js'));
  assert.ok(bundles.includes('cli-btf-dump.js'), bundles.join(' '));
  for (const f of bundles) {
    const bytes = readFileSync(path.join(ROOT, 'dist', f));
    const at = bytes.findIndex((b) => b > 0x7f);
    assert.equal(at, -1, `dist/${f}: byte 0x${bytes[at]?.toString(16)} at offset ${at}`);
  }
});

test("BPF_LENS_DEBUG: a bug's stack trace names the TypeScript lines (the minified bundle run through its source map)", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-debug-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // a preload that makes reading this one object fail as no reader expects (no errno, no path)
  const inject = path.join(dir, 'inject.js');
  writeFileSync(
    inject,
    `const fs = require('fs'); const open = fs.openSync;
     fs.openSync = function (p, ...a) { if (String(p).endsWith('broken.o')) throw new Error('injected'); return open.call(this, p, ...a); };`,
  );
  const args = ['-r', inject, CLI, 'load', path.join(dir, 'broken.o')];
  const debug = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: dir, BPF_LENS_DEBUG: '1' } });
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /^bpf-lens: injected\nError: injected\n/);
  assert.match(debug.stderr, /at \w+ \(.*server\/src\/cli\/\w+\.ts:\d+:\d+\)/, 'frames at .ts lines');
  assert.ok(!existsSync(path.join(dir, 'bpf-lens')), 'no code cache made by a debug run');
  const quiet = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: dir } });
  assert.equal(quiet.stderr, 'bpf-lens: injected\n', 'without it: one line, no stack');
});
