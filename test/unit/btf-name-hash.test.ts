// The name index of parsed BTF (hashes of the name bytes, nothing decoded) against the
// obvious reference: decode every type, group ids by name. Every name of real blobs —
// this kernel's vmlinux, a module's split BTF on its base, a big-endian object — plus names
// that are absent, prefixes, and mutated blobs that still parse.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { Btf, parseBtf } from '../../server/src/btf/btf';
import { loadBtf } from '../../server/src/cli/input';
import { FormatError } from '../../server/src/common/errors';
import { ElfFile } from '../../server/src/elf/reader';
import { CILIUM, fixture } from '../helpers';

/** name → ids (base first), from fully decoded types. */
function reference(btf: Btf): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const t of btf.all()) {
    if (!t.name) continue;
    const l = out.get(t.name);
    if (l) l.push(t.id);
    else out.set(t.name, [t.id]);
  }
  return out;
}

function check(label: string, indexed: Btf, decoded: Btf): number {
  const ref = reference(decoded);
  for (const [name, ids] of ref) assert.deepEqual(indexed.byName(name), ids, `${label}: byName(${JSON.stringify(name)})`);
  for (const name of ['', 'no_such_type_bpf_lens', `${[...ref.keys()][0] ?? 'x'}\0`, ...[...ref.keys()].slice(0, 50).flatMap((n) => [n.slice(0, -1), `${n}_`, `${n}\u00ff`])]) {
    assert.deepEqual(indexed.byName(name), ref.get(name) ?? [], `${label}: absent ${JSON.stringify(name)}`);
  }
  const triple: number[] = [];
  for (let id = decoded.startId; id < decoded.length; id++) if (decoded.type(id).name.includes('___')) triple.push(id);
  assert.deepEqual(indexed.tripleUnderscoreIds(), triple, `${label}: names with ___`);
  return ref.size;
}

test('this kernel\'s vmlinux BTF: every name found by the hash index, as by decoding every type', (t) => {
  const bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
  const names = check('vmlinux', parseBtf(bytes, { file: 'vmlinux' }), parseBtf(bytes, { file: 'vmlinux' }));
  t.diagnostic(`${names} distinct names`);
  assert.ok(names > 10_000);
});

test('split BTF (cilium btf_testmod on its vmlinux): own names, and names whose strings live in the base', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-namehash-'));
  try {
    const baseFile = path.join(dir, 'vmlinux.btf');
    writeFileSync(baseFile, gunzipSync(readFileSync(path.join(CILIUM, 'btf/testdata/vmlinux.btf.gz'))));
    const mod = path.join(CILIUM, 'btf/testdata/btf_testmod.btf');
    const base1 = loadBtf(baseFile);
    const base2 = loadBtf(baseFile);
    const split = loadBtf(mod, base1);
    const splitRef = loadBtf(mod, base2);
    assert.ok(split.startId > 1 && split.count > 0);
    check('btf_testmod', split, splitRef);
    // some of the module's types are named by strings of the base (deduplicated against it)
    assert.ok(splitRef.types.some((x) => x.nameOff !== 0 && x.nameOff < splitRef.startStrOff));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('big-endian and little-endian objects, and CO-RE flavors (foo___v2) listed', () => {
  for (const f of ['relocs-eb.elf', 'relocs-el.elf']) {
    const file = path.join(CILIUM, 'btf/testdata', f);
    check(f, loadBtf(file), loadBtf(file));
  }
  const flavors = loadBtf(fixture('core_flavors.o'));
  assert.ok(flavors.tripleUnderscoreIds().length > 0, 'core_flavors has flavored types');
  check('core_flavors', flavors, loadBtf(fixture('core_flavors.o')));
});

test('mutated blobs that still parse index exactly what decoding finds', () => {
  // the object's .BTF section, found through its section header (its magic bytes can also
  // occur by chance earlier in the file)
  const sec = new ElfFile(new Uint8Array(readFileSync(fixture('core_flavors.o'))), 'core_flavors.o').section('.BTF');
  assert.ok(sec);
  const blob = sec.data;
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8);
  let parsed = 0;
  for (let round = 0; round < 400; round++) {
    const m = Uint8Array.from(blob);
    for (let k = 0; k < 1 + (rnd() % 4); k++) m[24 + (rnd() % (m.length - 24))] = rnd() & 0xff;
    let a: Btf, b: Btf;
    try {
      a = parseBtf(m, { file: 'mutant' });
      b = parseBtf(m, { file: 'mutant' });
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
      continue;
    }
    check(`mutant ${round}`, a, b);
    parsed++;
  }
  assert.ok(parsed > 20, `${parsed} mutants parsed`);
});
