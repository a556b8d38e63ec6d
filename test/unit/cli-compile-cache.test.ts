// bin/bpf-lens.js runs the bundle with V8's code cache under $XDG_CACHE_HOME/bpf-lens: made by
// the first run of a command, used (not rewritten) by the next, replaced when it is garbage,
// never made with BPF_LENS_NO_COMPILE_CACHE, and the command's output is the same throughout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  assert.match(files[0], /^cli-[0-9a-f]{16}-inspect\.v8cache$/);
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

  // another command gets its own file; a stale file of an older bundle for it is removed
  writeFileSync(path.join(dir, 'cli-0000000000000000-btf.v8cache'), 'old');
  run(cache, ['btf', 'dump', obj]);
  assert.deepEqual(readdirSync(dir).sort(), [files[0], files[0].replace('-inspect.', '-btf.')].sort());
});
