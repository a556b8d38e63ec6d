// Kernel modules in the language server: a real Debian 6.1 module (distilled with
// `bpf-lens distill`, and as shipped without .BTF.base) against this machine's
// /sys/kernel/btf/vmlinux — rows for the tree, one diagnostic per type that would not
// relocate, the diff document, and the "no .BTF.base" answer; checked against bpftool's
// dump of the target.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { debianModules, VMLINUX } from '../btf-corpus';
import { CLI, run } from '../helpers';
import { LspClient } from './lsp-client';

interface Row {
  id: number;
  kind: string;
  name: string;
  size: number;
  status: string;
  targetId?: number;
  targetSize?: number;
  reason?: string;
  usedBy: string[];
}
interface Diff {
  path: string;
  target: string;
  noBase?: boolean;
  message?: string;
  relocates?: boolean;
  distilledFrom?: string;
  rows: Row[];
  ms: number;
}

const deb = debianModules();
// the largest of the sampled modules: the most distilled types
const shipped = deb.modules.reduce((a, b) => (statSync(b).size > statSync(a).size ? b : a));
const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-ko-'));
const distilled = path.join(dir, 'distilled.ko');
const plain = path.join(dir, 'plain.ko');
let lsp: LspClient;

before(async () => {
  run(process.execPath, [CLI, 'distill', shipped, '--base', deb.base, '-o', distilled]);
  copyFileSync(shipped, plain);
  lsp = await LspClient.start(dir);
});
after(async () => {
  await lsp.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** bpftool's view of the target: `KIND name` and `name` → ids, and id → `KIND 'name' size`. */
function bpftoolTypes(): { byName: Map<string, number[]>; byId: Map<number, { kind: string; name: string; size?: number }> } {
  const byName = new Map<string, number[]>();
  const byId = new Map<number, { kind: string; name: string; size?: number }>();
  for (const l of run('bpftool', ['btf', 'dump', 'file', VMLINUX]).split('\n')) {
    const m = /^\[(\d+)\] (\w+) '([^']*)'(?:.*? size=(\d+))?/.exec(l);
    if (!m) continue;
    const id = Number(m[1]);
    byId.set(id, { kind: m[2], name: m[3], size: m[4] === undefined ? undefined : Number(m[4]) });
    const k = `${m[2]} ${m[3]}`;
    for (const key of [k, m[3]]) {
      const ids = byName.get(key);
      if (ids) ids.push(id);
      else byName.set(key, [id]);
    }
  }
  return { byName, byId };
}

test('a distilled module: the summary document publishes one diagnostic per type that would not relocate onto this kernel', async () => {
  const objs = (await lsp.request<{ objects: { path: string; module?: { distilledBase: boolean } }[] }>('bpfLens/objects', {})).objects;
  assert.deepEqual(objs.find((o) => o.path === distilled)?.module, { distilledBase: true });
  assert.deepEqual(objs.find((o) => o.path === plain)?.module, { distilledBase: false });

  const t0 = performance.now();
  await lsp.request('bpfLens/document', { path: distilled, kind: 'summary' });
  console.log(`summary + first base diff (parses and indexes ${VMLINUX}): ${(performance.now() - t0).toFixed(0)} ms`);
  const uri = pathToFileURL(distilled).href;
  const diags = await lsp.until('module diagnostics', () => lsp.diagnostics.get(uri));
  const diff = await lsp.request<Diff>('bpfLens/baseDiff', { path: distilled });
  console.log(`${path.basename(shipped)}: ${diff.rows.length} distilled types, base diff ${diff.ms.toFixed(1)} ms (target index cached)`);
  // Without a target file: the selected target's (local), named by its kernel release.
  assert.equal(diff.target, `local (${release()})`);
  assert.equal(diff.distilledFrom, '.BTF.base');
  const failing = diff.rows.filter((r) => r.status !== 'match' && r.status !== 'size-not-checked');
  assert.ok(failing.length > 0, 'a 6.1 module relocates onto this kernel only if nothing it uses changed');
  assert.equal(diff.relocates, false);
  assert.equal(diags.length, failing.length);
  for (const r of failing)
    assert.ok(
      diags.some((d) => d.code === r.status && d.message.includes(`${r.kind.toLowerCase()} ${r.name}`)),
      `${r.kind} ${r.name}`,
    );

  // what each row says about the target, against bpftool's dump of it
  const { byName, byId } = bpftoolTypes();
  for (const r of diff.rows) {
    const same = byName.get(`${r.kind} ${r.name}`) ?? [];
    if (r.status === 'match' || r.status === 'size-not-checked') {
      const t = byId.get(r.targetId!);
      assert.equal(t?.name, r.name, `${r.kind} ${r.name} → [${r.targetId}]`);
      if (t?.size !== undefined) assert.equal(t.size, r.targetSize);
      if (r.status === 'match' && r.kind !== 'FWD' && t?.size !== undefined && r.size) assert.equal(t.size, r.size);
    } else if (r.status === 'missing') {
      assert.deepEqual(same, [], `${r.kind} ${r.name} is in the target`);
    } else if (r.status === 'size-mismatch') {
      // the name is there, but no type of that kind has the size (or only a FWD of it)
      assert.ok((byName.get(r.name) ?? []).length > 0 && same.every((id) => byId.get(id)!.size !== r.size), `${r.kind} ${r.name}`);
    }
  }
});

