// The kernel layer on older kernels: Debian's 6.1 and 6.12 boot under qemu (TCG) with the
// host's root mounted read-only over 9p, and the host's node runs the compiled guest script
// (qemu-guest.ts) there. 6.1 has module BTF (the 9p/virtio modules and tcp_bbr are loaded),
// no native arg:ctx nor '?' datasec names, no lockdown: the probes must say so and module BTF must be indexed, and
// trampolines work: fentry attaches, freplace swaps a subprogram (LINK_CREATE target_btf_id).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as path from 'path';
import { BPF_LINK_TYPE, FEATURE_PROBES } from '../../server/src/kernel';
import { type DebianKernelVersion } from '../kernels';
import { runHostRootGuest } from '../qemu-host-root';

/** Probes each kernel must answer "no": 6.1 predates native arg:ctx (6.8) and '?' in DATASEC names (6.5). */
const UNSUPPORTED: Record<DebianKernelVersion, string[]> = { '6.1': ['arg_ctx_tag', 'btf_qmark_datasec'], '6.12': [] };

for (const version of ['6.1', '6.12'] as const)
  test(`Debian ${version} under qemu: probes answer for that kernel, module BTF is indexed, fentry attaches, freplace replaces`, () => {
    const {
      kernel: k,
      modules,
      result: g,
    } = runHostRootGuest({
      version,
      command: `${process.execPath} ${path.join(__dirname, 'qemu-guest.js')}`,
      extraModules: ['tcp_bbr'],
    });
    // Later kernels build some of the 9p modules in (6.12: virtio, fscache).
    for (const m of ['9pnet', '9pnet_virtio', '9p', 'tcp_bbr']) assert.ok(modules.includes(m), m);
    assert.equal(g.system.release, k.release);
    assert.equal(g.privileges.canLoad, true);
    const newer = UNSUPPORTED[version];
    for (const name of newer) assert.deepEqual(g.features[name], { supported: false, errno: 'EINVAL' }, name);
    for (const p of FEATURE_PROBES) if (!newer.includes(p.name)) assert.equal(g.features[p.name].supported, true, p.name);
    // Module BTF: the index lists exactly the sysfs files, vmlinux first.
    assert.deepEqual(['vmlinux', ...g.modules].sort(), g.sysfs);
    for (const mod of modules) assert.ok(g.modules.includes(mod), mod);
    assert.equal(g.sample, 'tcp_bbr');
    assert.equal(g.sampleStart, g.vmlinuxTypes);
    assert.ok(g.sampleTypes > g.vmlinuxTypes);
    assert.equal(g.bbrStruct, true);
    assert.equal(g.sampleInfo.name, 'tcp_bbr');
    assert.equal(g.sampleInfo.kernelBtf, true);
    assert.equal(g.fentry, 'loaded');
    assert.equal(g.fentryLink, BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING);
    // freplace: LINK_CREATE with target_fd + target_btf_id swaps the subprogram, closing the link undoes it.
    assert.deepEqual(g.freplace, { before: 1, after: 2, detached: 1, linkType: BPF_LINK_TYPE.BPF_LINK_TYPE_TRACING });
  });
