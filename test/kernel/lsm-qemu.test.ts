// An LSM program loaded and run for real. This host's kernel (lockdown) refuses
// BPF_PROG_TYPE_LSM, so Debian's 6.1 and 6.12 (CONFIG_BPF_LSM, "bpf" in CONFIG_LSM) boot
// under qemu (TCG) with the host's root over 9p and run lsm-guest.ts: lsm_mprotect.o loads
// through the product's pipeline with target_tgid set to the guest script's pid, attaches
// (LINK_CREATE, then RAW_TRACEPOINT_OPEN), and libc mprotect() making the main stack's page
// executable is refused with EPERM while attached, allowed after detach; other processes
// and non-exec mprotect are untouched; the denial counter matches the refusals. On the host,
// the refusal must be reported as such, naming lockdown.
import assert from 'node:assert/strict';
import { readdirSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { BPF_LINK_TYPE } from '../../server/src/kernel';
import { cli, fixture } from '../helpers';
import { type DebianKernelVersion } from '../kernels';
import { runHostRootGuest } from '../qemu-host-root';
import { bpffsDir } from './kernel-env';

const EXPECTED_STEPS = [
  { step: 'before attach: RWX', result: 'ok' },
  { step: 'before attach: RW', result: 'ok' },
  { step: 'LINK_CREATE: RWX', result: 'EPERM' },
  { step: 'LINK_CREATE: RW', result: 'ok' },
  { step: 'LINK_CREATE: child process RWX', result: { exec: 'ok', restore: 'ok' } },
  { step: 'LINK_CREATE: RWX again', result: 'EPERM' },
  { step: 'link closed: RWX', result: 'ok' },
  { step: 'link closed: RW', result: 'ok' },
  { step: 'RAW_TRACEPOINT_OPEN: RWX', result: 'EPERM' },
  { step: 'raw_tp link closed: RWX', result: 'ok' },
  { step: 'raw_tp link closed: RW', result: 'ok' },
];

for (const version of ['6.1', '6.12'] as DebianKernelVersion[]) {
  test(`Debian ${version} under qemu: lsm/file_mprotect loads, attaches, refuses an executable main stack to its target only, and lets go on detach`, (t) => {
    const command = [process.execPath, path.join(__dirname, 'lsm-guest.js'), fixture('lsm_mprotect.o')].join(' ');
    const run = runHostRootGuest({ version, command });
    const g = run.result;
    assert.deepEqual(g.program, { name: 'deny_exec_main_stack', type: 'lsm', section: 'lsm/file_mprotect' });
    // the child is another tgid: its mprotect is allowed while the program is attached
    const child = g.steps.find((s: { step: string }) => s.step === 'LINK_CREATE: child process RWX').result;
    assert.notEqual(child.pid, g.pid);
    delete child.pid;
    assert.deepEqual(g.steps, EXPECTED_STEPS);
    assert.equal(g.links.linkCreate.type, BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING);
    assert.equal(g.links.linkCreate.progId, g.links.progId);
    assert.equal(g.links.rawTp.type, BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING);
    assert.equal(g.links.rawTp.progId, g.links.progId);
    const refusals = EXPECTED_STEPS.filter((s) => s.result === 'EPERM').length;
    assert.equal(Number(g.denials), refusals);
    t.diagnostic(
      `${run.kernel.release}: guest ${run.ms} ms (boot + run); guest script ms ${JSON.stringify(g.ms)}; stack page 0x${g.page}; denials ${g.denials}`,
    );
  });
}

test('this host (lockdown): bpf-lens load of the LSM object is refused with EPERM, the message names lockdown, nothing is left pinned', (t) => {
  const { dir, done } = bpffsDir('lsm');
  t.after(done);
  const r = cli(['load', fixture('lsm_mprotect.o'), '--set', 'target_tgid=1', '--pin', path.join(dir, 'p')]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /program 'deny_exec_main_stack' \(SEC\("lsm\/file_mprotect"\)\).*EPERM.*lsm.*lockdown/);
  assert.deepEqual(readdirSync(dir), []);
});
