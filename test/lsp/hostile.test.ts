// The language server on hostile but valid input, over a real connection: a map value whose
// anonymous unions nest through __typeof__ (16^6 uses of one record) hovers quickly with a
// bounded card, and the server keeps answering.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { LspClient, makeWorkspace } from './lsp-client';

const ws = makeWorkspace(['lsp_nested_anon.bpf.c']);
let lsp: LspClient;
let uri: string;
let lines: string[];

before(async () => {
  lsp = await LspClient.start(ws.dir);
  const file = path.join(ws.src, 'lsp_nested_anon.bpf.c');
  const text = readFileSync(file, 'utf8');
  lines = text.split('\n');
  uri = await lsp.open(file, text);
});
after(async () => {
  if (lsp.proc.exitCode !== null) console.error(`server exited ${lsp.proc.exitCode}: ${lsp.stderr.join('').slice(-2000)}`);
  await lsp.stop();
  ws.cleanup();
});

test('hover on a map whose value nests one anonymous union 16^6 times: fast, bounded, each record once', async () => {
  const line = lines.findIndex((l) => l.includes('} lsp_nested SEC'));
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const h = await Promise.race([
    lsp.hover(uri, line, 4),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `no hover after 60 s; server ${lsp.proc.exitCode === null ? 'running' : `exited ${lsp.proc.exitCode}`}: ${lsp.stderr.join('').slice(-1500)}`,
            ),
          ),
        60_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const ms = Date.now() - started;
  assert.ok(h, 'a hover');
  assert.match(h, /\*\*map\*\* `lsp_nested`/);
  assert.ok(ms < 5000, `hover took ${ms} ms`);
  assert.ok(h.length < 32_000, `hover of ${h.length} chars`);
  // the layout table shows the shared union once, later uses point at it
  const rows = h.split('\n').filter((l) => /^\| \d/.test(l));
  assert.ok(rows.includes('| 16 | 4 | `int tail` |'), rows.slice(-3).join('\n'));
  assert.ok(rows.includes('| 0 | 16 | `m.union {...} m1` (as `m.m0`) |'), rows.slice(0, 12).join('\n'));
  assert.ok(rows.length < 200, `${rows.length} rows`);
  // the server still answers
  const again = await lsp.hover(
    uri,
    lines.findIndex((l) => l.includes('lsp_nested, &k')),
    lines.find((l) => l.includes('lsp_nested, &k'))!.indexOf('lsp_nested') + 2,
  );
  assert.ok(again && again.includes('lsp_nested'));
});
