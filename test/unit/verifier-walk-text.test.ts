// Explain Verification's side document from logs as 6.1 prints them (source text without
// file:line) and as 6.18 does: headings in order, line 0 folded into the line before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verificationText } from '../../server/src/verifier/walk-text';

const LOG_618 = [
  'func#0 @0',
  '0: R1=ctx() R10=fp0',
  '; int f(struct xdp_md *ctx) @ a.bpf.c:10',
  '0: (b7) r0 = 0                        ; R0_w=0',
  ';  @ a.bpf.c:0', // the kernel's "; %s @ %s:%d" with no text
  '1: (bf) r2 = r10                      ; R2_w=fp0',
  '; return *(int *)0; @ a.bpf.c:12',
  '2: (61) r0 = *(u32 *)(r0 +0)',
  "R0 invalid mem access 'scalar'",
  'processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
].join('\n');

test('a 6.18-style log: headings with file:line (resolved), instructions under them, line 0 folded, the error last', () => {
  const t = verificationText('f', LOG_618, (f) => `/src/${f}`);
  const walk = t.slice(t.indexOf('The path'), t.indexOf('Every source line'));
  assert.match(t, /^f: rejected\n {2}processed 3 instructions \(0\.000% of the 1,000,000 limit\)/);
  assert.deepEqual(
    walk.split('\n').filter((l) => l && !l.startsWith('The path')),
    [
      '/src/a.bpf.c:10  int f(struct xdp_md *ctx)',
      '      0: r0 = 0    ; R0=0',
      '      1: r2 = r10    ; R2=fp0',
      '/src/a.bpf.c:12  return *(int *)0;',
      '      2: r0 = *(u32 *)(r0 +0)',
      "✗ R0 invalid mem access 'scalar'",
    ],
  );
  assert.doesNotMatch(t, /a\.bpf\.c:0/);
  assert.match(t.slice(t.indexOf('Every source line')), /\/src\/a\.bpf\.c:12 {2}return \*\(int \*\)0;.*REJECTED HERE/);
});

test('a 6.1-style log (text only): the source text still heads its instructions', () => {
  const t = verificationText('f', LOG_618.replace(/ @ a\.bpf\.c:\d+/g, '').replace('; \n', ''));
  assert.match(t, /\n; +return \*\(int \*\)0;\n +2: r0 = \*\(u32 \*\)\(r0 \+0\)\n✗ /);
});

test('an accepted program: its numbers, no rejected path', () => {
  const t = verificationText('g', LOG_618.replace(/\n2: .*\nR0 invalid.*/, ''));
  assert.match(t, /^g: accepted\n/);
  assert.doesNotMatch(t, /The path to the rejection/);
});
