// Index files of kernel BTF (btf/index-file.ts, kernel/btf-index-cache.ts): this kernel's
// vmlinux parsed through its index gives the same types, names, flavor list and CO-RE
// relocations as a plain parse; an index that is damaged (bytes flipped, truncated), of
// another BTF, or forged with a good checksum is refused, and the cache then gives the same
// results as no cache and writes a good index again.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { dumpRawBytes } from '../../server/src/btf/dump-raw';
import { INDEX_FORMAT, btfDigest, encodeIndex, parseWithIndex } from '../../server/src/btf/index-file';
import { parseKernelBtf, readKernelBtfFile } from '../../server/src/kernel/btf-index-cache';
import { VMLINUX_BTF } from '../../server/src/kernel/sysfs-btf';
import { readCoreObject, readTargetBtf, relocateObject } from '../core-helpers';
import { fixture } from '../helpers';

const have = existsSync(VMLINUX_BTF);
const bytes = have ? new Uint8Array(readFileSync(VMLINUX_BTF)) : new Uint8Array();
const NAMES = ['task_struct', 'sk_buff', 'list_head', 'int', 'bpf_map', 'no_such_type', 'pt_regs', 'file'];

function sameBtf(a: Btf, b: Btf): void {
  assert.equal(a.count, b.count);
  assert.deepEqual(a.tripleUnderscoreIds(), b.tripleUnderscoreIds());
  for (const n of NAMES) assert.deepEqual(a.byName(n), b.byName(n), n);
  for (let id = 1; id < a.length; id += 997) assert.deepEqual(a.get(id), b.get(id), `type ${id}`);
  for (const id of a.tripleUnderscoreIds()) assert.deepEqual(b.byName(a.nameOf(id)), a.byName(a.nameOf(id)));
}

const BODY = 24 + 32 + 8; // header words, BTF digest, header checksum

test('vmlinux through its index: same types, names, flavors as a plain parse', { skip: !have && 'no vmlinux BTF' }, () => {
  const plain = parseBtf(bytes, { file: 'vmlinux' });
  const digest = btfDigest(bytes);
  const index = encodeIndex(parseBtf(bytes, { file: 'vmlinux' }), bytes, digest);
  const fast = parseWithIndex(bytes, index, digest, { file: 'vmlinux', onIndexCorrupt: () => assert.fail('a fresh index is not corrupt') });
  assert.ok(fast, 'a fresh index is accepted');
  sameBtf(plain, fast);
});

