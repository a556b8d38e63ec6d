// CO-RE engine speed: every record of three real CO-RE fixtures against this machine's vmlinux.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, fmtMs, since, testModule, wall } from './lib.mjs';

export const sections = [
  {
    name: 'core',
    needs: ['out', 'fixtures', 'root', 'bpffs'],
    goal: 'CO-RE relocation cold (candidate index included, vmlinux parse apart) and warm; bpftool prog loadall for scale (no goal)',
    run() {
      const { readCoreObject, readTargetBtf, relocateObject } = testModule('core-helpers');
      const files = ['core_tracer.o', 'core_flavors.o', 'core_local.o'].map((n) => path.join(FIXTURES, n));
      let t0 = process.hrtime.bigint();
      const vmlinux = readTargetBtf('/sys/kernel/btf/vmlinux', 'vmlinux');
      const parseMs = since(t0);
      const objs = files.map((f) => readCoreObject(f));
      const records = objs.reduce((n, o) => n + o.ext.coreRelos.reduce((m, s) => m + s.records.length, 0), 0);
      t0 = process.hrtime.bigint();
      for (const o of objs) relocateObject(o, [vmlinux]);
      const coldMs = since(t0);
      // steady state: best of 5 rounds of 20 (the first rounds also pay for JIT compilation)
      let warmMs = Infinity;
      for (let round = 0; round < 5; round++) {
        t0 = process.hrtime.bigint();
        for (let i = 0; i < 20; i++) for (const o of objs) relocateObject(o, [vmlinux]);
        warmMs = Math.min(warmMs, since(t0) / 20);
      }
      // bpftool's libbpf may refuse what ours relocates (libbpf 1.1 has no typedef-rooted
      // relocations, core_local.o has one): those objects are left out of the scale figure.
      let loadall = 0;
      const refused = [];
      for (const f of files) {
        const pin = `/sys/fs/bpf/bpflens_bench_core_${process.pid}`;
        mkdirSync(pin, { recursive: true });
        try {
          loadall += wall('bpftool', ['prog', 'loadall', f, pin]);
        } catch {
          refused.push(path.basename(f));
        } finally {
          rmSync(pin, { recursive: true, force: true });
        }
      }
      const loaded = files.length - refused.length;
      return [
        `${records} relocations in ${objs.length} objects against vmlinux (${vmlinux.btf.count} types)`,
        `vmlinux BTF parse (lazy): ${fmtMs(parseMs)}`,
        `cold relocation (index + candidates): ${fmtMs(coldMs)}`,
        `warm, all 3 objects (fresh candidate cache): ${warmMs.toFixed(2)} ms (${((warmMs * 1000) / records).toFixed(1)} µs/relocation)`,
        `bpftool prog loadall of ${loaded} of the ${files.length} (incl. verify + load): ${fmtMs(loadall)} = ${(loadall / (parseMs + coldMs)).toFixed(2)}× our parse + cold relocation of all ${files.length}` +
          (refused.length ? `; bpftool refused ${refused.join(', ')}` : ''),
      ];
    },
  },
];
