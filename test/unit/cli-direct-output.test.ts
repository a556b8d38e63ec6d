// A one-command bundle (dist/cli-btf-dump.js, ...) writes its output straight to fd 1 and exits
// once it is written: a big dump through a pipe whose reader is slow, or a pipe that another
// process made non-blocking (write(2) then answers EAGAIN), must still arrive whole; a reader
// that stops early (`| head`) ends it quietly with 0.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT } from '../helpers';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** stdout of `bash -c script` (CLI, VMLINUX and NODE in its environment), and its exit status. */
function sh(script: string) {
  const r = spawnSync('bash', ['-c', script], {
    env: { ...process.env, CLI, VMLINUX, NODE: process.execPath },
    maxBuffer: 1 << 30,
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

test(
  'btf dump of vmlinux arrives whole through a slow pipe, a non-blocking pipe and a reader that stops',
  { skip: !existsSync(VMLINUX) },
  () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli-btf-dump.js')), 'dist/cli-btf-dump.js is missing: run npm run build');
    const whole = spawnSync(process.execPath, [CLI, 'btf', 'dump', VMLINUX], { maxBuffer: 1 << 30, timeout: 120_000 });
    assert.equal(whole.status, 0, whole.stderr.toString());
    assert.ok(whole.stdout.length > 1 << 20, 'vmlinux dumps more than a pipe holds');
    const want = sha(whole.stdout);

    assert.equal(sha(sh('"$NODE" "$CLI" btf dump "$VMLINUX" | (sleep 0.5; cat)')), want, 'slow reader');
    // O_NONBLOCK set on the pipe before the dump starts: write(2) answers EAGAIN once it is full
    const nonBlocking = `python3 -c 'import os, sys; os.set_blocking(1, False); os.execv(sys.argv[1], sys.argv[1:])'`;
    assert.equal(sha(sh(`${nonBlocking} "$NODE" "$CLI" btf dump "$VMLINUX" | (sleep 0.5; cat)`)), want, 'non-blocking pipe');
    // the dump writes over one buffer: what the pipe could not take must have been copied
    const json = spawnSync(process.execPath, [CLI, 'btf', 'dump', VMLINUX, '--format', 'json'], { maxBuffer: 1 << 30, timeout: 120_000 });
    assert.equal(json.status, 0, json.stderr.toString());
    const viaNonBlocking = sh(`${nonBlocking} "$NODE" "$CLI" btf dump "$VMLINUX" --format json | (sleep 0.5; cat)`);
    assert.equal(sha(viaNonBlocking), sha(json.stdout), 'non-blocking pipe, json');
    // a reader that leaves after one line: the dump ends quietly (nothing on stderr) with 0
    const early = sh('set -o pipefail; exec 3>&1; "$NODE" "$CLI" btf dump "$VMLINUX" 2>&3 | head -1; echo "status $?"');
    assert.match(early.toString(), /^\[1\] INT [^\n]*\nstatus 0\n$/);
  },
);