// The body is not hashed on open: a damaged header, a wrong length, another BTF's index are
// refused at once; damage in the body is found where a lookup reads it, and the answers are
// the plain parse's either way.
test(
  'a damaged, truncated or foreign index is refused; a damaged body never changes an answer',
  { skip: !have && 'no vmlinux BTF' },
  () => {
    const plain = parseBtf(bytes, { file: 'vmlinux' });
    const digest = btfDigest(bytes);
    const index = encodeIndex(parseBtf(bytes), bytes, digest);
    const refused = (file: Uint8Array, why: string) => assert.equal(parseWithIndex(bytes, file, digest), undefined, why);
    // one flipped byte in the header, the BTF digest, the header checksum
    for (const at of [0, 4, 8, 12, 16, 20, 30, 60, BODY - 1]) {
      const bad = index.slice();
      bad[at] ^= 0x40;
      refused(bad, `byte ${at} flipped`);
    }
    for (const n of [0, 10, 56, BODY, index.length - 4, index.length - 1, Math.floor(index.length / 3)])
      refused(index.subarray(0, n), `truncated to ${n}`);
    refused(new Uint8Array(index.length), 'zeros');
    // another BTF's index (a fixture object's BTF), and this index for other bytes
    const other = readTargetBtf(fixture('core_tracer.o')).btf;
    const otherBytes = new Uint8Array(readFileSync(fixture('core_tracer.o')));
    refused(encodeIndex(other, otherBytes, btfDigest(otherBytes)), 'another BTF');
    const changed = bytes.slice();
    changed[changed.length - 2] ^= 1; // a string byte: still parses, but it is not the same BTF
    assert.equal(parseWithIndex(changed, index, btfDigest(changed)), undefined, 'the BTF changed');
    assert.equal(parseWithIndex(bytes, index, btfDigest(changed)), undefined, 'another digest');
    // damage in the body: offsets, heads, links, flavor list; flipped bytes and forged words
    const dv = new DataView(index.buffer);
    const count = dv.getUint32(12, true);
    const hashSize = dv.getUint32(16, true);
    const tripleAt = BODY + 4 * (2 * count + hashSize);
    const ts = plain.byName('task_struct')[0] - 1;
    const bucket = Array.from(new Int32Array(index.buffer, BODY + 4 * count, hashSize)).indexOf(ts);
    const damaged: [string, (f: DataView) => void][] = [
      ['task_struct offset flipped', (f) => f.setUint8(BODY + 4 * ts + 1, f.getUint8(BODY + 4 * ts + 1) ^ 0x01)],
      ['the next offset flipped', (f) => f.setUint8(BODY + 4 * ts + 4, f.getUint8(BODY + 4 * ts + 4) ^ 0x10)],
      ['task_struct bucket head flipped', (f) => f.setUint8(BODY + 4 * (count + bucket), f.getUint8(BODY + 4 * (count + bucket)) ^ 0x04)],
      ['a link to itself', (f) => f.setInt32(BODY + 4 * (count + hashSize + 5), 5, true)],
      ['a link backwards', (f) => f.setInt32(BODY + 4 * (count + hashSize + 7), 3, true)],
      ['a head past the types', (f) => f.setInt32(BODY + 4 * count, count + 10, true)],
      ['offsets out of order', (f) => f.setUint32(BODY + 12, 0, true)],
      ['an offset past the end', (f) => f.setUint32(BODY + 4 * (count - 1), bytes.length, true)],
      ['a flavor entry flipped', (f) => f.setUint8(tripleAt + 8, f.getUint8(tripleAt + 8) ^ 0x02)],
      ['the middle byte flipped', (f) => f.setUint8(index.length >> 1, f.getUint8(index.length >> 1) ^ 0x40)],
    ];
    assert.ok(ts >= 0 && bucket >= 0);
    for (const [why, damage] of damaged) {
      const f = index.slice();
      damage(new DataView(f.buffer));
      let found = 0;
      const btf = parseWithIndex(bytes, f, digest, { onIndexCorrupt: () => found++ });
      assert.ok(btf, why);
      sameBtf(plain, btf);
      assert.deepEqual(btf.byName('task_struct'), plain.byName('task_struct'), why);
      // found where read: these are read by the lookups above (the rest maybe not, harmlessly)
      if (/task_struct|next offset|flavor/.test(why)) assert.equal(found, 1, `${why}: found once`);
    }
    // a head of -1 takes four bytes changed, not one: forged, it hides a name; a sample of names
    // looked up on open refuses an index that hides many (a different hash function)
    const empty = index.slice();
    new Int32Array(empty.buffer, BODY + 4 * count, hashSize).fill(-1);
    refused(empty, 'every bucket emptied');
  },
);

