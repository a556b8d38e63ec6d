// Runs inside a qemu guest (see kernel-qemu.test.ts): asks the guest kernel what the kernel
// layer sees and prints it as one JSON line between markers on the console.
import { readdirSync } from 'fs';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { BTF_FUNC_GLOBAL, BTF_FUNC_STATIC, BTF_INT_SIGNED } from '../../server/src/btf/types';
import {
  BPF_ATTACH_TYPE,
  BPF_PROG_TYPE,
  FEATURE_PROBES,
  KernelBtf,
  btfInfo,
  btfLoad,
  closeFd,
  isKernelError,
  linkCreate,
  linkInfo,
  probeFeature,
  probePrivileges,
  progLoad,
  progTestRun,
  rawTracepointOpen,
  systemInfo,
} from '../../server/src/kernel';
import { R0, R1, assemble, callRel, exit, movImm } from '../../server/src/kernel/asm';
import { writeGuestResult } from './guest-result';

/** BTF of `static int lens_main(void *ctx)` calling `global int lens_sub(int x)`. */
function freplaceBtf(): { bytes: Uint8Array; main: number; sub: number } {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'INT', name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: BTF_INT_SIGNED, bitsOffset: 0, bits: 32 });
  const ptr = b.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: 0 });
  const mainProto = b.add({
    kind: 'FUNC_PROTO',
    name: '',
    nameOff: 0,
    kindFlag: false,
    type: int,
    params: [{ name: 'ctx', nameOff: 0, type: ptr }],
  });
  const main = b.add({ kind: 'FUNC', name: 'lens_main', nameOff: 0, kindFlag: false, type: mainProto, linkage: BTF_FUNC_STATIC });
  const subProto = b.add({
    kind: 'FUNC_PROTO',
    name: '',
    nameOff: 0,
    kindFlag: false,
    type: int,
    params: [{ name: 'x', nameOff: 0, type: int }],
  });
  const sub = b.add({ kind: 'FUNC', name: 'lens_sub', nameOff: 0, kindFlag: false, type: subProto, linkage: BTF_FUNC_GLOBAL });
  return { bytes: writeBtf(b.build()), main, sub };
}

const funcInfo = (recs: [number, number][]) => {
  const buf = Buffer.alloc(8 * recs.length);
  recs.forEach(([insn, id], i) => {
    buf.writeUInt32LE(insn, 8 * i);
    buf.writeUInt32LE(id, 8 * i + 4);
  });
  return { recSize: 8, count: recs.length, bytes: buf };
};

/** freplace end to end: a socket filter whose global subprogram returns 1, replaced by one returning 2. */
function freplace(): { before: number; after: number; detached: number; linkType: number } {
  const pkt = new Uint8Array(64);
  const btf = freplaceBtf();
  const targetBtf = btfLoad(btf.bytes);
  const target = progLoad({
    progType: BPF_PROG_TYPE.BPF_PROG_TYPE_SOCKET_FILTER,
    license: 'GPL',
    name: 'lens_main',
    progBtfFd: targetBtf.fd,
    insns: assemble([movImm(R1, 0), callRel(1), exit(), movImm(R0, 1), exit()]),
    funcInfo: funcInfo([
      [0, btf.main],
      [3, btf.sub],
    ]),
  });
  const before = progTestRun(target.fd, { data: pkt }).retval;
  const extBtf = btfLoad(btf.bytes);
  const ext = progLoad({
    progType: BPF_PROG_TYPE.BPF_PROG_TYPE_EXT,
    license: 'GPL',
    name: 'lens_sub',
    progBtfFd: extBtf.fd,
    attachProgFd: target.fd,
    attachBtfId: btf.sub,
    insns: assemble([movImm(R0, 2), exit()]),
    funcInfo: funcInfo([[0, btf.sub]]),
  });
  const link = linkCreate({ prog_fd: ext.fd, target_fd: target.fd, attach_type: 0, target_btf_id: btf.sub });
  const after = progTestRun(target.fd, { data: pkt }).retval;
  const linkType = linkInfo(link).type;
  closeFd(link);
  const detached = progTestRun(target.fd, { data: pkt }).retval;
  for (const fd of [ext.fd, extBtf.fd, target.fd, targetBtf.fd]) closeFd(fd);
  return { before, after, detached, linkType };
}

function main(): unknown {
  const features = Object.fromEntries(FEATURE_PROBES.map((p) => [p.name, probeFeature(p.name)]));
  const k = KernelBtf.open();
  const modules = k.moduleNames;
  const vmlinuxTypes = k.vmlinux.length;
  // A module's BTF: parsed as split on vmlinux, and its FD names it.
  const sample = modules.includes('tcp_bbr') ? 'tcp_bbr' : modules[0];
  const sampleBtf = sample ? k.module(sample) : undefined;
  const sampleInfo = sample ? btfInfo(k.fd(sample)) : undefined;
  const bbrStruct = sampleBtf ? sampleBtf.find('STRUCT', 'bbr') !== undefined : false;
  // fentry: refused on the 6.18 host (lockdown); this kernel should take it.
  let fentry: string;
  const target = k.vmlinux.find('FUNC', 'bpf_fentry_test1');
  let fentryLink = 0;
  try {
    const p = progLoad({
      progType: BPF_PROG_TYPE.BPF_PROG_TYPE_TRACING,
      expectedAttachType: BPF_ATTACH_TYPE.BPF_TRACE_FENTRY,
      attachBtfId: target?.id ?? 0,
      insns: assemble([movImm(R0, 0), exit()]),
      license: 'GPL',
      name: 'lens_fentry',
    });
    fentry = 'loaded';
    const l = rawTracepointOpen(p.fd, undefined);
    fentryLink = linkInfo(l).type;
    closeFd(l);
    closeFd(p.fd);
  } catch (e) {
    fentry = isKernelError(e) ? e.errnoName : String(e);
  }
  k.close();
  let ext: unknown;
  try {
    ext = freplace();
  } catch (e) {
    ext = String(e);
  }
  return {
    fentryLink,
    freplace: ext,
    system: systemInfo(),
    privileges: probePrivileges(),
    features,
    modules,
    sysfs: readdirSync('/sys/kernel/btf').sort(),
    vmlinuxTypes,
    sample,
    sampleTypes: sampleBtf?.length,
    sampleStart: sampleBtf?.startId,
    sampleInfo,
    bbrStruct,
    fentry,
  };
}

writeGuestResult(main);
