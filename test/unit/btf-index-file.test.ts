// Index files of kernel BTF (btf/index-file.ts, kernel/btf-index-cache.ts): this kernel's
// vmlinux parsed through its index gives the same types, names, flavor list and CO-RE
// relocations as a plain parse; an index that is damaged (bytes flipped, truncated), of
// another BTF, or forged with a good checksum is refused, and the cache then gives the same
// results as no cache and writes a good index again.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { btfDigest, encodeIndex, parseWithIndex } from '../../server/src/btf/index-file';
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

/** The index with its trailing checksum recomputed: what a forger (or a bug) could write. */
function resealed(file: Uint8Array): Uint8Array {
  const out = file.slice();
  out.set(
    createHash('sha256')
      .update(out.subarray(0, out.length - 32))
      .digest(),
    out.length - 32,
  );
  return out;
}

test('vmlinux through its index: same types, names, flavors as a plain parse', { skip: !have && 'no vmlinux BTF' }, () => {
  const plain = parseBtf(bytes, { file: 'vmlinux' });
  const digest = btfDigest(bytes);
  const index = encodeIndex(parseBtf(bytes, { file: 'vmlinux' }), bytes, digest);
  const fast = parseWithIndex(bytes, index, digest, { file: 'vmlinux' });
  assert.ok(fast, 'a fresh index is accepted');
  sameBtf(plain, fast);
});

test('a damaged, truncated, foreign or forged index is refused', { skip: !have && 'no vmlinux BTF' }, () => {
  const digest = btfDigest(bytes);
  const index = encodeIndex(parseBtf(bytes), bytes, digest);
  const refused = (file: Uint8Array, why: string) => assert.equal(parseWithIndex(bytes, file, digest), undefined, why);
  // one flipped byte anywhere: header, BTF digest, offsets, heads, links, checksum
  for (const at of [
    0,
    4,
    8,
    12,
    16,
    20,
    30,
    60,
    1000,
    Math.floor(index.length / 2),
    index.length - 100,
    index.length - 33,
    index.length - 1,
  ]) {
    const bad = index.slice();
    bad[at] ^= 0x40;
    refused(bad, `byte ${at} flipped`);
  }
  for (const n of [0, 10, 56, index.length - 1, index.length - 32, Math.floor(index.length / 3)])
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
  // forged with a good checksum: offsets out of order or past the end are refused; chain links
  // and heads are checked where they are walked (a link that does not go up ends the walk), so a
  // forged one may be taken, but every lookup ends and gives only types of that name
  const body = 24 + 32;
  const count = new DataView(index.buffer).getUint32(12, true);
  const hashSize = new DataView(index.buffer).getUint32(16, true);
  const forge = (word: number, value: number) => {
    const f = index.slice();
    new DataView(f.buffer).setUint32(body + 4 * word, value >>> 0, true);
    return resealed(f);
  };
  const names = ['task_struct', 'sk_buff', 'int', 'pt_regs', 'bpf_prog', 'list_head'];
  for (const [word, value, why] of [
    [count + hashSize + 5, 5, 'a link to itself'],
    [count + hashSize + 7, 3, 'a link backwards'],
    [count + hashSize + 9, 0, 'a link to type 0'],
    [count, count + 10, 'a head past the types'],
  ] as const) {
    const btf = parseWithIndex(bytes, forge(word, value), digest);
    for (const name of btf ? names : []) for (const id of btf!.byName(name)) assert.equal(btf!.nameOf(id), name, why);
  }
  refused(forge(3, 0), 'offsets out of order');
  refused(forge(count - 1, bytes.length), 'an offset past the end');
  // a chain that misses a name (a different hash function): the sample check catches it
  const heads = index.slice();
  const hv = new DataView(heads.buffer);
  for (let b = 0; b < hashSize; b++) hv.setInt32(body + 4 * (count + b), -1, true);
  refused(resealed(heads), 'empty buckets');
});

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
        const c = Buffer.from(b);
        c[5000] ^= 0xff;
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
    for (const f of ['core_tracer.o', 'core_flavors.o', 'core_local.o']) {
      const a = relocateObject(readCoreObject(fixture(f)), [plain]);
      const b = relocateObject(readCoreObject(fixture(f)), [indexed]);
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
