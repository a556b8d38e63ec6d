// struct_ops of a type that only a module defines, for real. No Debian module registers a
// struct_ops type, so scripts/testmod.sh builds test/kmod/bpf_lens_testmod.c against Debian's
// headers of the cached 6.12 kernel (module BTF by pahole, split on that kernel's vmlinux).
// Debian's 6.12 boots under qemu (TCG) with the host's root over 9p; the guest script
// (structops-module-guest.ts) insmods the module, loads kmod_structops.o through loadObject and
// reports what the kernel recorded. On 6.1 and on this host, where no BTF has the type, the
// load is refused up front with a message naming the type.
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';
import { test } from 'node:test';
import * as path from 'path';
import { localKernel } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { LoadError } from '../../server/src/load/types';
import { openObject } from '../../server/src/object';
import { ROOT } from '../helpers';
import { type DebianKernelVersion } from '../kernels';
import { runHostRootGuest } from '../qemu-host-root';

const FIXTURE = path.join(ROOT, 'build', 'fixtures', 'kmod_structops.o');
// What the refusal must say wherever the type is missing.
const REFUSAL =
  /struct_ops map 'lens_linked'.*struct bpf_lens_testmod_ops.*no kernel BTF has it: neither vmlinux nor any of the \d+ modules with BTF defines struct bpf_struct_ops_bpf_lens_testmod_ops/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function boot(t: { diagnostic(m: string): void }, version: DebianKernelVersion, ko?: string): any {
  const command = [process.execPath, path.join(__dirname, 'structops-module-guest.js'), FIXTURE, ...(ko ? [ko] : [])].join(' ');
  const { result: g, ms } = runHostRootGuest({ version, command, timeoutMs: 180_000 });
  t.diagnostic(`${version}: qemu boot + guest run: ${ms} ms`);
  return g;
}

/** The test module for Debian's `version`, built (or taken from build/kmod) by scripts/testmod.sh. */
function testModule(version: DebianKernelVersion): { ko: string; ms: number } {
  const started = Date.now();
  const ko = execFileSync('bash', [path.join(ROOT, 'scripts', 'testmod.sh'), version], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return { ko, ms: Date.now() - started };
}

test('Debian 6.12: struct_ops maps and programs of a type only the test module defines, registered (link and value), ops run, unregistered, module unloads', (t) => {
  const { ko, ms } = testModule('6.12');
  t.diagnostic(`test module ready in ${ms} ms: ${path.relative(ROOT, ko)}`);
  const g = boot(t, '6.12', ko);
  assert.match(g.release, /^6\.12\./);
  // before insmod: refused, naming the type
  assert.equal(g.absent.stage, 'relocate', JSON.stringify(g.absent));
  assert.match(g.absent.message, REFUSAL);
  const p = g.present;
  const { kernel } = p;
  assert.ok(
    kernel.btfId > 0 && kernel.opsTypeId > 0 && kernel.valueTypeId > 0,
    `the module's BTF has both types: ${JSON.stringify(kernel)}`,
  );
  assert.equal(p.before, '', 'nothing registered before the load');
  const { maps, programs } = p.loaded;
  // maps: created on the module's value type, the value type's BTF object given by FD (6.9+)
  for (const name of ['lens_linked', 'lens_plain']) {
    const mp = maps[name];
    assert.equal(mp.type, 'struct_ops', name);
    assert.equal(mp.btfVmlinuxId, kernel.btfId, `${name}: value type BTF object is the module's`);
    assert.equal(mp.btfVmlinuxValueTypeId, kernel.valueTypeId, name);
    assert.equal(mp.valueSize, 128, `${name}: the kernel's struct bpf_struct_ops_bpf_lens_testmod_ops, not the object's 24 bytes`);
  }
  // .struct_ops.link: registered by a BPF_STRUCT_OPS link (type 9) on that map; .struct_ops: by its value
  assert.deepEqual(maps.lens_linked.link, { type: 9, mapId: maps.lens_linked.id });
  assert.equal(maps.lens_plain.link, undefined);
  // programs: attach_btf_obj_fd = the module's BTF, attach_btf_id = struct bpf_lens_testmod_ops there
  assert.deepEqual(Object.keys(programs).sort(), ['lens_one', 'lens_one_plain', 'lens_two']);
  for (const [name, pr] of Object.entries<{ type: string; attachBtfObjId: number; attachBtfId: number }>(programs)) {
    assert.deepEqual(pr, { type: 'struct_ops', attachBtfObjId: kernel.btfId, attachBtfId: kernel.opsTypeId }, name);
  }
  // the module called the BPF ops when each map registered: lens_one() = 42, lens_two(20, 22) = 2022,
  // the plain map's lens_one_plain() = 7 and no op 2; magic came through init_member
  assert.equal(p.loaded.log, 'reg magic=1234 op1=42 op2=2022;reg magic=5678 op1=7 op2=-1;');
  assert.equal(p.loaded.calls, '3', 'the ops counted their own runs in .bss');
  // the differential: bpftool 7.1's libbpf 1.1 searches vmlinux only and cannot load this object
  assert.equal(p.libbpf.ok, false, p.libbpf.out);
  assert.match(p.libbpf.out, /struct bpf_lens_testmod_ops is not found in kernel BTF/);
  t.diagnostic(`bpftool struct_ops register: ${p.libbpf.out.trim().split('\n').join(' | ')}`);
  // close: both unregistered (link closed, value deleted), then rmmod succeeds (no reference left)
  assert.equal(p.afterClose, `${p.loaded.log}unreg magic=5678;unreg magic=1234;`);
  assert.equal(p.rmmod, 'ok', `rmmod after close: ${p.rmmod} after ${p.rmmodMs} ms`);
  assert.equal(p.moduleGone, true);
  // with the module gone, the type is gone: the same refusal (the kernel BTF cache saw the change)
  assert.match(p.again.message, REFUSAL);
  t.diagnostic(`6.12 guest: load ${Math.round(p.loadMs)} ms; rmmod after close took ${p.rmmodMs} ms`);
});

test('Debian 6.1: no BTF has the type; the load is refused before anything is created, naming it', (t) => {
  const g = boot(t, '6.1');
  assert.match(g.release, /^6\.1\./);
  assert.equal(g.absent.stage, 'relocate', JSON.stringify(g.absent));
  assert.match(g.absent.message, REFUSAL);
});

test('this host: without the module, the same refusal and no FD left open', () => {
  const fds = () => readdirSync('/proc/self/fd').length;
  const obj = openObject(new Uint8Array(readFileSync(FIXTURE)), FIXTURE);
  const before = fds();
  assert.throws(
    () => loadObject(obj, { kernel: localKernel }),
    (e: unknown) => {
      assert.ok(e instanceof LoadError);
      assert.equal(e.stage, 'relocate');
      assert.match(e.message, REFUSAL);
      return true;
    },
  );
  assert.equal(fds(), before);
});
