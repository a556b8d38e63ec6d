// Relocating split BTF from a distilled base onto a target base (btf__relocate rules), and
// the base diff that explains it: hand-made cases for each rule, then real modules.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type BaseDiffRow, baseDiff } from '../../server/src/btf/base-diff';
import { type Btf, parseBtf } from '../../server/src/btf/btf';
import { distillBase } from '../../server/src/btf/distill';
import { readModuleBtf } from '../../server/src/btf/module-btf';
import { type BaseMatch, RELOCATABLE, RelocateError, TargetIndex, mapDistilledBase, relocateSplit } from '../../server/src/btf/relocate';
import { BtfBuilder, writeBtf } from '../../server/src/btf/write';
import { ElfFile } from '../../server/src/elf/reader';
import { canonOwn, missingFrom } from '../btf-canon';
import { SIGNED, maker } from '../btf-make';
import { debianKernel } from '../kernels';

type Make = ReturnType<typeof maker>;

/** A distilled base made by `dist`, a split on it made by `split`, and a target made by `target`. */
function setup(dist: (m: Make) => void, split: (m: Make, base: Btf) => void, target: (m: Make) => void, littleEndian = true) {
  const db = new BtfBuilder(undefined, littleEndian);
  dist(maker(db));
  const base = db.build();
  const sb = new BtfBuilder(base);
  split(maker(sb), base);
  const tb = new BtfBuilder(undefined, littleEndian);
  target(maker(tb));
  return { split: sb.build(), target: tb.build() };
}

const row = (rows: readonly BaseMatch[], name: string) => {
  const r = rows.find((x) => x.name === name);
  assert.ok(r, `row ${name}`);
  return r;
};
const id = (b: Btf, kind: 'STRUCT' | 'UNION' | 'ENUM' | 'ENUM64' | 'FWD' | 'INT', name: string) => b.find(kind, name)!.id;

test('relocate: an embedded struct must keep its size; one only pointed to need not', () => {
  const dist = (m: Make) => {
    m.struct('emb', 16);
    m.struct('ptd', 8);
    m.int('int', 4, SIGNED);
  };
  const split = (m: Make, base: Btf) => {
    const emb = id(base, 'STRUCT', 'emb');
    // embedded through typedef, const and array: still by value
    const arr = m.array(m.konst(m.typedef('emb_t', emb)), id(base, 'INT', 'int'), 2);
    m.struct('holder', 40, [m.mem('e', arr), m.mem('p', m.ptr(id(base, 'STRUCT', 'ptd')), 256)]);
  };
  const grown = setup(dist, split, (m) => {
    m.int('int', 4, SIGNED);
    m.struct('emb', 24);
    m.struct('ptd', 12);
  });
  const bad = mapDistilledBase(grown.split, grown.target);
  assert.equal(bad.ok, false);
  const emb = row(bad.matches, 'emb');
  assert.equal(emb.status, 'size-mismatch');
  assert.equal(emb.embeddedIn, grown.split.find('STRUCT', 'holder')!.id);
  assert.match(emb.reason!, /embedded by value.*size 24/);
  assert.equal(row(bad.matches, 'ptd').status, 'size-not-checked');
  assert.throws(
    () => relocateSplit(grown.split, grown.target),
    (e: Error) => e instanceof RelocateError && /STRUCT 'emb' \[\d+\]: size-mismatch/.test(e.message),
  );

  const same = setup(dist, split, (m) => {
    m.struct('ptd', 12);
    m.int('int', 4, SIGNED);
    m.struct('emb', 16);
  });
  const ok = mapDistilledBase(same.split, same.target);
  assert.equal(ok.ok, true);
  assert.deepEqual([row(ok.matches, 'emb').status, row(ok.matches, 'emb').sizeChecked], ['match', true]);
  assert.deepEqual(
    [row(ok.matches, 'ptd').status, row(ok.matches, 'ptd').sizeChecked, row(ok.matches, 'ptd').targetSize],
    ['size-not-checked', false, 12],
  );
  const out = relocateSplit(same.split, same.target).btf;
  assert.equal(out.startId, same.target.length);
  const holder = out.find('STRUCT', 'holder');
  assert.ok(holder?.kind === 'STRUCT');
  const ptr = out.type(holder.members[1].type);
  assert.ok(ptr.kind === 'PTR' && ptr.type === id(same.target, 'STRUCT', 'ptd'));
  assert.deepEqual(missingFrom(canonOwn(out), canonOwn(same.split)), []);
});

