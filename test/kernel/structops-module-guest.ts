// Runs inside a qemu guest (see structops-module-qemu.test.ts), or on this host: loads the
// kmod_structops fixture, whose struct_ops type exists only in the test module's BTF, through
// BPF Lens's pipeline. `absent`: before the module is there (the load must be refused). With a
// module path: insmod it (busybox, the host's), load, report what the kernel recorded (map's
// value type BTF object, programs' attach BTF object, the link, the module's log of what the ops
// returned), close, rmmod, and load once more (refused again). Prints one JSON line.
import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { KernelBtf, localKernel, mapLookupElem, systemInfo } from '../../server/src/kernel';
import { objGetInfoRaw } from '../../server/src/kernel/objects';
import { attachAll } from '../../server/src/attach';
import { loadObject } from '../../server/src/load';
import { LoadError } from '../../server/src/load/types';
import { openObject } from '../../server/src/object';
import { writeGuestResult } from './guest-result';

const [fixture, modulePath] = process.argv.slice(2);
const MODULE = 'bpf_lens_testmod';
const LOG = `/sys/module/${MODULE}/parameters/log`;
const open = () => openObject(new Uint8Array(readFileSync(fixture)), fixture);
const moduleLog = () => (existsSync(LOG) ? readFileSync(LOG, 'latin1').trim() : undefined);
const busybox = (...args: string[]) => execFileSync('/bin/busybox', args, { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A load that should fail: its message and stage, or what loaded instead. */
function refused(): unknown {
  try {
    const r = loadObject(open(), { kernel: localKernel });
    r.close();
    return { loaded: r.maps.map((m) => m.name) };
  } catch (e) {
    if (e instanceof LoadError) return { message: e.message, stage: e.stage };
    return { crash: String((e as Error).stack ?? e) };
  }
}

/** The map a struct_ops link registered: bpf_link_info.struct_ops.map_id (offset 16). */
function linkMapId(fd: number): { type: number; mapId: number } {
  const buf = Buffer.alloc(64);
  objGetInfoRaw(fd, buf);
  return { type: buf.readUInt32LE(0), mapId: buf.readUInt32LE(16) };
}

function present(): unknown {
  busybox('insmod', modulePath);
  const kbtf = KernelBtf.open();
  const mod = kbtf.objects.find((o) => o.name === MODULE);
  const btf = mod ? kbtf.module(MODULE) : undefined;
  const typeOf = (name: string) => btf?.byName(name).find((id) => id >= btf.startId && btf.get(id)?.kind === 'STRUCT');
  const kernel = { btfId: mod?.id, opsTypeId: typeOf('bpf_lens_testmod_ops'), valueTypeId: typeOf('bpf_struct_ops_bpf_lens_testmod_ops') };
  kbtf.close();
  const before = moduleLog();
  const started = process.hrtime.bigint();
  const r = loadObject(open(), { kernel: localKernel });
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
  let loaded: unknown;
  // load registers nothing (as libbpf); attaching registers: the link map through a link, the plain one by its value
  const structOps = r.maps.flatMap((m) => (m.structOps ? [{ name: m.name, fd: m.fd, ...m.structOps }] : []));
  const s = attachAll(localKernel, r.programs, { structOps });
  const linkOf = (name: string) => s.attachments.find((a) => a.program === name)?.linkFds[0];
  try {
    const maps = Object.fromEntries(
      r.maps.map((m) => {
        const info = localKernel.mapInfo(m.fd);
        return [
          m.name,
          {
            id: m.id,
            type: m.type,
            valueSize: m.valueSize,
            flags: m.flags,
            btfVmlinuxId: info.btfVmlinuxId,
            btfVmlinuxValueTypeId: info.btfVmlinuxValueTypeId,
            link: linkOf(m.name) !== undefined ? linkMapId(linkOf(m.name)!) : undefined,
          },
        ];
      }),
    );
    const programs = Object.fromEntries(
      r.programs.map((p) => {
        const info = localKernel.progInfo(p.fd);
        return [p.name, { type: p.type, attachBtfObjId: info.attachBtfObjId, attachBtfId: info.attachBtfId }];
      }),
    );
    const bss = r.maps.find((m) => m.name === '.bss')!;
    const calls = Buffer.from(mapLookupElem(bss.fd, new Uint8Array(4), 8)!)
      .readBigUInt64LE()
      .toString();
    loaded = { maps, programs, calls, log: moduleLog(), warnings: r.warnings };
  } finally {
    s.detach();
    r.close();
  }
  const afterClose = moduleLog();
  // libbpf 1.1 (Debian 12's bpftool 7.1) looks for struct_ops types in vmlinux only
  const libbpf = (() => {
    try {
      return {
        ok: true,
        out: execFileSync('bpftool', ['struct_ops', 'register', fixture], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] }),
      };
    } catch (e) {
      return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
    }
  })();
  // Maps of a module's struct_ops type hold a reference on the module until they are freed
  // (after an RCU grace period): rmmod succeeds once nothing of the load is left.
  let rmmod = 'busy';
  const t0 = Date.now();
  while (Date.now() - t0 < 20_000) {
    try {
      busybox('rmmod', MODULE);
      rmmod = 'ok';
      break;
    } catch {
      sleep(100);
    }
  }
  return {
    kernel,
    before,
    loadMs,
    loaded,
    afterClose,
    libbpf,
    rmmod,
    rmmodMs: Date.now() - t0,
    moduleGone: !existsSync(`/sys/module/${MODULE}`),
    again: rmmod === 'ok' ? refused() : undefined,
  };
}

writeGuestResult(() => ({ release: systemInfo().release, absent: refused(), ...(modulePath ? { present: present() } : {}) }), {
  onError: (e) => ({ log: e instanceof LoadError ? e.details.log?.split('\n').slice(-15).join('\n') : undefined }),
});
