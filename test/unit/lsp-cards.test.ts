// Hover cards for every map and program of the object model's fixtures (every map kind,
// 50 SEC kinds, externs, struct_ops; both byte orders): each gets a card that names it,
// its type as the model says, and the sizes the model computed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fromBytes } from '../../server/src/lsp/loaded';
import { hoverWord } from '../../server/src/lsp/hover';
import { openObject } from '../../server/src/object';
import { fixture } from '../helpers';

for (const name of ['object_maps.o', 'object_maps.eb.o', 'object_progs.o', 'object_externs.o', 'lsp_maps.o']) {
  test(`cards for every map and program of ${name}`, () => {
    const bytes = new Uint8Array(readFileSync(fixture(name)));
    const model = openObject(bytes, name);
    const o = fromBytes({ path: `/x/${name}`, size: bytes.length, mtimeMs: 0 }, bytes, () => undefined);
    assert.equal(o.error, undefined);
    const text = [...model.maps.map((m) => m.name), ...model.functions.map((f) => f.name)].join('\n');
    model.maps.forEach((m, line) => {
      if (!/^\w+$/.test(m.name)) return; // .rodata and friends have no C identifier to hover
      const card = hoverWord(o, text, line, 0);
      assert.ok(card, `card for map ${m.name}`);
      assert.match(card, new RegExp(`\\*\\*map\\*\\* \`${m.name}\``));
      if (!m.type.startsWith('unknown')) assert.ok(card.includes(`BPF_MAP_TYPE_${m.type.toUpperCase()}`), `${m.name}: ${m.type}`);
      assert.ok(card.includes(`| max_entries | ${m.maxEntries}`), `${m.name} max_entries`);
    });
    model.functions.forEach((f, i) => {
      const card = hoverWord(o, text, model.maps.length + i, 0);
      assert.ok(card, `card for function ${f.name}`);
      assert.ok(card.includes(`\`${f.name}\``));
      assert.ok(card.includes(`| instructions | ${f.insnCount} |`), `${f.name} insns`);
      const p = model.programs.find((q) => q.name === f.name);
      if (p && p.progType !== 'unspec') assert.ok(card.includes(`BPF_PROG_TYPE_${p.progType.toUpperCase()}`), `${f.name}: ${p.progType}`);
    });
    const summary = o.summary;
    assert.equal(summary.maps.length, model.maps.length);
    assert.equal(summary.externs.length, model.externs.length);
    assert.ok(o.disassembly().length > 0 || model.programs.length === 0);
  });
}
