// freplace end to end. This host's kernel refuses trampoline programs (EXT included), so
// Debian's 6.1 boots under qemu (TCG) with the host's root over 9p and runs
// freplace-guest.ts there: two XDP dispatchers with __weak __noinline slots, two firewall
// objects whose functions share names (foo, xdp_main) plug into them, and PROG_TEST_RUN shows
// each dispatcher's verdict change as each extension attaches and detaches. On the host, the
// refusal must be reported as such.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { BPF_LINK_TYPE } from '../../server/src/kernel';
import { fixture } from '../helpers';
import { busyboxBase, newcArchive, InitramfsEntry } from '../initramfs';
import { debianKernel } from '../kernels';

const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p'];
const XDP_ABORTED = 0;
const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

function init(command: string, modules: readonly string[]): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in ${modules.join(' ')}; do insmod /m/$m.ko || echo "@@INSMOD $m failed"; done
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || echo "@@MOUNT failed"
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
mount -t bpf bpf /host/sys/fs/bpf
chroot /host ${command}
echo "@@DONE"
poweroff -f
`;
}

test('Debian 6.1 under qemu: two firewalls plug into two dispatchers; verdicts follow each attach and detach', (t) => {
  const k = debianKernel('6.1');
  const byName = new Map(k.modules().map((p) => [path.basename(p, '.ko'), p]));
  const modules = MODULES.filter((m) => byName.has(m));
  const command = [process.execPath, path.join(__dirname, 'freplace-guest.js'),
    fixture('freplace_dispatcher.o'), fixture('freplace_fw_drop.o'), fixture('freplace_fw_tx.o')].join(' ');
  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync('/bin/busybox')),
    { path: 'm', type: 'dir' },
    ...modules.map((m) => ({ path: `m/${m}.ko`, type: 'file' as const, data: readFileSync(byName.get(m)!) })),
    { path: 'init', type: 'file', data: init(command, modules), mode: 0o755 },
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-freplace-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const initrd = path.join(dir, 'initramfs.cpio');
  writeFileSync(initrd, newcArchive(files));
  const r = spawnSync('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', k.vmlinuz, '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 loglevel=3',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
  const out = (r.stdout ?? '').replace(/\r\n/g, '\n');
  assert.match(out, /@@DONE/, `guest did not finish:\n${out.slice(-3000)}`);
  const m = /@@JSON (.*)$/m.exec(out);
  assert.ok(m, `no result from the guest:\n${out.slice(-3000)}`);
  const g = JSON.parse(m[1]);
  assert.equal(g.error, undefined, g.error);
  assert.deepEqual(g.timeline, [
    { step: 'dispatchers loaded', fw1: XDP_PASS, fw2: XDP_PASS },
    { step: 'fw_drop foo → firewall 1', fw1: XDP_DROP, fw2: XDP_PASS },
    { step: 'fw_tx foo → firewall 2', fw1: XDP_DROP, fw2: XDP_TX },
    { step: 'fw_tx bar → firewall 2', fw1: XDP_DROP, fw2: XDP_TX },
    { step: 'fw_drop foo detached', fw1: XDP_PASS, fw2: XDP_TX },
    { step: 'fw_tx foo detached', fw1: XDP_PASS, fw2: XDP_ABORTED },
    { step: 'fw_tx bar detached', fw1: XDP_PASS, fw2: XDP_PASS },
  ]);
  assert.equal(g.linkType, BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING);
  assert.deepEqual(g.own, [XDP_DROP, XDP_TX]);
  assert.deepEqual(g.names, ['xdp_main', 'xdp_main', 'foo', 'foo']);
});

test('this host (lockdown): the dispatcher runs, the extension is refused with EPERM and a hint that names freplace', async () => {
  const { openObject } = await import('../../server/src/object');
  const { writeBtf } = await import('../../server/src/btf/write');
  const { btfLoad, closeFd, isKernelError, progLoad, progTestRun } = await import('../../server/src/kernel');
  const { fixDatasecs, linkProgram } = await import('./arg-ctx-load');
  const fds: number[] = [];
  try {
    const loadOne = (file: string, name: string, target?: { fd: number; btfId: number }) => {
      const obj = openObject(readFileSync(fixture(file)), file);
      const l = linkProgram(obj, obj.programs.find((p) => p.name === name)!);
      const btf = btfLoad(writeBtf(fixDatasecs(obj, obj.btf!))).fd;
      fds.push(btf);
      const fi = Buffer.alloc(8 * l.funcInfo.length);
      l.funcInfo.forEach((r, i) => { fi.writeUInt32LE(r.insnOff, 8 * i); fi.writeUInt32LE(r.typeId, 8 * i + 4); });
      const p = l.program;
      const fd = progLoad({
        progType: p.progTypeId, insns: l.insns, license: obj.license, name, progBtfFd: btf, funcInfo: { recSize: 8, count: l.funcInfo.length, bytes: fi },
        ...(target ? { attachProgFd: target.fd, attachBtfId: target.btfId } : {}),
      }).fd;
      fds.push(fd);
      return { fd, obj };
    };
    const d = loadOne('freplace_dispatcher.o', 'xdp_main');
    assert.equal(progTestRun(d.fd, { data: new Uint8Array(64) }).retval, XDP_PASS);
    const foo = d.obj.btf!.find('FUNC', 'foo')!.id;
    assert.throws(() => loadOne('freplace_fw_drop.o', 'foo', { fd: d.fd, btfId: foo }), (e: unknown) => {
      assert.ok(isKernelError(e));
      assert.equal(e.errnoName, 'EPERM');
      assert.match(e.message, /freplace/);
      return true;
    });
  } finally {
    for (const fd of fds) closeFd(fd);
  }
});
