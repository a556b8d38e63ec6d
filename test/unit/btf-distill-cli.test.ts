// bpf-lens distill, base-diff and relocate --base as a user runs them, on Debian 6.1
// modules: the distilled module reads back with LLVM's tools, bpftool and BPF Lens.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readModuleBtf } from '../../server/src/btf/module-btf';
import { loadBtf as loadBtfFile } from '../../server/src/cli/input';
import { ElfFile } from '../../server/src/elf/reader';
import { tmp } from '../btf-corpus';
import { cli, fixture } from '../helpers';
import { debianKernel } from '../kernels';

const HOST = '/sys/kernel/btf/vmlinux';

function tool(cmd: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const k = debianKernel('6.1');
const koPath = (name: string) => k.modules().find((m) => m.endsWith(`/${name}.ko`))!;

/** Distills `name` against Debian 6.1's vmlinux into the temp dir (once). */
const distilled = new Map<string, string>();
function distill(name: string): string {
  const have = distilled.get(name);
  if (have) return have;
  const out = path.join(tmp(), `${name}.distilled.ko`);
  const r = cli(['distill', koPath(name), '--base', k.vmlinuxBtf, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\.BTF\.base \d+ types/);
  distilled.set(name, out);
  return out;
}

interface Row {
  name: string;
  kind: string;
  status: string;
  size: number;
  targetId?: number;
  targetSize?: number;
  reason?: string;
  dependents: { id: number; name: string }[];
}
interface DiffJson {
  relocates: boolean;
  distilledFrom: string;
  counts: Record<string, number>;
  rows: Row[];
}

test('distill: the new module reads back with llvm-readelf, llvm-objdump, bpftool and bpf-lens; other sections unchanged', () => {
  for (const name of ['nf_tables', 'ext4', 'e1000e']) {
    const inFile = koPath(name);
    const out = distill(name);
    const sh = tool('llvm-readelf', ['-S', out]);
    assert.equal(sh.code, 0, sh.err);
    assert.equal(sh.err, '');
    assert.match(sh.out, /\.BTF\.base\s+PROGBITS/);
    assert.equal(tool('llvm-objdump', ['-h', out]).code, 0);
    const a = new ElfFile(new Uint8Array(readFileSync(inFile)), inFile);
    const b = new ElfFile(new Uint8Array(readFileSync(out)), out);
    for (const s of a.sections) {
      if (['.BTF', '.shstrtab', '.BTF_ids'].includes(s.name)) continue;
      assert.ok(Buffer.from(b.sections[s.index].data).equals(Buffer.from(s.data)), `${name}: ${s.name}`);
    }
    const rs = (f: string) => tool('llvm-readelf', ['-r', '-s', f]).out.replace(/^.*(File|Relocation section).*\n/gm, '');
    assert.equal(rs(out), rs(inFile));

    // libbpf's parser (bpftool) reads the new .BTF on the new .BTF.base, and prints what we print
    const baseFile = path.join(tmp(), `${name}.btf.base`);
    writeFileSync(baseFile, b.section('.BTF.base')!.data);
    const ours = cli(['btf', 'dump', out]);
    assert.equal(ours.code, 0, ours.stderr);
    const theirs = tool('bpftool', ['btf', 'dump', 'file', out, '--base-btf', baseFile]);
    assert.equal(theirs.code, 0, theirs.err);
    assert.equal(ours.stdout, theirs.out);
    assert.equal(cli(['btf', 'dump', baseFile]).stdout, tool('bpftool', ['btf', 'dump', 'file', baseFile]).out);
  }
});

test('distill: a module that already has .BTF.base is distilled again to the same bytes', () => {
  const once = distill('nf_tables');
  const twice = path.join(tmp(), 'nf_tables.twice.ko');
  const r = cli(['distill', once, '--base', k.vmlinuxBtf, '-o', twice]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(twice).equals(readFileSync(once)));
});

test("base-diff: exit 0 and every row a match against the module's own kernel; exit 1 with reasons against this one", () => {
  const out = distill('nf_tables');
  const own = cli(['base-diff', out, '--base', k.vmlinuxBtf, '--json']);
  assert.equal(own.code, 0, own.stderr);
  const ownDoc = JSON.parse(own.stdout) as DiffJson;
  assert.equal(ownDoc.relocates, true);
  assert.equal(ownDoc.distilledFrom, '.BTF.base');
  assert.ok(ownDoc.rows.length > 10 && ownDoc.rows.every((r) => r.status === 'match' && r.targetSize === r.size));
  assert.match(cli(['base-diff', out, '--base', k.vmlinuxBtf]).stdout, /\nrelocates\n$/);

  const host = cli(['base-diff', out, '--base', HOST, '--json']);
  const doc = JSON.parse(host.stdout) as DiffJson;
  assert.equal(host.code, doc.relocates ? 0 : 1);
  assert.equal(
    Object.values(doc.counts).reduce((a, b) => a + b, 0),
    doc.rows.length,
  );
  const bad = doc.rows.filter((r) => !['match', 'size-not-checked'].includes(r.status));
  assert.equal(doc.relocates, bad.length === 0);
  for (const r of bad) assert.ok(r.reason && r.targetId === undefined && r.dependents.length > 0, r.name);
  const text = cli(['base-diff', out, '--base', HOST, '--problems']);
  assert.equal(text.code, host.code);
  for (const r of bad) assert.match(text.stdout, new RegExp(`\\n${r.status} +${r.kind} +${r.name} `));

  // the same rows from the original module, distilled on the fly
  const orig = cli(['base-diff', koPath('nf_tables'), '--base', HOST, '--orig-base', k.vmlinuxBtf, '--json']);
  assert.equal(orig.code, host.code);
  assert.deepEqual((JSON.parse(orig.stdout) as DiffJson).rows, doc.rows);
  const none = cli(['base-diff', koPath('nf_tables'), '--base', HOST]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no \.BTF\.base section/);
});

test('relocate --base: the relocated split BTF, raw and C; exit 1 naming the types that do not map', () => {
  const out = distill('nf_tables');
  const raw = cli(['relocate', out, '--base', k.vmlinuxBtf]);
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(raw.stdout, cli(['btf', 'dump', out, '--base', k.vmlinuxBtf]).stdout);
  // the module's own types come first, with the ids they had on the original vmlinux
  const firstOrig = tool('bpftool', ['btf', 'dump', 'file', koPath('nf_tables'), '--base-btf', k.vmlinuxBtf])
    .out.split('\n')
    .filter((l) => l.startsWith('[') && l.includes("STRUCT 'nft_"))[0];
  assert.ok(raw.stdout.includes(`${firstOrig}\n`), firstOrig);
  const c = cli(['relocate', out, '--base', k.vmlinuxBtf, '--format', 'c']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^struct nft_table \{$/m);

  const host = cli(['relocate', out, '--base', HOST]);
  const diff = JSON.parse(cli(['base-diff', out, '--base', HOST, '--json']).stdout) as DiffJson;
  assert.equal(host.code, diff.relocates ? 0 : 1);
  if (!diff.relocates) {
    assert.match(host.stderr, /does not relocate onto/);
    for (const r of diff.rows.filter((x) => !['match', 'size-not-checked'].includes(x.status)))
      assert.ok(host.stderr.includes(`'${r.name}'`), r.name);
  }
  // without --base, relocate is still the CO-RE command
  const core = cli(['relocate', fixture('core_tracer.o'), '--btf', k.vmlinuxBtf]);
  assert.match(core.stdout, /CO-RE relocation/);
});

test('base-diff: a damaged .BTF.base is one error line naming the section', () => {
  const out = distill('nf_tables');
  const bytes = readFileSync(out);
  const elf = new ElfFile(new Uint8Array(bytes), out);
  const sec = elf.section('.BTF.base')!;
  const bad = Buffer.from(bytes);
  bad.writeUInt32LE(0xffffff, sec.offset + 20); // str_len past the end
  const file = path.join(tmp(), 'damaged.ko');
  writeFileSync(file, bad);
  const r = cli(['base-diff', file, '--base', HOST]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^bpf-lens: .*damaged\.ko: \.BTF\.base: offset \d+: .+\n$/);
});

test('distill: .BTF_ids slots follow their types into the new numbering; sets stay sorted', () => {
  const withIds = k.modules().filter((m) => /\/(tcp_bbr|nf_conntrack|tcp_cubic)\.ko$/.test(m));
  assert.ok(withIds.length >= 2);
  const vm = loadBtfFile(k.vmlinuxBtf);
  for (const inFile of withIds) {
    const name = path.basename(inFile, '.ko');
    const out = path.join(tmp(), `${name}.ids.ko`);
    const r = cli(['distill', inFile, '--base', k.vmlinuxBtf, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\.BTF_ids \d+ ids renumbered/);
    const a = new ElfFile(new Uint8Array(readFileSync(inFile)), inFile);
    const b = new ElfFile(new Uint8Array(readFileSync(out)), out);
    const before = readModuleBtf(a, vm).split;
    const after = readModuleBtf(b).split;
    const ids = (e: ElfFile) => e.section('.BTF_ids')!;
    const u32 = (e: ElfFile, off: number) => new DataView(ids(e).data.buffer, ids(e).data.byteOffset).getUint32(off, true);
    let checked = 0;
    for (const sym of a.symbols) {
      if (sym.shndx !== ids(a).index || !sym.name.startsWith('__BTF_ID__')) continue;
      const off = Number(sym.value);
      if (/^__BTF_ID__set8?__/.test(sym.name)) {
        const pairs = sym.name.startsWith('__BTF_ID__set8__');
        const list = Array.from({ length: u32(b, off) }, (_, i) => u32(b, off + (pairs ? 8 : 4) + i * (pairs ? 8 : 4)));
        assert.deepEqual(
          list,
          list.slice().sort((x, y) => x - y),
          `${name}: ${sym.name} sorted`,
        );
        continue;
      }
      const old = u32(a, off);
      if (old === 0) continue;
      const kind = sym.name.split('__')[2];
      assert.equal(after.nameOf(u32(b, off)), before.nameOf(old), `${name}: ${sym.name}`);
      assert.equal(after.type(u32(b, off)).kind.toLowerCase(), before.type(old).kind.toLowerCase(), `${name}: ${sym.name} (${kind})`);
      checked++;
    }
    assert.ok(checked > 0, `${name}: slots checked`);
  }
});
