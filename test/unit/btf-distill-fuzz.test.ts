// Hostile bytes through distill, relocate and base-diff: a seeded mutation loop over a
// distilled Debian 6.1 module (its .BTF.base, .BTF and .BTF_ids) and over the plain
// module. Every case must work or throw one of the engine's own errors (FormatError for
// bad bytes, RelocateError/DistillError for BTF that does not fit) — nothing else.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { moduleBaseDiff } from '../../server/src/btf/base-diff';
import { parseBtf } from '../../server/src/btf/btf';
import { DistillError } from '../../server/src/btf/distill';
import { distillModule } from '../../server/src/btf/module-btf';
import { RelocateError, TargetIndex, relocateSplit } from '../../server/src/btf/relocate';
import { FormatError } from '../../server/src/common/errors';
import { ElfFile } from '../../server/src/elf/reader';
import { debianKernel } from '../kernels';
import { rng } from '../helpers';

const SEED = Number(process.env.BTF_FUZZ_SEED ?? 0xd157);
const CASES = Number(process.env.BTF_FUZZ_CASES ?? 600);

test("distill/relocate/base-diff on mutated modules: results or the engine's own errors, never a crash", () => {
  const k = debianKernel('6.1');
  const orig = parseBtf(readFileSync(k.vmlinuxBtf), { file: k.vmlinuxBtf });
  const index = new TargetIndex(orig);
  const ko = k.modules().find((m) => m.endsWith('/tcp_bbr.ko'))!;
  const plain = new Uint8Array(readFileSync(ko));
  const distilled = distillModule(new ElfFile(plain, ko), index).bytes;
  const random = rng(SEED);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < CASES; i++) {
    const src = i % 4 === 3 ? plain : distilled;
    const bytes = src.slice();
    const elf0 = new ElfFile(src, 'x');
    // aim at the BTF sections (and .BTF_ids) most of the time, anywhere sometimes
    const targets = ['.BTF.base', '.BTF', '.BTF_ids'].map((n) => elf0.section(n)).filter((s) => s !== undefined);
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
      const sec = random() < 0.9 ? targets[Math.floor(random() * targets.length)] : undefined;
      const at = sec ? sec.offset + Math.floor(random() * sec.size) : Math.floor(random() * bytes.length);
      bytes[at] = random() < 0.5 ? Math.floor(random() * 256) : bytes[at] ^ (1 << Math.floor(random() * 8));
    }
    let outcome: string;
    try {
      const elf = new ElfFile(bytes, 'fuzz.ko');
      const diff = moduleBaseDiff(elf, index, orig);
      if (diff.relocates) relocateSplit(diff.split, index, diff.mapping);
      distillModule(elf, index);
      outcome = diff.relocates ? 'relocates' : 'does not relocate';
    } catch (e) {
      if (e instanceof FormatError) assert.match(e.message, /^fuzz\.ko: [^:]+: offset \d+: ./);
      else if (!(e instanceof RelocateError || e instanceof DistillError)) throw e;
      outcome = e.name;
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // the loop reached both the happy path and the error paths
  assert.ok((outcomes.get('FormatError') ?? 0) > 0 && (outcomes.get('relocates') ?? 0) > 0, JSON.stringify([...outcomes]));
});
