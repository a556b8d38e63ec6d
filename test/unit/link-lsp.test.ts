// The editor's side of linking, over a real language-server connection: each object's
// externs say which workspace object defines them (or that none does), and
// bpfLens/linkObjects links files into one object or answers with every problem.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { openObject } from '../../server/src/object';
import { ROOT, fixture } from '../helpers';
import { pathToFileURL } from 'node:url';
import { LspClient } from '../lsp/lsp-client';

interface Extern {
  name: string;
  kind: string;
  weak: boolean;
  resolvedIn?: string;
}
interface Summary {
  path: string;
  name: string;
  externs: Extern[];
  defines?: { name: string; weak: boolean }[];
}

const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-link-lsp-'));
const names = ['link_a.o', 'link_b.o', 'link_c.o', 'link_err_unresolved.o', 'link_err_strong.o'];
let lsp: LspClient;
before(async () => {
  for (const n of names) copyFileSync(fixture(n), path.join(dir, n));
  lsp = await LspClient.start(dir);
});
after(async () => {
  await lsp.stop();
  rmSync(dir, { recursive: true, force: true });
});

const at = (n: string) => path.join(dir, n);

test("each object's externs say where they resolve in the workspace (strong before weak), kernel ones stay the kernel's", async () => {
  const objs = (await lsp.request<{ objects: Summary[] }>('bpfLens/objects', {})).objects;
  const ext = (n: string) => Object.fromEntries(objs.find((o) => o.name === n)!.externs.map((e) => [e.name, [e.kind, e.resolvedIn]]));
  assert.deepEqual(ext('link_a.o'), { shared_counter: ['variable', at('link_b.o')], lib_add: ['function', at('link_b.o')] });
  assert.deepEqual(ext('link_b.o'), { counts: ['map', at('link_a.o')] });
  assert.deepEqual(ext('link_c.o'), {
    lib_add: ['function', at('link_b.o')],
    LINUX_KERNEL_VERSION: ['kconfig', undefined],
    shared_counter: ['variable', at('link_b.o')],
  });
  assert.deepEqual(ext('link_err_unresolved.o'), { missing_fn: ['function', undefined] });
  const a = objs.find((o) => o.name === 'link_a.o')!;
  assert.deepEqual(
    a.defines?.find((d) => d.name === 'policy'),
    { name: 'policy', weak: true },
  );
  // one object asked alone still resolves against the others
  const one = (await lsp.request<{ objects: Summary[] }>('bpfLens/objects', { path: at('link_b.o') })).objects;
  assert.deepEqual(
    one[0].externs.map((e) => e.resolvedIn),
    [at('link_a.o')],
  );
});

test('bpfLens/linkObjects writes the linked object, or lists every problem', async () => {
  const out = path.join(dir, 'linked.o');
  const ok = await lsp.request<{ ok: boolean; lines: string[]; output?: string }>('bpfLens/linkObjects', {
    inputs: ['link_a.o', 'link_b.o', 'link_c.o'].map(at),
    output: out,
  });
  assert.equal(ok.ok, true, ok.lines.join('\n'));
  assert.match(ok.lines[0], /3 objects, 8 sections/);
  assert.ok(
    ok.lines.some((l) => /^policy → .*link_b\.o \(\.text\); overrides __weak in .*link_a\.o$/.test(l)),
    ok.lines.join('\n'),
  );
  assert.deepEqual(
    openObject(new Uint8Array(readFileSync(out)), out).programs.map((p) => p.name),
    ['xdp_a', 'xdp_b', 'tc_c'],
  );
  const bad = path.join(dir, 'bad.o');
  const r = await lsp.request<{ ok: boolean; lines: string[] }>('bpfLens/linkObjects', {
    inputs: ['link_a.o', 'link_b.o', 'link_err_strong.o', 'link_err_unresolved.o'].map(at),
    output: bad,
  });
  assert.equal(r.ok, false);
  assert.equal(r.lines.length, 2, r.lines.join('\n'));
  assert.match(r.lines.join('\n'), /'lib_add' is defined \(strong, not __weak\) in more than one object/);
  assert.match(r.lines.join('\n'), /unresolved function 'missing_fn'/);
  assert.equal(existsSync(bad), false);
  const junk = await lsp.request<{ ok: boolean; lines: string[] }>('bpfLens/linkObjects', {
    inputs: [fixture('link_a.bpf.c'.replace('.bpf.c', '.o')), __filename],
    output: bad,
  });
  assert.equal(junk.ok, false);
  assert.match(junk.lines[0], /not an ELF file/);
});

test('an extern another workspace object defines is a note to link first, on its declaration (not an error at line 1)', async () => {
  const uri = (n: string) => pathToFileURL(path.join(ROOT, 'test', 'fixtures', n)).href;
  const diags = (n: string) => (lsp.diagnostics.get(uri(n)) ?? []).filter((d) => d.code === 'link-extern' || /extern '/.test(d.message));
  const a = await lsp.until('link_a.bpf.c diagnostics', () => (diags('link_a.bpf.c').length ? diags('link_a.bpf.c') : undefined));
  const src = readFileSync(path.join(ROOT, 'test', 'fixtures', 'link_a.bpf.c'), 'utf8').split('\n');
  assert.deepEqual(
    a.map((d) => [d.code, d.severity, d.range.start.line]),
    [['link-extern', 3, src.findIndex((l) => /^extern int shared_counter;/.test(l))]],
  );
  assert.match(a[0].message, /link_a\.o: extern 'shared_counter' is defined in link_b\.o: link the objects/);
  const c = await lsp.until('link_c.bpf.c diagnostics', () => (diags('link_c.bpf.c').length ? diags('link_c.bpf.c') : undefined));
  assert.deepEqual(
    c.map((d) => [d.code, d.severity]),
    [['link-extern', 3]],
  );
  assert.match(c[0].message, /extern 'shared_counter' is defined in link_b\.o/);
});
