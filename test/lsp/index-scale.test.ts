// A large workspace over a real connection: a worker thread reads the objects while the
// server answers, and a hovered source's own object is read first, so the hover does not
// wait for the whole workspace.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fixture } from '../helpers';
import { LspClient, makeWorkspace } from './lsp-client';

const COPIES = 500;
const ws = makeWorkspace(['lsp_maps.bpf.c']);
let lsp: LspClient | undefined;

before(() => {
  const fixtures = path.dirname(fixture('lsp_maps.o'));
  const pool = readdirSync(fixtures)
    .filter((f) => f.endsWith('.o'))
    .map((f) => path.join(fixtures, f));
  for (let i = 0; i < COPIES; i++) {
    const dir = path.join(ws.dir, 'many', `d${i % 10}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(pool[i % pool.length], path.join(dir, `copy${i}.o`));
  }
});
after(async () => {
  await lsp?.stop();
  ws.cleanup();
});

test(`a hover while ${COPIES} objects are read answers from its source's object before the index is done`, async () => {
  lsp = await LspClient.start(ws.dir);
  const src = path.join(ws.src, 'lsp_maps.bpf.c');
  const text = readFileSync(src, 'utf8');
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('} lsp_hash SEC'));
  const uri = await lsp.open(src, text);
  const h = await lsp.hover(uri, line, lines[line].indexOf('lsp_hash') + 2);
  const indexed = lsp.notifications.some((n) => n.method === 'bpfLens/objectsChanged');
  assert.match(h ?? '', /\*\*map\*\* `lsp_hash` — `BPF_MAP_TYPE_HASH`/);
  assert.match(h ?? '', /\*lsp_maps\.o\*/);
  assert.ok(!indexed, 'the hover waited for the whole index');

  const { objects } = await lsp.request<{ objects: { path: string; error?: string; maps: { name: string }[] }[] }>('bpfLens/objects', {});
  assert.equal(objects.length, COPIES + 1);
  // Read in the worker, each copy says what its original says when read here (the hover's object).
  const copies = objects.filter((o) => path.basename(o.path).startsWith('copy') && !o.error);
  assert.ok(copies.length > COPIES * 0.9, `${copies.length} copies read without error`);
  const original = objects.find((o) => o.path.endsWith(path.join('build', 'lsp_maps.o')))!;
  const names = (o: { maps: { name: string }[] }) => o.maps.map((m) => m.name).join(',');
  const poolSize = readdirSync(path.dirname(fixture('lsp_maps.o'))).filter((f) => f.endsWith('.o')).length;
  const same = copies.filter((o) => names(o) === names(original));
  assert.ok(same.length >= Math.floor(COPIES / poolSize), `${same.length} copies with lsp_maps.o's maps`);
  // After the index, the same hover.
  assert.match((await lsp.hover(uri, line, lines[line].indexOf('lsp_hash') + 2)) ?? '', /\*\*map\*\* `lsp_hash`/);
});
