// Runs inside a qemu guest (see kernel-qemu.test.ts): asks the guest kernel what the kernel
// layer sees and prints it as one JSON line between markers on the console.
import { readdirSync } from 'fs';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, FEATURE_PROBES, KernelBtf, btfInfo, closeFd, isKernelError, probeFeature, probePrivileges, progLoad, systemInfo } from '../../server/src/kernel';
import { R0, assemble, exit, movImm } from '../../server/src/kernel/asm';

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
  try {
    const p = progLoad({
      progType: BPF_PROG_TYPE.BPF_PROG_TYPE_TRACING, expectedAttachType: BPF_ATTACH_TYPE.BPF_TRACE_FENTRY, attachBtfId: target?.id ?? 0,
      insns: assemble([movImm(R0, 0), exit()]), license: 'GPL', name: 'lens_fentry',
    });
    closeFd(p.fd);
    fentry = 'loaded';
  } catch (e) {
    fentry = isKernelError(e) ? e.errnoName : String(e);
  }
  k.close();
  return {
    system: systemInfo(), privileges: probePrivileges(), features, modules, sysfs: readdirSync('/sys/kernel/btf').sort(),
    vmlinuxTypes, sample, sampleTypes: sampleBtf?.length, sampleStart: sampleBtf?.startId, sampleInfo, bbrStruct, fentry,
  };
}

let out: unknown;
try {
  out = main();
} catch (e) {
  out = { error: String((e as Error).stack ?? e) };
}
process.stdout.write(`@@JSON ${JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
