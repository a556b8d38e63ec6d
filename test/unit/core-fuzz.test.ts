// Hostile CO-RE records and instructions: whatever the record says, relocateCore answers with
// one report per record and never throws, hangs or patches outside the instructions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as path from 'path';
import fc from 'fast-check';
import { relocateCore } from '../../server/src/core';
import { readCoreObject, readTargetBtf } from '../core-helpers';
import { CILIUM } from '../helpers';

const DATA = path.join(CILIUM, 'btf', 'testdata');

test('random records against real BTF: one report each, no exception, no write past the code', () => {
  const obj = readCoreObject(path.join(DATA, 'relocs_read-el.elf'));
  const target = readTargetBtf(path.join(DATA, 'relocs_read_tgt-el.elf'));
  const code = obj.elf.section('.text')!.data;
  const real = obj.ext.coreRelos[0].records;
  const record = fc.record({
    insnOff: fc.oneof(fc.nat({ max: code.length + 64 }), fc.constantFrom(...real.map((r) => r.insnOff))),
    typeId: fc.oneof(fc.nat({ max: obj.btf.length + 5 }), fc.constantFrom(...real.map((r) => r.typeId))),
    accessStr: fc.oneof(
      fc.constantFrom(...real.map((r) => r.accessStr)),
      fc.stringMatching(/^[0-9:x-]{0,12}$/),
      fc.array(fc.nat({ max: 70 }), { minLength: 1, maxLength: 70 }).map((a) => a.join(':')),
    ),
    kind: fc.oneof(fc.nat({ max: 13 }), fc.integer()),
  });
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), (relos) => {
      const buf = new Uint8Array(code.length + 16);
      buf.set(code);
      const insns = buf.subarray(0, code.length);
      const out = relocateCore({ localBtf: obj.btf, relos: relos, insns, targets: [target] });
      assert.equal(out.reports.length, relos.length);
      assert.deepEqual(buf.subarray(code.length), new Uint8Array(16));
      for (const r of out.reports) assert.ok(r.status !== 'invalid' || (r.fatal && r.message));
    }),
    { numRuns: 400, seed: 20261122 },
  );
});
