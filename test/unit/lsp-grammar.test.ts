// The bpf-disasm TextMate grammar against real listings: its rules compile, and every line
// of a disassembly document is claimed by the rule meant for it (headers, source lines,
// labels, instructions with registers, calls and map references).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fromBytes } from '../../server/src/lsp/loaded';
import { fixture, ROOT } from '../helpers';

interface Rule {
  match?: string;
  begin?: string;
  patterns?: Rule[];
  name?: string;
}
const grammar = JSON.parse(readFileSync(path.join(ROOT, 'syntaxes', 'bpf-disasm.tmLanguage.json'), 'utf8')) as {
  scopeName: string;
  repository: Record<string, Rule>;
};
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

const re = (s: string) => new RegExp(s);

test('grammar is the one the manifest declares, and every rule compiles', () => {
  const g = manifest.contributes.grammars.find((x: { language: string }) => x.language === 'bpf-disasm');
  assert.equal(g.scopeName, grammar.scopeName);
  assert.ok(manifest.contributes.languages.some((l: { id: string }) => l.id === 'bpf-disasm'));
  const all = (r: Rule): Rule[] => [r, ...(r.patterns ?? []).flatMap(all)];
  for (const r of Object.values(grammar.repository).flatMap(all)) {
    if (r.match) re(r.match);
    if (r.begin) re(r.begin);
  }
});

test('every line of a listing is a header, source line, label or instruction', () => {
  const bytes = new Uint8Array(readFileSync(fixture('lsp_maps.o')));
  const o = fromBytes({ path: 'lsp_maps.o', size: bytes.length, mtimeMs: 0 }, bytes, () => undefined);
  const text = o.disassembly();
  const r = grammar.repository;
  let insns = 0;
  for (const line of text.split('\n').filter((l) => l.trim())) {
    const kinds = ['header', 'source', 'label'].filter((k) => re(r[k].match!).test(line));
    if (re(r.instruction.begin!).test(line)) {
      kinds.push('instruction');
      insns++;
      const body = line.replace(re(r.instruction.begin!), '');
      assert.ok(
        /\b[rw]\d+\b/.test(body) ? r.instruction.patterns!.some((p) => p.name?.includes('register') && re(p.match!).test(body)) : true,
        line,
      );
    }
    assert.equal(kinds.length, 1, `${JSON.stringify(line)} matched ${kinds.join(', ') || 'nothing'}`);
  }
  assert.ok(insns > 50);
  const mapRef = r.instruction.patterns!.find((p) => p.match?.includes('map_value|map'))!;
  assert.ok(re(mapRef.match!).test('r1 = map[lsp_hash] ll'));
});
