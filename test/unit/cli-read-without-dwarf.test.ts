// cli/input.ts readWithoutDwarf (link) and loadBtf (btf dump: only .BTF and .BTF.base read): an object's
// BTF read without its DWARF gives the same BTF as the whole file, and links to the same bytes; the
// sections left unread are zeros; a file whose headers do not add up fails as the whole file does.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { btfFromBytes } from '../../server/src/btf/input';
import { dumpRaw } from '../../server/src/btf/dump-raw';
import { loadBtf, readWithoutDwarf } from '../../server/src/cli/input';
import { ElfFile } from '../../server/src/elf/reader';
import { readElfSections } from '../../server/src/host/read-object';
import { linkObjects } from '../../server/src/link/linker';
import { fixture } from '../helpers';

test('an object read for its BTF: the same BTF as the whole file, DWARF left unread', () => {
  const file = fixture('core_tracer.o');
  const whole = new Uint8Array(readFileSync(file));
  const sparse = readWithoutDwarf(file);
  assert.equal(sparse.length, whole.length);
  assert.equal(dumpRaw(btfFromBytes(sparse, file)), dumpRaw(btfFromBytes(whole, file)));
  const elf = new ElfFile(sparse, file);
  const info = elf.section('.debug_info')!;
  assert.ok(info.size > 0 && info.data.every((b) => b === 0), '.debug_info not read');
  assert.deepEqual(elf.section('.BTF.ext')!.data, new ElfFile(whole, file).section('.BTF.ext')!.data);
  assert.equal(dumpRaw(loadBtf(file)), dumpRaw(btfFromBytes(whole, file)));
  const fd = openSync(file, 'r');
  try {
    const btfOnly = readElfSections(fd, whole.length, file, (name) => name === '.BTF')!;
    assert.deepEqual(btfOnly.section('.BTF')!.data, new ElfFile(whole, file).section('.BTF')!.data);
    assert.ok(
      btfOnly.section('.BTF.ext')!.data.every((b) => b === 0),
      '.BTF.ext not read',
    );
  } finally {
    closeSync(fd);
  }
  const other = fixture('core_flavors.o');
  const linked = (read: (f: string) => Uint8Array) => linkObjects([file, other].map((f) => ({ file: f, bytes: read(f) }))).bytes;
  assert.deepEqual(
    linked(readWithoutDwarf),
    linked((f) => new Uint8Array(readFileSync(f))),
  );
});

test('a cut or garbled object read for its BTF fails as the whole file does', () => {
  const whole = readFileSync(fixture('core_tracer.o'));
  const dir = mkdtempSync(path.join(tmpdir(), 'read-for-btf-'));
  try {
    const shoff = Number(whole.readBigUInt64LE(0x28));
    const cases = {
      cut: whole.subarray(0, Math.floor(whole.length / 2)),
      headerless: whole.subarray(0, 40),
      'shoff past the end': Buffer.concat([whole.subarray(0, 0x28), Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0]), whole.subarray(0x30)]),
      'section past the end': (() => {
        const b = Buffer.from(whole);
        b.writeBigUInt64LE(BigInt(whole.length), shoff + 2 * 64 + 0x18);
        return b;
      })(),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const f = path.join(dir, `${name.replace(/ /g, '_')}.o`);
      writeFileSync(f, bytes);
      const error = (read: () => Uint8Array) => {
        try {
          btfFromBytes(read(), f);
          return 'parsed';
        } catch (e) {
          return (e as Error).message;
        }
      };
      const expected = error(() => new Uint8Array(readFileSync(f)));
      assert.equal(
        error(() => readWithoutDwarf(f)),
        expected,
        name,
      );
      let loaded: string;
      try {
        loadBtf(f);
        loaded = 'parsed';
      } catch (e) {
        loaded = (e as Error).message;
      }
      assert.equal(loaded, expected, `${name}: loadBtf`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
