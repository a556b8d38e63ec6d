// Hostile objects in the language server: mutated and truncated fixture objects must give
// an error item or a summary, and every hover and document on them an answer or a clear
// error — never an exception that escapes, a hang, or a RangeError from deep inside.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { documentText } from '../../server/src/lsp/documents';
import { hoverAt } from '../../server/src/lsp/hover';
import { fromBytes } from '../../server/src/lsp/loaded';
import { fixture } from '../helpers';

/** xorshift32: the same mutations on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

test('mutated objects: summaries, hovers and documents never throw past the handlers', () => {
  const names = ['lsp_maps.o', 'lsp_progs.o', 'lsp_bad_maps.o'];
  const originals = names.map((n) => new Uint8Array(readFileSync(fixture(n))));
  const rand = rng(0x5eed);
  let errors = 0,
    parsed = 0;
  const t0 = Date.now();
  for (let round = 0; round < 300; round++) {
    const src = originals[round % originals.length];
    let bytes = src.slice();
    if (round % 10 === 9) bytes = bytes.subarray(0, Math.floor(rand() * bytes.length));
    else for (let k = 0; k < 1 + Math.floor(rand() * 8); k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    const o = fromBytes({ path: `/fuzz/${round}.o`, size: bytes.length, mtimeMs: 0 }, bytes, () => undefined);
    JSON.stringify(o.summary, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    if (o.error) {
      errors++;
      continue;
    }
    parsed++;
    const names2 = [...(o.facts?.maps ?? []).map((m) => m.name), ...(o.facts?.programs ?? []).map((p) => p.name)];
    const text = names2.map((n) => `${n} SEC(".maps") x;`).join('\n');
    names2.forEach((_, line) => {
      try {
        hoverAt([o], text, line, 1);
      } catch (e) {
        assert.ok(!(e instanceof RangeError), `hover: ${(e as Error).stack}`);
      }
    });
    for (const kind of ['summary', 'disasm', 'c', 'raw'] as const) {
      try {
        documentText(o, { path: o.path, kind });
      } catch (e) {
        assert.ok(
          e instanceof Error && e.message.length > 0 && !(e instanceof RangeError && /call stack/.test(e.message)),
          `${kind}: ${(e as Error).stack}`,
        );
      }
    }
  }
  assert.ok(errors > 10 && parsed > 10, `${errors} error items, ${parsed} parsed`);
  assert.ok(Date.now() - t0 < 60_000, 'no mutation makes the server slow');
});
