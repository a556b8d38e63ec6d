// VM targets' spelling: `vm:IMAGE[,modules=DIR][,memory=MB][,cpus=N][,insmod=MODULE]...` on the
// command line and { kernel, modules, memory, cpus, insmod } in bpfLens.targets, checked by one
// parser; an unknown option or a bad number is a usage error before anything boots; a kernel
// image that does not exist is a bad-target error naming it; the bzImage header gives the release.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseTargetSpec, parseVmSpec } from '../../protocol/target-spec';
import { parseTargetSettings } from '../../server/src/lsp/targets';
import { connectTarget, TargetError } from '../../server/src/remote';
import { bzImageRelease, consoleTail } from '../../server/src/remote/vm';
import { cli, ROOT } from '../helpers';

test('vm: specs parse to the image and its options; every --target spelling goes through parseTargetSpec', () => {
  const r = parseVmSpec('vm:/k/6.1/vmlinuz,modules=/k/6.1/modules,memory=2048,cpus=2,insmod=tcp_bbr,insmod=/tmp/x.ko');
  assert.ok(r.ok, !r.ok ? r.reason : '');
  assert.deepEqual(r.spec, {
    kernel: '/k/6.1/vmlinuz',
    modules: '/k/6.1/modules',
    memory: 2048,
    cpus: 2,
    insmod: ['tcp_bbr', '/tmp/x.ko'],
  });
  assert.deepEqual(parseVmSpec('vm:bzImage'), { ok: true, spec: { kernel: 'bzImage' } });
  assert.deepEqual(parseTargetSpec('local'), { ok: true, spec: { kind: 'local' } });
  const vm = parseTargetSpec('vm:/boot/vmlinuz');
  assert.ok(vm.ok && vm.spec.kind === 'vm' && vm.spec.vm.kernel === '/boot/vmlinuz');
  const ssh = parseTargetSpec('root@host:2222');
  assert.ok(ssh.ok && ssh.spec.kind === 'ssh' && ssh.spec.ssh.port === 2222);
});

test('vm: specs with an unknown option, a repeated one, a bad number or no image are refused, saying which', () => {
  const bad = (s: string, why: RegExp) => {
    const r = parseVmSpec(s);
    assert.equal(r.ok, false, s);
    assert.match((r as { reason: string }).reason, why, s);
  };
  bad('vm:/k/vmlinuz,mem=512', /unknown option "mem"/);
  bad('vm:/k/vmlinuz,memory=1024,memory=2048', /memory is given twice/);
  bad('vm:/k/vmlinuz,memory=lots', /memory must be a number/);
  bad('vm:/k/vmlinuz,memory=16', /memory 16 is not a size in MB/);
  bad('vm:/k/vmlinuz,cpus=0', /cpus 0 is not a CPU count/);
  bad('vm:/k/vmlinuz,modules=', /modules needs a value/);
  bad('vm:,cpus=1', /the kernel image must be a path/);
  bad('vm:/k/vm\x1blinuz', /control character/);
});

test('bpf-lens load/verify/probe/run/test-run: an unknown vm: option is a usage error (exit 2, the usage line), nothing boots', () => {
  for (const args of [
    ['load', 'x.o', '--target', 'local', '--target', 'vm:/k/vmlinuz,ram=1G'],
    ['verify', 'x.o', '--target', 'vm:/k/vmlinuz,ram=1G'],
    ['probe', '--target', 'vm:/k/vmlinuz,ram=1G'],
    ['run', 'x.o', '--target', 'vm:/k/vmlinuz,ram=1G'],
    ['test-run', 'x.o', 'p', '--packet', 'eth', '--target', 'vm:/k/vmlinuz,ram=1G'],
  ]) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /not a VM target: "vm:\/k\/vmlinuz,ram=1G": unknown option "ram"/, args[0]);
    assert.match(r.stderr, /^Usage: bpf-lens /m, args[0]);
  }
});

test('a kernel image that does not exist: bad-target naming the file, before qemu runs', async () => {
  await assert.rejects(connectTarget('vm:/nonexistent/vmlinuz', { root: ROOT }), (e: unknown) => {
    assert.ok(e instanceof TargetError && e.code === 'bad-target', String(e));
    assert.match(e.message, /the kernel image \/nonexistent\/vmlinuz cannot be read/);
    return true;
  });
});

test('bpfLens.targets: a VM entry keeps kernel, modules, memory, cpus, insmod; bad ones are dropped with the parser’s reason', () => {
  const r = parseTargetSettings([
    { name: 'debian-6.1', kernel: '/k/6.1/vmlinuz', modules: '/k/6.1/modules', memory: 2048, cpus: 2, insmod: ['tcp_bbr'] },
    { name: 'small', kernel: '/k/vmlinuz', memory: 16 },
    { name: 'both', kernel: '/k/vmlinuz', host: 'h' },
  ]);
  assert.deepEqual(r.targets, [
    { name: 'debian-6.1', kernel: '/k/6.1/vmlinuz', modules: '/k/6.1/modules', memory: 2048, cpus: 2, insmod: ['tcp_bbr'] },
  ]);
  assert.equal(r.problems.length, 2);
  assert.match(r.problems[0], /small.*memory 16 is not a size in MB/);
  assert.match(r.problems[1], /both.*not both/);
});

test('bzImageRelease: the release from the boot header; undefined for a file that is not a bzImage', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bzimage-'));
  try {
    const img = Buffer.alloc(0x1000);
    img.write('HdrS', 0x202, 'latin1');
    img.writeUInt16LE(0x400, 0x20e);
    img.write('6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x600, 'latin1');
    writeFileSync(path.join(dir, 'bz'), img);
    assert.equal(bzImageRelease(path.join(dir, 'bz')), '6.1.0-57-amd64');
    writeFileSync(path.join(dir, 'text'), 'not a kernel\n'.repeat(100));
    assert.equal(bzImageRelease(path.join(dir, 'text')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the console tail shown in errors leaves out /init's internal @@ markers, keeping the kernel's and busybox's lines", () => {
  const console = [
    '[    0.61] Run /init as init process',
    "insmod: can't insert '/m/0.ko': invalid module format",
    '@@INSMOD virtio_pci.ko',
    'mount: mounting hostroot on /host failed: No such device',
    '@@MOUNT\r',
    '[    0.93] random: crng init done@@NOPORT',
    '@@AGENT',
    '@@AGENT-EXIT 1',
    '',
  ].join('\n');
  assert.equal(
    consoleTail(console, 40),
    [
      '[    0.61] Run /init as init process',
      "insmod: can't insert '/m/0.ko': invalid module format",
      'mount: mounting hostroot on /host failed: No such device',
      '[    0.93] random: crng init done',
    ].join('\n'),
  );
  // the last lines are counted among what is shown
  assert.equal(consoleTail(console, 2), 'mount: mounting hostroot on /host failed: No such device\n[    0.93] random: crng init done');
});
