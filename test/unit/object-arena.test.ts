// __arena globals in the object model (issue 19): .addr_space.1's bytes become the ARENA map's
// initial contents and every reference to them an offset into that map, as libbpf 1.5 reads
// them; objects libbpf refuses to open (no ARENA map, two of them) carry an error.
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import { test } from 'node:test';
import { ARENA_SEC, arenaTooSmall, openObject } from '../../server/src/object';
import { BPF_MAP_TYPE } from '../../server/src/common/uapi';
import { fixture } from '../helpers';

const open = (name: string) => openObject(new Uint8Array(readFileSync(fixture(name))), fixture(name));

for (const name of ['arena_globals.o', 'arena_auto.v3.o']) {
  test(`${name}: the ARENA map holds .addr_space.1, the program's loads point into it`, () => {
    const obj = open(name);
    assert.deepEqual(obj.diagnostics, []);
    const arena = obj.maps.find((m) => m.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_ARENA)!;
    const sec = obj.elf.section(ARENA_SEC)!;
    assert.deepEqual(arena.initialData, sec.data);
    // counter = 42 and label = "arena!" are in it
    assert.ok(Buffer.from(arena.initialData).includes(Buffer.from('arena!')));
    const prog = obj.programs.find((p) => p.name === 'read_arena')!;
    const offsets = new Map(
      obj.elf.symbols.filter((s) => s.shndx === sec.index && s.name).map((s) => [s.name, Number(s.value)] as [string, number]),
    );
    assert.deepEqual(new Set(offsets.keys()), new Set(['counter', 'label', 'big', 'runs']));
    const data = prog.relocs.filter((r) => r.kind === 'data');
    assert.equal(data.length, prog.relocs.length);
    assert.ok(data.length >= 4);
    for (const r of data) {
      assert.equal(r.mapIndex, obj.maps.indexOf(arena));
      assert.ok(offsets.has(r.name) || [...offsets.values()].includes(r.offset!), JSON.stringify(r));
    }
    assert.deepEqual(new Set(data.map((r) => r.offset)), new Set(offsets.values()));
    assert.equal(arenaTooSmall(obj, 4096), undefined);
  });
}

test('__arena globals without an ARENA map: refused as libbpf refuses to open it', () => {
  const obj = open('arena_bad_nomap.o');
  const errors = obj.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
  assert.ok(
    errors.some((m) => /'\.addr_space\.1': __arena globals need an ARENA map/.test(m)),
    errors.join('\n'),
  );
  assert.ok(
    errors.some((m) => /relocation at insn 0 to __arena global 'counter' has no ARENA map/.test(m)),
    errors.join('\n'),
  );
});

test('__arena globals larger than the arena: too small, page by page as libbpf counts', () => {
  const obj = open('arena_bad_small.o');
  assert.deepEqual(obj.diagnostics, []);
  assert.match(arenaTooSmall(obj, 4096) ?? '', /map 'arena': the ARENA map \(1 pages, 4096 bytes\) is too small for the 8192 bytes/);
  // with 64 KiB pages the same arena holds them
  assert.equal(arenaTooSmall(obj, 65536), undefined);
});
