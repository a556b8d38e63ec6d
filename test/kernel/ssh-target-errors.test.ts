/**
 * The target errors that need a particular host, each on a real one (test/ssh-host.ts): a
 * non-root user without sudo rights (no-sudo), the same user with sudo turned off so the agent
 * runs unprivileged (bpf-not-permitted), and an sshd whose sessions see no /sys/kernel/btf
 * (no-btf). Through the CLI as a user runs it: exit 2, stderr `error (<code>): <message>`.
 *
 * `probe --target` exits 2 with the error on stderr for every target error; when the agent runs
 * but bpf() is refused it still prints what it found on stdout first. A target without BTF is
 * usable (objects without CO-RE load there): probe exits 0 and says "vmlinux BTF: no".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CLI, fixture } from '../helpers';
import { cliOn, startSshHost } from '../ssh-host';
import { connectTarget, TargetError } from '../../server/src/remote';

const host = startSshHost();
test.after(() => host.stop());
const { run: bpfLens, fails } = cliOn(host);
const asUser = `ssh://${host.user}@${host.addr}`;
const noBtfHost = `ssh://root@${host.addr}:2223`;
// No CO-RE relocations / four of them (checked below through `bpf-lens relocate`).
const PLAIN = fixture('load_xdp.o');
const CORE = fixture('load_tracepoint.o');

test('fixtures: one object without CO-RE relocations, one with', () => {
  assert.match(spawnSync(process.execPath, [CLI, 'relocate', PLAIN]).stdout.toString(), /: 0 CO-RE relocations/);
  assert.match(spawnSync(process.execPath, [CLI, 'relocate', CORE]).stdout.toString(), /: [1-9]\d* CO-RE relocations/);
});

test("non-root user without sudo rights: no-sudo, with sudo's own words; passwordless sudo then works", () => {
  const t0 = performance.now();
  const probe = fails(['probe', '--target', asUser], 'no-sudo');
  const ms = performance.now() - t0;
  assert.match(probe.stderr, new RegExp(`${host.user} on ${host.user}@${host.addr} is not root and cannot run the agent with sudo -n`));
  assert.match(probe.stderr, /allow passwordless sudo .*NOPASSWD: .*node.*, or connect as root/);
  // the detail is what the real sudo said
  assert.match(probe.stderr, /\n {2}sudo: a password is required/);
  fails(['load', PLAIN, '--target', asUser], 'no-sudo');

  host.allowSudo(true);
  try {
    const ok = bpfLens(['probe', '--json', '--target', asUser]);
    assert.equal(ok.status, 0, ok.stderr);
    const h = JSON.parse(ok.stdout);
    assert.equal(h.uid, 0, 'the agent runs as root under sudo -n');
    assert.equal(h.privileges.canLoad, true);
    const load = bpfLens(['load', PLAIN, '--json', '--target', asUser]);
    assert.equal(load.status, 0, load.stderr);
    assert.ok(JSON.parse(load.stdout).progs[0].id > 0);
  } finally {
    host.allowSudo(false);
  }
  console.log(`no-sudo reported in ${ms.toFixed(0)} ms`);
});

test('--no-sudo as a non-root user: the agent runs unprivileged, bpf-not-permitted says why and what to do', (t) => {
  const disabled = Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'latin1'));
  if (disabled === 0) return t.skip('this kernel lets unprivileged users load socket filters (unprivileged_bpf_disabled = 0)');
  const t0 = performance.now();
  const probe = fails(['probe', '--target', asUser, '--no-sudo'], 'bpf-not-permitted');
  const ms = performance.now() - t0;
  // what it found comes first, on stdout
  assert.match(probe.stdout, /can load BPF: {3}no \(EPERM\)/);
  assert.match(probe.stdout, /uid [1-9]\d*\)/);
  const msg = probe.stderr;
  assert.match(
    msg,
    /bpf\(\) is not permitted for the agent on .* \(EPERM\): the agent runs as uid [1-9]\d* without CAP_BPF or CAP_SYS_ADMIN/,
  );
  assert.match(msg, new RegExp(`unprivileged BPF is disabled there \\(/proc/sys/kernel/unprivileged_bpf_disabled = ${disabled}\\)`));
  assert.match(msg, /connect as root, let the agent run under sudo .*, or give it CAP_BPF and CAP_PERFMON/);

  const json = bpfLens(['probe', '--json', '--target', asUser, '--no-sudo']);
  assert.equal(json.status, 2);
  const h = JSON.parse(json.stdout);
  assert.equal(h.privileges.canLoad, false);
  assert.equal(h.unprivilegedBpfDisabled, disabled);
  assert.deepEqual(h.features, {});

  // load says the same thing, word for word (one place makes the error)
  const load = fails(['load', PLAIN, '--target', asUser, '--no-sudo'], 'bpf-not-permitted');
  assert.equal(load.stderr, msg);
  assert.equal(load.stdout, '');
  console.log(`bpf-not-permitted reported in ${ms.toFixed(0)} ms`);
});

test('a target without /sys/kernel/btf: probe says so; CO-RE objects fail with no-btf, plain ones load', async () => {
  const probe = bpfLens(['probe', '--target', noBtfHost]);
  assert.equal(probe.status, 0, probe.stderr);
  assert.match(probe.stdout, /vmlinux BTF: {4}no /);
  assert.match(probe.stdout, /can load BPF: {3}yes/);

  const t0 = performance.now();
  const core = fails(['load', CORE, '--target', noBtfHost], 'no-btf');
  const ms = performance.now() - t0;
  assert.match(
    core.stderr,
    /no BTF on root@[\d.]+:2223: \/sys\/kernel\/btf\/vmlinux is missing and .*load_tracepoint\.o cannot load without it: its CO-RE relocations/,
  );
  assert.match(core.stderr, /CONFIG_DEBUG_INFO_BTF=y/);
  const plain = bpfLens(['load', PLAIN, '--json', '--target', noBtfHost]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(JSON.parse(plain.stdout).progs[0].id > 0);
  // The same CO-RE object on the same kernel through sshd with /sys/kernel/btf: loads.
  const withBtf = bpfLens(['load', CORE, '--target', `ssh://root@${host.addr}`]);
  assert.equal(withBtf.status, 0, withBtf.stderr);
  // And on the host without BTF when CO-RE gets that kernel's BTF from here (--btf, sent along).
  const custom = bpfLens(['load', CORE, '--target', noBtfHost, '--btf', '/sys/kernel/btf/vmlinux']);
  assert.equal(custom.status, 0, custom.stderr);

  // the language server's path: AgentClient.targetBtf
  const cache = mkdtempSync(join(tmpdir(), 'bpflens-btf-cache-'));
  const c = await connectTarget(noBtfHost, { configFile: host.config });
  try {
    await assert.rejects(
      c.targetBtf(cache),
      (e: unknown) => e instanceof TargetError && e.code === 'no-btf' && /CONFIG_DEBUG_INFO_BTF=y/.test(e.message),
    );
    // the agent is still there after the refusal
    assert.equal((await c.hello()).hasVmlinuxBtf, false);
  } finally {
    await c.close();
    rmSync(cache, { recursive: true, force: true });
  }
  console.log(`no-btf reported in ${ms.toFixed(0)} ms`);
});
