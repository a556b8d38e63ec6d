// Which object a bpf_printk line belongs to, by its format strings: each conversion fits only what
// it prints (digits for %d), the format fixing the most characters of the line wins, so one with
// no text of its own ("%s") takes only the lines no format with text fits; objects tied share a
// line; a line no one's format fits goes to all.
// The hub's pipe is a scripted stand-in here (the rule is pure); test/lsp/events.test.ts
// checks it on the kernel with two objects observed at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPattern, literalChars, matchPrintk, printkClaim, type PrintkFormat } from '../../server/src/observe/printk-match';
import { type TracePipeKernel, TracePipeHub } from '../../server/src/observe/trace-pipe';

const fmt = (format: string, program: string): PrintkFormat => ({
  format,
  programs: [program],
  pattern: formatPattern(format),
  literal: literalChars(format),
});

test('literal characters: all but the conversions, %% counting as one', () => {
  assert.equal(literalChars('lens pair one pid=%d'), 18);
  assert.equal(literalChars('%s'), 0);
  assert.equal(literalChars('%s%d%-10llu'), 0);
  assert.equal(literalChars('100%% done: %d'), 11);
});

test('a conversion fits only what it prints: integers digits (padding too), strings and pointers anything', () => {
  const fits = (format: string, text: string) => formatPattern(format).test(text);
  assert.ok(fits('%d', '-12') && fits('%i', '7') && fits('%5d', '   42') && fits('%-5d|', '42   |'));
  assert.ok(!fits('%d', 'hello'), 'a line of words is not what "%d" prints');
  assert.ok(fits('%llu', '18446744073709551615') && !fits('%u', '-1'));
  assert.ok(fits('%x', 'ff') && fits('%#x', '0xff') && !fits('%x', 'zz') && fits('%X', 'FF') && !fits('%X', 'ff'));
  assert.ok(fits('%c', 'a') && !fits('%c', 'ab'));
  assert.ok(fits('%s', 'anything at all') && fits('%pI4', '10.0.0.1') && fits('%pks', 'kernel string'));
  assert.ok(fits('took %dms', 'took 12ms') && !fits('took %dms', 'took 12 s'), 'letters after %d are text, not part of it');
  assert.equal(literalChars('took %dms'), 7);
  assert.equal(literalChars('%pI4:%d'), 1);
});

test('the best fit wins: the most characters fixed, then the longest format; none fits: undefined, claim -1', () => {
  const formats = [fmt('%s', 'bare'), fmt('pid=%d', 'short'), fmt('lens pid=%d', 'long'), fmt('%s pid=%d', 'wide')];
  assert.equal(matchPrintk(formats, 'lens pid=7')?.programs[0], 'long');
  assert.equal(matchPrintk(formats, 'other pid=7')?.programs[0], 'wide', 'ties on "pid=" (4): the longer format');
  assert.equal(matchPrintk(formats, 'anything')?.programs[0], 'bare');
  assert.equal(printkClaim(formats, 'anything'), 0);
  assert.equal(printkClaim([fmt('lens %d', 'x')], 'nope'), -1);
  // a format of conversions alone claims only what they can print: another tool's words are not "%d"'s
  assert.equal(printkClaim([fmt('%d', 'count')], 'another tool says hi'), -1);
  assert.equal(printkClaim([fmt('%d', 'count')], '42'), 0);
  // two formats of conversions alone both fit: the typed one says more than "%s"
  assert.equal(matchPrintk([fmt('%s', 'bare'), fmt('%d', 'count')], '42')?.programs[0], 'count');
  assert.equal(matchPrintk([fmt('%d', 'count'), fmt('%s', 'bare')], '42')?.programs[0], 'count');
});

test('the hub hands each line to the strongest claim (ties share it), an unclaimed line to everyone', () => {
  const line = (text: string) => `            node-42    [001] ..... 12.5: bpf_trace_printk: ${text}`;
  const lines = ['lens pair one pid=42', 'LENSPAIR', 'lens pair one pid=43', 'bare fits this'].map(line);
  let chunks = ['', `${lines.join('\n')}\n`, '', `${line('no format fits')}\n`];
  const k: TracePipeKernel = {
    tracePipeOpen: () => 99,
    readNonBlocking: (_fd, buf) => Buffer.from(chunks.shift() ?? '').copy(buf),
    closeFd: () => (chunks = []),
    taskComm: () => undefined,
  };
  const hub = new TracePipeHub(k);
  const got = new Map<string, string[]>();
  const join = (name: string, formats: PrintkFormat[]) => {
    got.set(name, []);
    return hub.subscribe({
      onLine: (l) => got.get(name)!.push(l.replace(/^.*bpf_trace_printk: /, '')),
      claim: (t) => printkClaim(formats, t),
    });
  };
  join('one', [fmt('lens pair one pid=%d', 'pair_one')]);
  join('twin', [fmt('lens pair one pid=%d', 'pair_one')]);
  const leave = join('bare', [fmt('%s', 'pair_bare')]);
  join('none', []);
  hub.poll();
  assert.deepEqual(Object.fromEntries(got), {
    one: ['lens pair one pid=42', 'lens pair one pid=43'],
    twin: ['lens pair one pid=42', 'lens pair one pid=43'],
    bare: ['LENSPAIR', 'bare fits this'],
    none: [],
  });
  // without "%s" in the room, a line no format fits goes to every observer
  leave();
  hub.poll();
  assert.deepEqual(
    ['one', 'twin', 'bare', 'none'].map((n) => got.get(n)!.at(-1)),
    ['no format fits', 'no format fits', 'bare fits this', 'no format fits'],
  );
});