test('relocate: same-named structs of different sizes are told apart by size; equal sizes are ambiguous', () => {
  const split = (m: Make, base: Btf) => {
    m.struct('user', 8, [m.mem('p', m.ptr(id(base, 'STRUCT', 'dup')))]);
  };
  const two = setup(
    (m) => m.struct('dup', 16),
    split,
    (m) => {
      m.struct('dup', 8);
      m.struct('other', 4);
      m.struct('dup', 16);
    },
  );
  const r = row(mapDistilledBase(two.split, two.target).matches, 'dup');
  assert.deepEqual([r.status, r.targetId, r.sizeChecked], ['match', 3, true]);

  const none = setup(
    (m) => m.struct('dup', 32),
    split,
    (m) => {
      m.struct('dup', 8);
      m.union('dup', 16);
    },
  );
  const n = row(mapDistilledBase(none.split, none.target).matches, 'dup');
  assert.equal(n.status, 'size-mismatch');
  assert.match(n.reason!, /2 structs\/unions of that name/);

  const amb = setup(
    (m) => m.struct('dup', 16),
    split,
    (m) => {
      m.struct('dup', 16);
      m.struct('dup', 16);
      m.struct('dup', 4);
    },
  );
  const a = row(mapDistilledBase(amb.split, amb.target).matches, 'dup');
  assert.deepEqual([a.status, a.candidates], ['ambiguous', [1, 2]]);
  assert.throws(() => relocateSplit(amb.split, amb.target), /ambiguous/);
});

test('relocate: anonymous types ride along in split; ids and names are rewritten onto the target', () => {
  // what distill makes of a module that uses an anonymous base struct through a typedef
  const b0 = new BtfBuilder();
  const m0 = maker(b0);
  const int = m0.int('int', 4, SIGNED);
  const named = m0.struct('named', 4, [m0.mem('x', int)]);
  const anon = m0.struct('', 8, [m0.mem('n', named), m0.mem('y', int, 32)]);
  const td = m0.typedef('anon_t', anon);
  const orig = b0.build();
  const sb = new BtfBuilder(orig);
  const ms = maker(sb);
  ms.func('f', ms.proto(int, [td]));
  const split = sb.build();
  const d = distillBase(split);
  assert.deepEqual(
    d.base.types.map((t) => t.name),
    ['int', 'named'],
  );
  // a target with other ids and strings, and more types
  const tb = new BtfBuilder();
  const mt = maker(tb);
  mt.struct('padding', 4);
  mt.struct('named', 4, [mt.mem('x', mt.int('int', 4, SIGNED))]);
  const target = tb.build();
  const out = relocateSplit(d.split, target).btf;
  assert.deepEqual(missingFrom(canonOwn(out), canonOwn(split)), []);
  const t = out.find('TYPEDEF', 'anon_t');
  assert.ok(t?.kind === 'TYPEDEF' && t.id >= target.length, 'the typedef and its anonymous struct now live in split');
  const s = out.type(t.type);
  assert.ok(s.kind === 'STRUCT' && s.name === '' && s.members[0].type === id(target, 'STRUCT', 'named'));
  assert.equal(out.str(s.members[1].nameOff), 'y');
});

test('relocate: ENUM stands for ENUM64 of its size; FWD for a FWD of its flavour or a struct/union; INT needs its encoding', () => {
  const dist = (m: Make) => {
    m.enum('e64', 8);
    m.enum('e4', 4);
    m.fwd('fs');
    m.fwd('fu', true);
    m.fwd('fbits');
    m.int('char', 1, SIGNED);
    m.struct('opaque_s', 8);
    m.int('gone', 4);
  };
  const split = (m: Make, base: Btf) => {
    for (let i = 1; i < base.length; i++) m.ptr(i);
  };
  const { split: s, target } = setup(dist, split, (m) => {
    m.enum64('e64');
    m.enum64('e4');
    m.struct('fs', 4);
    m.fwd('fu', true);
    m.struct('fbits', 4, [], true);
    m.int('char', 1);
    m.fwd('opaque_s');
  });
  const rows = mapDistilledBase(s, target).matches;
  const st = (n: string) => row(rows, n).status;
  assert.deepEqual([st('e64'), row(rows, 'e64').targetKind], ['match', 'ENUM64']);
  assert.equal(st('e4'), 'size-mismatch');
  assert.deepEqual([st('fs'), row(rows, 'fs').targetKind], ['match', 'STRUCT']);
  assert.equal(st('fu'), 'match');
  // libbpf (and the kernel) test a struct's kind_flag (it has bitfields) against the FWD
  assert.equal(st('fbits'), 'kind-mismatch');
  assert.match(row(rows, 'fbits').reason!, /kind_flag/);
  assert.equal(st('char'), 'encoding-mismatch');
  assert.match(row(rows, 'char').reason!, /distilled encoding SIGNED, target INT \[\d+\] size 1 \(none\)/);
  // a struct only pointed to may map to a mere declaration, as libbpf allows; an embedded one may not
  assert.deepEqual([st('opaque_s'), row(rows, 'opaque_s').targetKind], ['match', 'FWD']);
  const emb = setup(
    (m) => {
      m.struct('opaque_s', 8);
    },
    (m) => {
      m.struct('holder', 8, [m.mem('o', 1)]);
    },
    (m) => {
      m.fwd('opaque_s');
    },
  );
  assert.equal(row(mapDistilledBase(emb.split, emb.target).matches, 'opaque_s').status, 'size-mismatch');
  assert.equal(st('gone'), 'missing');
});

