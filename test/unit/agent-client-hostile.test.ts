// A hostile host: what its agent answers never becomes a local path (issue 14). A stand-in
// agent (a node process speaking the agent protocol) names its BTF `../../../../x`; the
// client names cache files by the sha256 it computes itself and refuses a hash that is not
// the bytes'.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AgentClient, TargetError } from '../../server/src/remote';
import { ROOT } from '../helpers';

/** An agent that answers targetBtf with `hash` and `data` (base64 of `bytes`). */
function fakeAgent(hash: string, bytes: Buffer): AgentClient {
  const src = `
    const rpc = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'vscode-jsonrpc', 'node'))});
    const c = rpc.createMessageConnection(new rpc.StreamMessageReader(process.stdin), new rpc.StreamMessageWriter(process.stdout));
    c.onRequest('bpfLensAgent/targetBtf', () => ({ hash: ${JSON.stringify(hash)}, size: ${bytes.length}, data: ${JSON.stringify(bytes.toString('base64'))} }));
    c.onRequest('bpfLensAgent/shutdown', () => { setTimeout(() => process.exit(0), 20); });
    c.onClose(() => process.exit(0));
    c.listen();`;
  return new AgentClient('hostile-host', spawn(process.execPath, ['-e', src], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

test("targetBtf: a hash like ../../../../x from the agent writes nothing outside the cache; a hash that is not the bytes' is refused", async (t) => {
  const top = mkdtempSync(path.join(tmpdir(), 'bpf-lens-btfcache-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const cache = path.join(top, 'a', 'b', 'c', 'cache');
  mkdirSync(cache, { recursive: true });
  const bytes = Buffer.from('not really BTF, but bytes all the same');
  for (const hash of ['../../../../x', `../../../../${'0'.repeat(64)}`, '/tmp/abs', 'f'.repeat(64)]) {
    const c = fakeAgent(hash, bytes);
    try {
      await assert.rejects(
        c.targetBtf(cache),
        (e: unknown) => e instanceof TargetError && /sent BTF whose sha256 is not the hash it named/.test(e.message),
        hash,
      );
    } finally {
      await c.close();
    }
  }
  assert.deepEqual(readdirSync(top), ['a'], 'nothing written beside the cache');
  assert.equal(existsSync(path.join(top, 'x.btf')), false);
  assert.deepEqual(readdirSync(cache), []);
  // an honest answer is stored under the hash computed here
  const good = createHash('sha256').update(bytes).digest('hex');
  const c = fakeAgent(good, bytes);
  try {
    const r = await c.targetBtf(cache);
    assert.equal(r.file, path.join(cache, `${good}.btf`));
    assert.deepEqual(readdirSync(cache).sort(), [`${good}.btf`, 'hostile-host.hash']);
  } finally {
    await c.close();
  }
});
