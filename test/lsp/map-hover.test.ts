// A hover on a map's name in C while its object is loaded (bpfLens/loadObject into this
// machine's kernel): the element count and the first elements as C-like text, read live —
// an update made meanwhile shows on the next hover; a queue says its elements cannot be read.
// bpfLens/mapElements (the map view) lists the elements, filtered on key text.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { cli } from '../helpers';
import { LspClient, makeWorkspace } from './lsp-client';

interface LoadResult {
  ok: boolean;
  loaded?: { handle: number; maps: { name: string; id: number }[] };
  error?: { message: string };
}

const ws = makeWorkspace(['observe_maps.bpf.c']);
let lsp: LspClient;
before(async () => {
  lsp = await LspClient.start(ws.dir);
});
after(async () => {
  await lsp.stop();
  ws.cleanup();
});

test('hover on a loaded map: its element count and first elements, live', async () => {
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'observe_maps.o') });
  assert.ok(r.ok, r.error?.message);
  const id = (name: string) => r.loaded!.maps.find((m) => m.name === name)!.id;
  const src = path.join(ws.src, 'observe_maps.bpf.c');
  const text = readFileSync(src, 'utf8');
  const uri = await lsp.open(src, text);
  const lines = text.split('\n');
  const at = (word: string) => {
    const l = lines.findIndex((x) => x.includes(`} ${word} SEC`));
    return [l, lines[l].indexOf(word) + 1] as const;
  };
  let h = (await lsp.hover(uri, ...at('m_hash'))) ?? '';
  assert.match(h, new RegExp(`\\*\\*Map \`m_hash\` on local\\*\\* \\(id ${id('m_hash')}, hash\\): 0 elements`), h);
  const u = cli(['map', 'update', '--id', String(id('m_hash')), '--key', '7', '--value={ .neg = -42, .name = "seven", .color = GREEN }']);
  assert.equal(u.code, 0, u.stderr);
  h = (await lsp.hover(uri, ...at('m_hash'))) ?? '';
  assert.match(h, /: 1 element\n/, h);
  assert.match(h, /\[7\] = \{ \.big = 0, \.neg = -42, \.color = GREEN, .*\.name = "seven"/, h);
  h = (await lsp.hover(uri, ...at('m_pcpu_array'))) ?? '';
  assert.match(h, /: 2 elements/, h);
  assert.match(h, /\[0\] = \{ \[0\] = \{ \.x = 0, \.y = 0 \}/, h);
  h = (await lsp.hover(uri, ...at('m_queue'))) ?? '';
  assert.match(h, /\*\*Map `m_queue` on local\*\* \(id \d+, queue\): elements not readable: .*EINVAL/, h);
  // the map view's request: elements as text, filtered on the key
  for (const k of [8, 18, 28]) {
    const w = cli(['map', 'update', '--id', String(id('m_hash')), '--key', String(k), '--value={ .neg = -1 }']);
    assert.equal(w.code, 0, w.stderr);
  }
  type Elements = { count: number; truncated: boolean; elements: { key: string; value: string }[]; error?: string };
  const all = await lsp.request<Elements>('bpfLens/mapElements', { handle: r.loaded!.handle, map: 'm_hash' });
  assert.equal(all.count, 4);
  assert.deepEqual(all.elements.map((e) => e.key).sort(), ['18', '28', '7', '8']);
  const some = await lsp.request<Elements>('bpfLens/mapElements', { handle: r.loaded!.handle, map: 'm_hash', filter: '8' });
  assert.deepEqual(some.elements.map((e) => e.key).sort(), ['18', '28', '8']);
  assert.match(some.elements[0].value, /\.neg = -1,/);
  const q = await lsp.request<Elements>('bpfLens/mapElements', { handle: r.loaded!.handle, map: 'm_queue' });
  assert.match(q.error ?? '', /EINVAL/);
  const none = await lsp.request<Elements>('bpfLens/mapElements', { handle: r.loaded!.handle, map: 'nope' });
  assert.match(none.error ?? '', /no map nope/);
  await lsp.request('bpfLens/unloadObject', { handle: r.loaded!.handle });
  h = (await lsp.hover(uri, ...at('m_hash'))) ?? '';
  assert.doesNotMatch(h, /on local/, 'unloaded: no live elements');
});