test(
  'parseKernelBtf: writes an index, reuses it, and a corrupt one gives the same results and is rewritten',
  { skip: !have && 'no vmlinux BTF' },
  (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-btfidx-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const plain = parseBtf(bytes, { file: 'vmlinux' });
    sameBtf(plain, parseKernelBtf(bytes, { file: 'vmlinux' }, dir));
    const [name] = readdirSync(dir);
    const file = path.join(dir, name);
    const written = readFileSync(file);
    const made = statSync(file).mtimeMs;
    sameBtf(plain, parseKernelBtf(bytes, { file: 'vmlinux' }, dir));
    assert.equal(statSync(file).mtimeMs, made, 'a good index is not rewritten');
    for (const damage of [
      (b: Buffer) => b.subarray(0, 1000),
      (b: Buffer) => {
        // task_struct's record offset: the body is checked where a lookup reads it
        const c = Buffer.from(b);
        c[BODY + 4 * (plain.byName('task_struct')[0] - 1)] ^= 0xff;
        return c;
      },
      () => Buffer.from('garbage'),
    ]) {
      writeFileSync(file, damage(written));
      sameBtf(plain, parseKernelBtf(bytes, { file: 'vmlinux' }, dir));
      assert.deepEqual(readFileSync(file), written, 'rewritten whole');
    }
    // a directory that cannot be written: parsed all the same
    sameBtf(plain, parseKernelBtf(bytes, { file: 'vmlinux' }, path.join(file, 'not-a-dir')));
    // the file names its format: another build's index of the same BTF (an older format) beside
    // it is neither read nor replaced, so two builds sharing a cache do not rewrite it by turns
    assert.match(name, new RegExp(`^[0-9a-f]{32}-v${INDEX_FORMAT}\\.btfidx$`));
    const older = path.join(dir, name.replace(/-v\d+\.btfidx$/, '.btfidx'));
    writeFileSync(older, 'an index of format 2');
    const current = statSync(file).mtimeMs;
    sameBtf(plain, parseKernelBtf(bytes, { file: 'vmlinux' }, dir));
    assert.equal(readFileSync(older, 'latin1'), 'an index of format 2');
    assert.equal(statSync(file).mtimeMs, current, 'its own index is still the one used');
  },
);

test(
  'a record offset off anywhere in the index: a dump (its own walk of the records) is the same, and whoever takes the offsets finds it and has the index rewritten',
  { skip: !have && 'no vmlinux BTF' },
  (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-btfidx-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const plain = parseBtf(bytes, { file: 'vmlinux' });
    const want = Buffer.from(dumpRawBytes(plain));
    parseKernelBtf(bytes, {}, dir); // writes the index
    const file = path.join(dir, readdirSync(dir)[0]);
    const good = readFileSync(file);
    assert.ok(Buffer.from(dumpRawBytes(parseKernelBtf(bytes, {}, dir))).equals(want), 'the index as written');
    // the first, one in the middle no name sample reads, the last; moved by a record's length
    for (const i of [0, 3, plain.count - 1]) {
      const damaged = Buffer.from(good);
      damaged.writeUInt32LE(damaged.readUInt32LE(BODY + 4 * i) + 16, BODY + 4 * i);
      writeFileSync(file, damaged);
      const btf = parseKernelBtf(bytes, {}, dir);
      assert.ok(Buffer.from(dumpRawBytes(btf)).equals(want), `offset of record ${i} off by 16: the same dump`);
      assert.ok(
        Buffer.from(btf.records!.offsets.buffer, btf.records!.offsets.byteOffset, btf.records!.offsets.byteLength).equals(
          Buffer.from(plain.records!.offsets.buffer, plain.records!.offsets.byteOffset, plain.records!.offsets.byteLength),
        ),
        `record ${i}: the offsets handed out are the scanned ones`,
      );
      assert.deepEqual(readFileSync(file), good, `record ${i}: the index is written again`);
    }
  },
);

