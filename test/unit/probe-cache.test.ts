// The boot's probe answers file (kernel/probe-cache.ts): read back only for the key it was
// written for, only with its checksum holding, only when every answer has the right shape.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ProbeCache, parseProbeFile, probeCacheKey, probeFileText } from '../../server/src/kernel/probe-cache';

const KEY = '1 0f5e3c1a-1111-2222-3333-444455556666 6.18.0 0 000001ffffffffff user:[4026531837]';
const answers = new Map([
  ['btf', { supported: true }],
  ['arg_ctx_tag', { supported: false, errno: 'EINVAL' }],
]);

test('answers read back for their key, with their checksum; anything else reads as none', () => {
  const text = probeFileText(KEY, answers);
  assert.deepEqual(parseProbeFile(text, KEY), answers);
  assert.equal(parseProbeFile(text, KEY.replace('6.18.0', '6.19.0')).size, 0, 'another kernel');
  assert.equal(parseProbeFile(text, KEY.replace('0f5e', '0f5f')).size, 0, 'another boot');
  // an answer changed without its checksum
  assert.equal(parseProbeFile(text.replace('"supported":false', '"supported":true'), KEY).size, 0, 'checksum');
  for (const bad of ['', 'null', '[]', '{', '{"key":1}', text.slice(0, text.length >> 1), 'garbage\n'])
    assert.equal(parseProbeFile(bad, KEY).size, 0, JSON.stringify(bad));
  // a well-formed file with a good checksum over a malformed answer is refused whole
  for (const odd of [{ supported: 'yes' }, { supported: true, errno: 5 }, { supported: true, extra: 1 }, null, 3]) {
    const forged = new Map<string, unknown>([...answers, ['odd', odd]]);
    assert.equal(parseProbeFile(probeFileText(KEY, forged as never), KEY).size, 0, JSON.stringify(odd));
  }
});

test("this process's key: boot id, kernel release, euid, capabilities, user namespace", () => {
  const key = probeCacheKey();
  assert.ok(key);
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  for (const part of [boot, release(), String(process.geteuid!()), 'user:[']) assert.ok(key.includes(part), part);
});

test('a cache records and rewrites its file whole; a fresh one does not read it and replaces it; a damaged one is rewritten', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-probes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = new ProbeCache(dir, KEY);
  assert.equal(a.get('btf'), undefined);
  a.record('btf', { supported: true });
  a.record('arg_ctx_tag', { supported: false, errno: 'EINVAL' });
  const b = new ProbeCache(dir, KEY);
  assert.deepEqual(b.get('arg_ctx_tag'), { supported: false, errno: 'EINVAL' });
  assert.equal(new ProbeCache(dir, KEY.replace('6.18.0', '7.0.0')).get('btf'), undefined, 'another key');
  const fresh = new ProbeCache(dir, KEY, false);
  assert.equal(fresh.get('btf'), undefined);
  fresh.record('btf', { supported: true });
  assert.equal(new ProbeCache(dir, KEY).get('arg_ctx_tag'), undefined, 'the fresh answers replaced the file');
  assert.equal(new ProbeCache(dir, undefined).get('btf'), undefined, 'no key: no cache');
  // a damaged file: nothing read, and the next answer writes a good one
  const file = path.join(dir, `probes-${process.geteuid!()}.json`);
  writeFileSync(file, readFileSync(file, 'latin1').replace('true', 'fals'));
  const c = new ProbeCache(dir, KEY);
  assert.equal(c.get('btf'), undefined);
  c.record('btf', { supported: true });
  assert.deepEqual(new ProbeCache(dir, KEY).get('btf'), { supported: true });
});
