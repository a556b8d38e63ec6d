// Every field offset and size in BPF Lens's bpf_attr / bpf_*_info tables, checked two ways:
// against the UAPI header installed here (gcc offsetof/sizeof over <linux/bpf.h>), and against
// the running kernel's own BTF (`union bpf_attr`, `struct bpf_prog_info` ... in vmlinux), which
// also covers the fields newer than the header.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { sizeOf } from '../../server/src/btf/layout';
import { isComposite } from '../../server/src/btf/types';
import { BTF_INFO_LAYOUT, LINK_INFO_LAYOUT, MAP_INFO_LAYOUT, PROG_INFO_LAYOUT } from '../../server/src/kernel/attr/info';
import { type Field, type Layout } from '../../server/src/kernel/attr/layout';
import { MAP_BATCH_LAYOUT, MAP_CREATE_LAYOUT, MAP_ELEM_LAYOUT } from '../../server/src/kernel/attr/map';
import { PROG_BIND_MAP_LAYOUT, PROG_LOAD_LAYOUT } from '../../server/src/kernel/attr/prog';
import { BTF_LOAD_LAYOUT } from '../../server/src/kernel/attr/btf';
import { ENABLE_STATS_LAYOUT, GET_ID_LAYOUT, INFO_ATTR_LAYOUT, OBJ_LAYOUT } from '../../server/src/kernel/attr/obj';
import {
  ITER_CREATE_LAYOUT,
  LINK_CREATE_LAYOUT,
  LINK_DETACH_LAYOUT,
  PROG_ATTACH_LAYOUT,
  RAW_TRACEPOINT_LAYOUT,
  TEST_RUN_LAYOUT,
} from '../../server/src/kernel/attr/link';
import { PERF_EVENT_ATTR_LAYOUT } from '../../server/src/kernel/attr/perf';

const LAYOUTS: Layout[] = [
  MAP_CREATE_LAYOUT,
  MAP_ELEM_LAYOUT,
  MAP_BATCH_LAYOUT,
  PROG_LOAD_LAYOUT,
  PROG_BIND_MAP_LAYOUT,
  BTF_LOAD_LAYOUT,
  OBJ_LAYOUT,
  GET_ID_LAYOUT,
  INFO_ATTR_LAYOUT,
  LINK_CREATE_LAYOUT,
  RAW_TRACEPOINT_LAYOUT,
  TEST_RUN_LAYOUT,
  PROG_INFO_LAYOUT,
  MAP_INFO_LAYOUT,
  BTF_INFO_LAYOUT,
  LINK_INFO_LAYOUT,
  PROG_ATTACH_LAYOUT,
  ITER_CREATE_LAYOUT,
  LINK_DETACH_LAYOUT,
  PERF_EVENT_ATTR_LAYOUT,
  ENABLE_STATS_LAYOUT,
];

/** Fields that are not C members: a bitfield's storage word, and the bitfield it starts with. */
const BITFIELD_WORDS = new Map([
  ['bpf_prog_info.gpl_compatible_word', 'gpl_compatible'],
  ['perf_event_attr.flags_word', 'disabled'],
]);
const NOT_C = new Set(BITFIELD_WORDS.keys());

const cPath = (l: Layout, f: Field) => (l.cMember ? `${l.cMember}.${f.name}` : f.name);

interface Measured {
  offset: number;
  size: number;
}