test('relocate: a distilled base may hold only named INT/FLOAT/ENUM/STRUCT/UNION/FWD', () => {
  const { split, target } = setup(
    (m) => {
      m.int('int', 4);
      m.typedef('td', 1);
      m.struct('', 4);
      m.enum64('e');
    },
    (m) => {
      m.ptr(2);
      m.ptr(3);
      m.ptr(4);
    },
    (m) => {
      m.int('int', 4);
      m.typedef('td', 1);
      m.enum64('e');
    },
  );
  const rows = mapDistilledBase(split, target).matches;
  assert.deepEqual(
    rows.map((r) => r.status),
    ['match', 'invalid', 'invalid', 'invalid'],
  );
});

test('relocate: big-endian BTF relocates and writes back big-endian', () => {
  const { split, target } = setup(
    (m) => {
      m.int('int', 4, SIGNED);
      m.struct('s', 8);
    },
    (m) => {
      m.struct('t', 16, [m.mem('s', 2), m.mem('i', 1, 64)]);
    },
    (m) => {
      m.struct('x', 1);
      m.struct('s', 8);
      m.int('int', 4, SIGNED);
    },
    false,
  );
  const out = relocateSplit(split, target).btf;
  const bytes = writeBtf(out);
  assert.equal(bytes[0], 0xeb);
  const back = parseBtf(bytes, { base: target });
  assert.deepEqual(canonOwn(back), canonOwn(split));
});

test('base diff: each row lists the named split types that use it, through anonymous ones', () => {
  const { split, target } = setup(
    (m) => {
      m.struct('sk', 8);
      m.int('int', 4, SIGNED);
    },
    (m, base) => {
      const sk = id(base, 'STRUCT', 'sk');
      const psk = m.ptr(sk);
      m.struct('user_a', 8, [m.mem('p', psk)]);
      m.func('user_f', m.proto(base.find('INT', 'int')!.id, [m.konst(psk)]));
      m.ptr(m.ptr(sk)); // an anonymous chain nothing named uses
    },
    (m) => {
      m.int('int', 4, SIGNED);
      m.struct('sk', 16);
    },
  );
  const d = baseDiff(split, target);
  const sk: BaseDiffRow = d.rows.find((r) => r.name === 'sk')!;
  assert.deepEqual(
    sk.dependents.map((x) => `${x.kind} ${x.name}`),
    ['STRUCT user_a', 'FUNC user_f', 'PTR '],
  );
  assert.deepEqual(d.counts, { 'size-not-checked': 1, match: 1 });
  assert.equal(d.relocates, true);
});

test('base diff of Debian 6.1 modules against this kernel and Debian 6.12: rows agree with relocation', () => {
  const k = debianKernel('6.1');
  const orig = parseBtf(readFileSync(k.vmlinuxBtf), { file: k.vmlinuxBtf });
  const targets = [
    new TargetIndex(parseBtf(readFileSync('/sys/kernel/btf/vmlinux'), { file: 'vmlinux' })),
    new TargetIndex(parseBtf(readFileSync(debianKernel('6.12').vmlinuxBtf), { file: '6.12' })),
  ];
  const mods = k.modules().filter((_, i) => i % 40 === 0);
  const relocated = [0, 0];
  for (const ko of mods) {
    const d = distillBase(readModuleBtf(new ElfFile(readFileSync(ko), ko), orig).split);
    targets.forEach((t, i) => {
      const diff = baseDiff(d.split, t);
      assert.equal(diff.rows.length, d.base.count);
      assert.equal(
        diff.relocates,
        diff.rows.every((r) => RELOCATABLE.has(r.status)),
      );
      for (const r of diff.rows) {
        if (RELOCATABLE.has(r.status)) assert.equal(t.btf.nameOf(r.targetId!), r.name);
        else assert.ok(r.reason && r.targetId === undefined, `${ko}: ${r.name} says why`);
        assert.ok(r.dependents.length > 0, `${ko}: ${r.name} is used`);
      }
      if (diff.relocates) {
        relocated[i]++;
        assert.deepEqual(missingFrom(canonOwn(relocateSplit(d.split, t).btf), canonOwn(d.split)).slice(0, 3), []);
      } else {
        assert.throws(() => relocateSplit(d.split, t), RelocateError);
      }
    });
  }
  // some Debian 6.1 modules fit Debian 6.12, not all
  assert.ok(relocated[1] > 0 && relocated[1] < mods.length, `${relocated[1]} of ${mods.length} relocate onto 6.12`);
});
