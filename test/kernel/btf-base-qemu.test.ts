// The real kernel relocates what `distill` writes: Debian 6.12 (which relocates a module's
// .BTF onto vmlinux when the module carries .BTF.base) boots under qemu, loads modules
// distilled by BPF Lens, and its /sys/kernel/btf/<module> must equal our relocation of
// them. Modules whose .BTF.base we damage must be refused by the kernel for the very type
// base-diff names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { baseDiff } from '../../server/src/btf/base-diff';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { distillModule } from '../../server/src/btf/module-btf';
import { RELOCATABLE, relocateSplit } from '../../server/src/btf/relocate';
import { type BtfType, type NewType } from '../../server/src/btf/types';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { ElfFile } from '../../server/src/elf/reader';
import { rewriteElf } from '../../server/src/elf/writer';
import { canonOwn } from '../btf-canon';
import { tmp } from '../btf-corpus';
import { type InitramfsEntry, busyboxBase, newcArchive } from '../initramfs';
import { debianKernel } from '../kernels';
import { bootQemu } from '../qemu';

const k = debianKernel('6.12');
const vmlinux = parseBtf(readFileSync(k.vmlinuxBtf), { file: k.vmlinuxBtf });
const koPath = (rel: string) => path.join(k.modulesDir, 'kernel', rel);

// modules without dependencies that load in a bare qemu machine
const CLEAN = [
  'net/ipv4/tcp_bbr.ko',
  'net/sched/sch_netem.ko',
  'drivers/net/veth.ko',
  'net/sched/sch_fq.ko',
  'fs/qnx4/qnx4.ko',
  'drivers/net/ifb.ko',
];
const DAMAGED = ['net/ipv4/tcp_dctcp.ko', 'net/sched/sch_hfsc.ko', 'net/ipv4/tcp_htcp.ko'];

interface Distilled {
  name: string;
  bytes: Uint8Array;
  split: Btf;
}

/** The module distilled on 6.12's vmlinux, its .BTF.base optionally rewritten by `damage`. */
function distilled(rel: string, damage?: (t: BtfType, all: readonly BtfType[]) => NewType | undefined): Distilled {
  const file = koPath(rel);
  const r = distillModule(new ElfFile(new Uint8Array(readFileSync(file)), file), vmlinux);
  let base = r.distilled.base;
  let bytes = r.bytes;
  if (damage) {
    // same types, same names in the same order: ids and string offsets stay valid for .BTF
    const b = new BtfBuilder(undefined, base.littleEndian);
    let changed = 0;
    for (const t of base.types) {
      const { id: _id, ...copy } = t;
      const u = damage(t, base.types);
      if (u) changed++;
      b.add(u ?? copy);
    }
    assert.equal(changed, 1, `${rel}: one type damaged`);
    base = b.build();
    assert.equal(base.strings.length, r.distilled.base.strings.length);
    bytes = rewriteElf(new ElfFile(bytes, file), { replace: new Map([['.BTF.base', writeBtf(base)]]) });
  }
  const split = parseBtf(r.btf, { base: parseBtf(writeBtf(base)) });
  return { name: path.basename(rel, '.ko'), bytes, split };
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in /m/*.ko; do
  n=$(basename $m .ko)
  if insmod $m 2>/tmp/err; then echo "@@INSMOD $n ok"; else echo "@@INSMOD $n failed: $(cat /tmp/err)"; fi
  if [ -e /sys/kernel/btf/$n ]; then echo "@@BTF $n"; base64 /sys/kernel/btf/$n; echo "@@END"; fi
done
dmesg | grep -i btf | sed 's/^/@@DMESG /'
echo "@@DONE"
poweroff -f
`;

test('Debian 6.12 in qemu relocates modules distilled by BPF Lens exactly as we do, and refuses damaged ones for the type base-diff names', () => {
  let firstChar = true;
  const damage: Record<string, (t: BtfType, all: readonly BtfType[]) => NewType | undefined> = {
    // a plain int with another encoding (what 6.1's `char` vs 6.12's looks like)
    'net/ipv4/tcp_dctcp.ko': (t) => {
      if (t.kind !== 'INT' || t.name !== 'char' || !firstChar) return undefined;
      firstChar = false;
      const { id: _id, ...u } = t;
      return { ...u, encoding: t.encoding ^ 1 };
    },
    // a struct the module embeds, grown by 8 bytes
    'net/sched/sch_hfsc.ko': (t) =>
      t.kind === 'STRUCT' && t.name === 'qdisc_watchdog'
        ? { kind: 'STRUCT', name: t.name, nameOff: 0, kindFlag: false, size: t.size + 8, members: [] }
        : undefined,
    // a struct renamed to one the kernel lacks (same length)
    'net/ipv4/tcp_htcp.ko': (t) =>
      t.kind === 'STRUCT' && t.name === 'sock'
        ? { kind: 'STRUCT', name: 'sOck', nameOff: 0, kindFlag: false, size: t.size, members: [] }
        : undefined,
  };
  const clean = CLEAN.map((rel) => distilled(rel));
  const damaged = DAMAGED.map((rel) => distilled(rel, damage[rel]));

  // what we predict
  for (const m of clean) assert.equal(baseDiff(m.split, vmlinux).relocates, true, m.name);
  const predicted = new Map(
    damaged.map((m) => {
      const bad = baseDiff(m.split, vmlinux).rows.filter((r) => !RELOCATABLE.has(r.status));
      assert.equal(bad.length, 1, `${m.name}: ${bad.map((r) => `${r.status} ${r.name}`).join(', ')}`);
      return [m.name, bad[0]];
    }),
  );

  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync('/bin/busybox')),
    { path: 'm', type: 'dir' },
    ...[...clean, ...damaged].map((m) => ({ path: `m/${m.name}.ko`, type: 'file' as const, data: m.bytes })),
    { path: 'init', type: 'file', data: INIT, mode: 0o755 },
  ];
  const run = bootQemu({ vmlinuz: k.vmlinuz, initramfs: newcArchive(files), dir: tmp() });
  assert.match(run.console, /@@DONE/, `guest did not finish:\n${run.console.slice(-3000)}`);

  const btfs = new Map<string, Buffer>();
  for (const m of run.console.matchAll(/@@BTF (\S+)\n([\s\S]*?)@@END/g)) btfs.set(m[1], Buffer.from(m[2].replace(/\s+/g, ''), 'base64'));
  const dmesg = [...run.console.matchAll(/^@@DMESG (.*)$/gm)].map((m) => m[1]);

  for (const m of clean) {
    assert.match(run.console, new RegExp(`@@INSMOD ${m.name} ok`));
    const kernel = btfs.get(m.name);
    assert.ok(kernel, `${m.name}: /sys/kernel/btf/${m.name} exists`);
    const theirs = parseBtf(kernel, { base: vmlinux, file: `/sys/kernel/btf/${m.name}` });
    const ours = relocateSplit(m.split, vmlinux).btf;
    assert.equal(theirs.count, ours.count, m.name);
    assert.deepEqual(canonOwn(theirs), canonOwn(ours), `${m.name}: the kernel's relocation is ours`);
  }
  for (const m of damaged) {
    // CONFIG_MODULE_ALLOW_BTF_MISMATCH=y: the module loads, without BTF
    assert.equal(btfs.has(m.name), false, `${m.name}: no BTF after a failed relocation`);
    const row = predicted.get(m.name)!;
    const said = dmesg.find((l) => l.includes(`distilled base BTF type '${row.name}'`));
    assert.ok(said, `${m.name}: the kernel names ${row.status} ${row.kind} '${row.name}':\n${dmesg.join('\n')}`);
  }
});
