// `bpf-lens load` without --json, on a refusal: the log's heading says whose log it is. A BTF
// refusal carries the kernel's BTF checker log, an interrupted load a verifier walk cut short;
// only a rejection's log is "the verifier log" that explains it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLoadFailureText, formatLoadJson } from '../../server/src/targets/format';

const LOG = 'magic: 0xeb9f\nversion: 1\n[7] FUNC bad type_id=99 Invalid type_id\n';

test('a BTF refusal heads its log as the BTF log, a rejection as the verifier log', () => {
  const btf = formatLoadFailureText({ message: "the object's BTF was refused by the kernel: EINVAL", stage: 'btf', log: LOG });
  assert.match(btf, /^BTF log \(last lines\):\n {2}magic: 0xeb9f\n[\s\S]*Invalid type_id\n$/m);
  assert.doesNotMatch(btf, /verifier/);
  const rejected = formatLoadFailureText({
    message: "program 'p' was rejected by the verifier",
    stage: 'programs',
    log: 'R0 !read_ok\nprocessed 2 insns\n',
  });
  assert.match(rejected, /^verifier log \(last lines\):\n {2}R0 !read_ok\n {2}processed 2 insns\n$/m);
});

test('an interrupted load says its verifier log was cut short, in text and in --json', () => {
  const e = {
    message: 'program \'busy\' (SEC("xdp")) was not verified: EAGAIN',
    stage: 'programs',
    log: 'processed 4096 insns\n',
    interrupted: true,
  };
  assert.match(formatLoadFailureText(e), /^verifier log, cut short by the interruptions \(last lines\):\n {2}processed 4096 insns\n$/m);
  const json = JSON.parse(formatLoadJson({ ok: false, error: e })) as { error: { interrupted?: boolean } };
  assert.equal(json.error.interrupted, true);
  const plain = JSON.parse(formatLoadJson({ ok: false, error: { ...e, interrupted: undefined } })) as { error: { interrupted?: boolean } };
  assert.equal(plain.error.interrupted, undefined);
});

test('the heading shows only the last lines, as many as asked', () => {
  const log = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
  const text = formatLoadFailureText({ message: 'x', stage: 'programs', log }, 5);
  assert.deepEqual(text.trimEnd().split('\n').slice(-6), [
    'verifier log (last lines):',
    '  line 25',
    '  line 26',
    '  line 27',
    '  line 28',
    '  line 29',
  ]);
});