test('the base diff document lists every distilled type and the verdict', async () => {
  const diff = await lsp.request<Diff>('bpfLens/baseDiff', { path: distilled });
  const doc = await lsp.request<{ text: string; languageId: string }>('bpfLens/document', { path: distilled, kind: 'baseDiff' });
  assert.match(doc.text, /does not relocate/);
  for (const r of diff.rows) if (r.name) assert.ok(doc.text.includes(r.name), r.name);
});

test('a module without .BTF.base: says so; with its original base named, the same diff as the distilled copy', async () => {
  const none = await lsp.request<Diff>('bpfLens/baseDiff', { path: plain });
  assert.equal(none.noBase, true);
  assert.match(none.message!, /no \.BTF\.base/);
  assert.deepEqual(none.rows, []);
  const t0 = performance.now();
  const onOrig = await lsp.request<Diff>('bpfLens/baseDiff', { path: plain, origBase: deb.base });
  console.log(`distill on the original base + diff: ${(performance.now() - t0).toFixed(0)} ms (first use parses the 6.1 vmlinux)`);
  assert.equal(onOrig.distilledFrom, deb.base);
  const fromFile = await lsp.request<Diff>('bpfLens/baseDiff', { path: distilled });
  const key = (d: Diff) => d.rows.map((r) => `${r.status} ${r.kind} ${r.name} ${r.size}`).sort();
  assert.deepEqual(key(onOrig), key(fromFile));
});

test('bpfLens/distill ("Distill Base BTF…") writes what bpf-lens distill writes; refuses a module that has .BTF.base and a missing base file', async () => {
  const out = path.join(dir, 'from-editor.ko');
  const r = await lsp.request<{ ok: boolean; lines: string[]; output?: string }>('bpfLens/distill', {
    path: plain,
    base: deb.base,
    output: out,
  });
  assert.ok(r.ok, r.lines.join('\n'));
  assert.match(r.lines[0], /from-editor\.ko: \.BTF\.base \d+ types; \.BTF \d+ types/);
  assert.deepEqual(readFileSync(out), readFileSync(distilled));
  const again = await lsp.request<{ ok: boolean; lines: string[] }>('bpfLens/distill', {
    path: distilled,
    base: deb.base,
    output: path.join(dir, 'twice.ko'),
  });
  assert.deepEqual([again.ok, again.lines[0]], [false, `${distilled} already has a .BTF.base`]);
  const noBase = await lsp.request<{ ok: boolean; lines: string[] }>('bpfLens/distill', {
    path: plain,
    base: path.join(dir, 'nope.btf'),
    output: path.join(dir, 'x.ko'),
  });
  assert.equal(noBase.ok, false);
  assert.match(noBase.lines[0], /ENOENT.*nope\.btf/);
});