/** offsetof/sizeof of every field the header has; fields it lacks are left out (returned apart). */
function measureWithGcc(): { got: Map<string, Measured>; missing: string[] } {
  const rows: { key: string; line: string }[] = [];
  for (const l of LAYOUTS) {
    for (const f of l.fields) {
      const key = `${l.title}.${f.name}`;
      if (NOT_C.has(key)) continue;
      const member = cPath(l, f);
      rows.push({
        key,
        line: `  printf("%s %zu %zu\\n", "${key}", offsetof(${l.cType}, ${member}), sizeof(((${l.cType} *)0)->${member}));`,
      });
    }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-layout-'));
  try {
    const missing: string[] = [];
    let live = rows;
    for (let pass = 0; pass < 4; pass++) {
      const head = [
        '#include <stddef.h>',
        '#include <stdio.h>',
        '#include <linux/bpf.h>',
        '#include <linux/perf_event.h>',
        'int main(void) {',
      ];
      const src = [...head, ...live.map((r) => r.line), '  return 0;', '}'].join('\n');
      writeFileSync(path.join(dir, 'l.c'), src);
      const cc = spawnSync('gcc', ['-o', path.join(dir, 'l'), path.join(dir, 'l.c')], { encoding: 'utf8' });
      if (cc.status === 0) {
        const out = spawnSync(path.join(dir, 'l'), { encoding: 'utf8' }).stdout;
        const got = new Map<string, Measured>();
        for (const ln of out.trim().split('\n')) {
          const [key, off, size] = ln.split(' ');
          got.set(key, { offset: Number(off), size: Number(size) });
        }
        return { got, missing };
      }
      // Drop the lines naming members this (older) header does not have, and compile again.
      const bad = new Set(
        [...cc.stderr.matchAll(/l\.c:(\d+):\d+: error: .*has no member named/g)].map((m) => Number(m[1]) - head.length - 1),
      );
      assert.ok(bad.size > 0, `gcc failed for another reason:\n${cc.stderr}`);
      missing.push(...live.filter((_, i) => bad.has(i)).map((r) => r.key));
      live = live.filter((_, i) => !bad.has(i));
    }
    throw new Error('gcc kept failing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bpf_attr and info tables agree with <linux/bpf.h> (gcc offsetof/sizeof)', () => {
  const { got, missing } = measureWithGcc();
  assert.ok(got.size >= 100, `only ${got.size} fields measured`);
  let newer = 0;
  for (const l of LAYOUTS) {
    for (const f of l.fields) {
      const key = `${l.title}.${f.name}`;
      const m = got.get(key);
      if (m) {
        assert.deepEqual({ offset: f.offset, size: f.size }, m, key);
      } else if (missing.includes(key)) {
        // Newer than the header: it may use new room at the end or former padding, or be a union
        // alias of a field the header has (link_create.map_fd beside prog_fd); never overlap.
        const known = l.fields.filter((g) => g !== f && got.has(`${l.title}.${g.name}`));
        const alias = known.some((g) => g.offset === f.offset && g.size === f.size);
        const overlap = known.filter((g) => g.offset < f.offset + f.size && f.offset < g.offset + g.size);
        assert.ok(
          alias || overlap.length === 0,
          `${key} (not in this header) at ${f.offset} overlaps ${overlap.map((g) => g.name).join(', ')}`,
        );
        newer++;
      }
    }
  }
  // Every field is either measured or accounted for as newer than the header.
  assert.equal(got.size + newer, LAYOUTS.reduce((n, l) => n + l.fields.length, 0) - NOT_C.size);
});

/** Offset in bytes and size of `member path` inside a struct/union, looking through anonymous members. */
function btfMember(btf: Btf, typeId: number, names: string[]): { offset: number; size: number; bitfield: number } | undefined {
  const t = btf.type(btf.skipModifiers(typeId));
  if (!isComposite(t)) return undefined;
  const [first, ...rest] = names;
  for (const m of t.members) {
    const bit = t.kindFlag ? m.bitsOffset : m.bitsOffset;
    if (m.name === first) {
      if (rest.length === 0) return { offset: bit / 8, size: m.bitfieldSize ? 0 : sizeOf(btf, m.type), bitfield: m.bitfieldSize };
      const inner = btfMember(btf, m.type, rest);
      return inner && { ...inner, offset: inner.offset + Math.floor(bit / 8) };
    }
    if (m.name === '') {
      const inner = btfMember(btf, m.type, names);
      if (inner) return { ...inner, offset: inner.offset + Math.floor(bit / 8) };
    }
  }
  return undefined;
}

test("bpf_attr and info tables agree with the running kernel's BTF (every field, newer ones too)", () => {
  const btf = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'), { file: 'vmlinux' });
  let checked = 0;
  for (const l of LAYOUTS) {
    const [kw, name] = l.cType.split(' ');
    const top = btf.find(kw === 'union' ? 'UNION' : 'STRUCT', name);
    assert.ok(top, `${l.cType} in vmlinux BTF`);
    for (const f of l.fields) {
      const key = `${l.title}.${f.name}`;
      const bitfield = BITFIELD_WORDS.get(key);
      if (bitfield) {
        // The word holding `__u32 gpl_compatible:1` (`__u64 disabled:1, ...`) starts where that bitfield does.
        const m = btfMember(btf, top.id, [bitfield]);
        assert.ok(m && m.bitfield === 1, key);
        assert.equal(m.offset, f.offset, key);
        continue;
      }
      const m = btfMember(btf, top.id, cPath(l, f).split('.'));
      assert.ok(m, `${key}: no such member in the kernel's ${l.cType}`);
      assert.deepEqual({ offset: f.offset, size: f.size }, { offset: m.offset, size: m.size }, key);
      checked++;
    }
  }
  assert.ok(checked >= 120, `checked ${checked}`);
});
