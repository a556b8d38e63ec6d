// The workspace globs of bpfLens.objects / bpfLens.exclude, and the C text scans hovers use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { functionDefinitionLine, mapDefinitionLine, secAt, wordAt } from '../../server/src/lsp/c-text';
import { globToRegExp, PathFilter } from '../../server/src/lsp/glob';

test('globs: ** spans directories, * and ? stay in one segment, {a,b} and [..] as in VS Code', () => {
  const f = new PathFilter(['**/*.o', '**/*.ko'], ['**/node_modules/**']);
  const want: [string, boolean][] = [
    ['a.o', true],
    ['x/y/z.bpf.o', true],
    ['m.ko', true],
    ['a.c', false],
    ['a.o.d', false],
    ['node_modules/q/a.o', false],
    ['src/node_modules/a.o', false],
    ['node_modulesx/a.o', true],
  ];
  for (const [p, m] of want) assert.equal(f.matches(p), m, p);
  assert.ok(f.excluded('node_modules'), 'a directory is pruned before the walk enters it');
  assert.ok(globToRegExp('src/{a,b}/*.[ch]').test('src/b/x.h'));
  assert.ok(!globToRegExp('src/{a,b}/*.[ch]').test('src/c/x.h'));
  assert.ok(globToRegExp('build/?.o').test('build/x.o'));
  assert.ok(!globToRegExp('build/?.o').test('build/xy.o'));
  assert.ok(!globToRegExp('*.o').test('dir/a.o'));
  assert.ok(globToRegExp('a+b(1).o').test('a+b(1).o'), 'regex characters are literal');
});

test('C text: word under the cursor, SEC() with its function, map and function definition lines', () => {
  const src = [
    'struct {',
    '\t__uint(type, BPF_MAP_TYPE_HASH);',
    '} counts SEC(".maps"), other SEC(".maps");',
    'int helper(int x);',
    'SEC("kprobe/do_sys_open")',
    'int BPF_KPROBE(trace_open, int dfd)',
    '{',
    '\treturn helper(1);',
    '}',
    'int helper(int x)',
    '{ return x; }',
  ];
  assert.equal(wordAt(src, 2, 4)?.text, 'counts');
  assert.equal(wordAt(src, 2, 0), undefined);
  assert.equal(mapDefinitionLine(src, 'other'), 2);
  assert.equal(mapDefinitionLine(src, 'count'), undefined);
  const sec = secAt(src, 4, 6);
  assert.equal(sec?.section, 'kprobe/do_sys_open');
  assert.equal(sec?.func, 'trace_open', 'BPF_KPROBE(name, ...) defines name');
  assert.equal(functionDefinitionLine(src, 'helper'), 9, 'the prototype on line 3 is not the definition');
});