test(
  'CO-RE relocation of the fixtures against vmlinux: the same reports with and without the index',
  { skip: !have && 'no vmlinux BTF' },
  (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-btfidx-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    parseKernelBtf(bytes, {}, dir); // writes the index
    const indexed = { name: 'vmlinux', btf: parseKernelBtf(bytes, {}, dir) };
    const plain = { name: 'vmlinux', btf: parseBtf(bytes) };
    const [name] = readdirSync(dir);
    const file = path.join(dir, name);
    const good = readFileSync(file);
    // an index damaged in the middle of its body (a flipped byte in the records the relocations
    // read, which only the old whole-file hash caught on open) or cut short: the same reports
    // as without an index, and a good index written again
    const ts = plain.btf.byName('task_struct')[0] - 1;
    const damaged = [
      (b: Buffer) => {
        const c = Buffer.from(b);
        c[BODY + 4 * ts + 1] ^= 0x01;
        return c;
      },
      (b: Buffer) => b.subarray(0, b.length >> 1),
    ];
    const runs = [
      () => indexed,
      ...damaged.map((damage) => () => {
        writeFileSync(file, damage(good));
        return { name: 'vmlinux', btf: parseKernelBtf(bytes, {}, dir) };
      }),
    ];
    for (const f of ['core_tracer.o', 'core_flavors.o', 'core_local.o'])
      for (const run of runs) {
        const b = relocateObject(readCoreObject(fixture(f)), [run()]);
        const a = relocateObject(readCoreObject(fixture(f)), [plain]);
        if (run !== runs[0]) assert.deepEqual(readFileSync(file), good, `${f}: the index is written again`);
        assert.ok(
          a.some((s) => s.reports.length > 0),
          `${f} has relocations`,
        );
        assert.deepEqual(
          JSON.parse(
            JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)),
          ),
          JSON.parse(
            JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)),
          ),
          f,
        );
      }
  },
);

test(
  "readKernelBtfFile: this boot's copy of vmlinux stands for sysfs, with its digest; a damaged or short copy is replaced",
  { skip: !have && 'no vmlinux BTF' },
  (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-btfcopy-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const digest = Buffer.from(btfDigest(bytes));
    const first = readKernelBtfFile(VMLINUX_BTF, dir);
    assert.deepEqual(Buffer.from(first.bytes), Buffer.from(bytes));
    assert.deepEqual(Buffer.from(first.digest ?? []), digest);
    const copies = readdirSync(dir).filter((f) => f.endsWith('.btfcopy'));
    assert.equal(copies.length, 1);
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    assert.ok(copies[0].includes(boot) && copies[0].endsWith(`-${bytes.length}.btfcopy`), copies[0]);
    const file = path.join(dir, copies[0]);
    const saved = readFileSync(file);
    const made = statSync(file).mtimeMs;
    const again = readKernelBtfFile(VMLINUX_BTF, dir);
    assert.deepEqual(Buffer.from(again.bytes), Buffer.from(bytes));
    assert.deepEqual(Buffer.from(again.digest ?? []), digest);
    assert.equal(statSync(file).mtimeMs, made, 'a good copy is read, not rewritten');
    // a byte flipped in a page the check always reads (the first), a copy cut short, garbage
    for (const damage of [
      (b: Buffer) => {
        const c = Buffer.from(b);
        c[100] ^= 0xff;
        return c;
      },
      (b: Buffer) => b.subarray(0, b.length - 4096),
      () => Buffer.from('garbage'),
    ]) {
      writeFileSync(file, damage(saved));
      const r = readKernelBtfFile(VMLINUX_BTF, dir);
      assert.deepEqual(Buffer.from(r.bytes), Buffer.from(bytes));
      assert.deepEqual(Buffer.from(r.digest ?? []), digest);
      assert.deepEqual(readFileSync(file), saved, 'replaced whole');
    }
    // a copy from another boot is removed when this boot's is written
    const stale = path.join(dir, copies[0].replace(boot, '00000000-0000-0000-0000-000000000000'));
    writeFileSync(stale, 'old');
    rmSync(file);
    readKernelBtfFile(VMLINUX_BTF, dir);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.btfcopy')),
      copies,
    );
    // the same types through the copy's digest as through a plain parse
    sameBtf(parseBtf(bytes, { file: 'vmlinux' }), parseKernelBtf(again.bytes, { file: 'vmlinux' }, dir, again.digest));
  },
);
