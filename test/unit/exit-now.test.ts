// A command's process ends without node's teardown once libc is loaded: every 'exit' listener
// still runs first (the code cache is written there), the exit status is the command's, and a
// profile or coverage asked of node is still written (node writes those in its teardown).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from '../helpers';

const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-exit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const EXIT_NOW = JSON.stringify(path.join(ROOT, 'out', 'server', 'src', 'kernel', 'exit-now.js'));
const SYS = JSON.stringify(path.join(ROOT, 'out', 'server', 'src', 'kernel', 'sys.js'));

function run(code: string, opts: { args?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, [...(opts.args ?? []), '-e', code], { encoding: 'utf8', env: { ...process.env, ...opts.env } });
}

test('the listeners run in order, then the offered exit, with the status', () => {
  const r = run(
    `const x = require(${EXIT_NOW});` +
      `process.on('exit', () => process.stdout.write('listener\\n'));` +
      `x.offerQuickExit((s) => process.stdout.write('quick ' + s + '\\n'));` +
      `x.exitAfterListeners(3);`,
  );
  assert.equal(r.stdout, 'listener\nquick 3\n');
  assert.equal(r.status, 3);
});

test("with libc loaded, libc's _exit ends the process with the command's status, after the listeners", () => {
  const r = run(
    `const s = require(${SYS}); s.pageSize();` +
      `process.on('exit', () => require('fs').writeSync(1, 'listener\\n'));` +
      `require(${EXIT_NOW}).exitAfterListeners(7);` +
      `require('fs').writeSync(1, 'not reached\\n');`,
  );
  assert.equal(r.stdout, 'listener\n', r.stderr);
  assert.equal(r.status, 7);
});

test('a CPU profile or coverage asked of node is still written (node writes them in its teardown)', () => {
  const code = `require(${SYS}).pageSize(); require(${EXIT_NOW}).exitAfterListeners(0);`;
  const prof = path.join(dir, 'prof');
  assert.equal(run(code, { args: ['--cpu-prof', '--cpu-prof-dir', prof] }).status, 0);
  assert.equal(readdirSync(prof).filter((f) => f.endsWith('.cpuprofile')).length, 1);
  const cov = path.join(dir, 'cov');
  assert.equal(run(code, { env: { NODE_V8_COVERAGE: cov } }).status, 0);
  assert.equal(readdirSync(cov).filter((f) => f.endsWith('.json')).length, 1);
});
