// parse → writeBtf gives back the very bytes we read, for every BTF input of the dump
// tests (raw files whole; ELF objects' .BTF sections), both byte orders, split BTF too;
// and built BTF survives write → parse → write unchanged, ENUM64 included.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isBtf, parseBtf } from '../../server/src/btf/btf';
import { dumpRaw } from '../../server/src/btf/dump-raw';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { ElfFile } from '../../server/src/elf/reader';
import { loadBtf } from '../../server/src/cli/input';
import { btfInputs } from '../btf-corpus';

/** The BTF blob of a file: the file itself, or its .BTF section. */
function btfBytes(file: string): Uint8Array | undefined {
  const bytes = new Uint8Array(readFileSync(file));
  if (isBtf(bytes)) return bytes;
  return new ElfFile(bytes, file).section('.BTF')?.data;
}

for (const input of btfInputs()) {
  test(`parse → write is byte-identical: ${input.name}`, () => {
    const bytes = btfBytes(input.file);
    if (!bytes) {
      // only the clang 7 objects have no BTF (the dump test checks our error for them)
      assert.match(input.file, /clang-7/);
      return;
    }
    const base = input.base ? loadBtf(input.base) : undefined;
    const btf = parseBtf(bytes, { file: input.file, base });
    // kinds read from the info words before anything is decoded (what the linker uses)
    const lazyKinds = Array.from({ length: btf.count }, (_, i) => btf.kindOf(btf.startId + i));
    const datasecs = btf.idsOfKind('DATASEC');
    const written = writeBtf(btf);
    assert.equal(written.length, bytes.length);
    assert.ok(Buffer.from(written).equals(Buffer.from(bytes)), 'rewritten BTF differs');
    // and once more after decoding every type (the lazy and decoded paths must agree)
    assert.equal(btf.types.length, btf.count);
    assert.deepEqual(
      lazyKinds,
      btf.types.map((t) => t.kind),
    );
    assert.deepEqual(
      datasecs,
      btf.types.filter((t) => t.kind === 'DATASEC').map((t) => t.id),
    );
    assert.ok(Buffer.from(writeBtf(btf)).equals(Buffer.from(bytes)));
    // byte order can be switched and switched back
    const swapped = writeBtf(btf, !btf.littleEndian);
    const swappedBase = base && parseBtf(writeBtf(base, !base.littleEndian));
    const back = parseBtf(swapped, { base: swappedBase });
    assert.equal(back.littleEndian, !btf.littleEndian);
    assert.ok(Buffer.from(writeBtf(back, btf.littleEndian)).equals(Buffer.from(bytes)));
  });
}

test('ENUM64 built with BtfBuilder: write → parse → write is stable and values keep their sign', () => {
  for (const le of [true, false]) {
    const b = new BtfBuilder(undefined, le);
    b.add({
      kind: 'ENUM64',
      name: 'wide',
      nameOff: 0,
      kindFlag: true,
      size: 8,
      values: [
        { name: 'A', nameOff: 0, value: -(2n ** 63n) },
        { name: 'B', nameOff: 0, value: 2n ** 63n - 1n },
        { name: 'C', nameOff: 0, value: -1n },
      ],
    });
    b.add({
      kind: 'ENUM64',
      name: 'uwide',
      nameOff: 0,
      kindFlag: false,
      size: 8,
      values: [{ name: 'D', nameOff: 0, value: 2n ** 64n - 1n }],
    });
    const bytes = writeBtf(b.build());
    const parsed = parseBtf(bytes);
    const [wide, uwide] = parsed.types;
    assert.ok(wide.kind === 'ENUM64' && uwide.kind === 'ENUM64');
    assert.deepEqual(
      wide.values.map((v) => v.value),
      [-(2n ** 63n), 2n ** 63n - 1n, -1n],
    );
    assert.deepEqual(
      uwide.values.map((v) => v.value),
      [2n ** 64n - 1n],
    );
    assert.ok(Buffer.from(writeBtf(parsed)).equals(Buffer.from(bytes)));
    assert.match(dumpRaw(parsed), /'A' val=-9223372036854775808LL\n\t'B' val=9223372036854775807LL\n\t'C' val=-1LL\n/);
    assert.match(dumpRaw(parsed), /'D' val=18446744073709551615ULL\n/);
  }
});

test("this kernel's vmlinux BTF has ENUM64 types, and they round-trip", () => {
  const btf = loadBtf('/sys/kernel/btf/vmlinux');
  const e64 = btf.types.filter((t) => t.kind === 'ENUM64');
  assert.ok(e64.length > 0);
  assert.ok(e64.some((t) => t.kind === 'ENUM64' && t.values.some((v) => v.value > 0xffffffffn)));
});
