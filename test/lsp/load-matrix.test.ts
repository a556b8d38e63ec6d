// Load on All Targets over a real LSP connection, without a VM: bpfLens.targets holds a real SSH
// host (sshd in a network namespace of this machine, the agent deployed there) and one nobody
// answers. bpfLens/loadMatrix loads an object on local and the host at once: per program × target
// loaded (verified instructions) or rejected on the C line the verifier refused; the dead host
// is a failed column with ssh's reason; a missing kfunc leaves every program not attempted, with
// why; __arg_ctx and the CO-RE relocations are per target;
// progress names each target's stage. Then the verifier walk of a rejected cell on that target.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { type SshHost, startSshHost } from '../ssh-host';
import { compile, LspClient, makeWorkspace } from './lsp-client';

type Cell =
  | { program: string; status: 'loaded'; verifiedInsns: number }
  | { program: string; status: 'rejected'; error: string; source?: { file: string; line: number; column: number; text: string } }
  | { program: string; status: 'not-attempted'; why: string };
interface Target {
  name: string;
  kind: string;
  answered: boolean;
  loadedAll: boolean;
  release?: string;
  error?: { code: string; message: string };
  cells: Cell[];
  argCtx?: string;
  core?: { relocations: number; problems: { access: string; status: string; message: string }[] };
  notes: string[];
  ms: number;
}
interface Matrix {
  fold?: unknown;
  path: string;
  programs: { name: string; section: string; source?: { file: string; line: number } }[];
  targets: Target[];
  ms: number;
}

const ws = makeWorkspace(['loader_reject.bpf.c', 'argctx_shared.bpf.c', 'core_target.bpf.c']);
const release = spawnSync('uname', ['-r']).stdout.toString().trim();
const lineOf = (file: string, marker: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(marker));
let host: SshHost;
let lsp: LspClient;

// A kfunc no kernel has: the load stops before the verifier, so no program is attempted.
const MISSING_KFUNC = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
extern int bpf_lens_no_such_kfunc(void) __ksym;
SEC("xdp") int xdp_plain(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp") int xdp_kfunc(struct xdp_md *ctx) { return bpf_lens_no_such_kfunc(); }
`;

before(async () => {
  writeFileSync(path.join(ws.src, 'missing_kfunc.bpf.c'), MISSING_KFUNC);
  compile(path.join(ws.src, 'missing_kfunc.bpf.c'), path.join(ws.build, 'missing_kfunc.o'));
  host = startSshHost();
  // The server's ssh reads the test host's ssh_config (never ~/.ssh).
  process.env.BPF_LENS_SSH_CONFIG = host.config;
  lsp = await LspClient.start(ws.dir, {
    targets: [
      { name: 'lab', host: 'bpflens-test' },
      { name: 'nowhere', host: `ssh://root@${host.addr}:2999` },
    ],
  });
  await lsp.request('bpfLens/objects', {});
});
after(async () => {
  await lsp?.stop();
  host?.stop();
  delete process.env.BPF_LENS_SSH_CONFIG;
  ws.cleanup();
});

let tokens = 0;
const matrix = async (object: string) => {
  const token = `m${++tokens}`;
  const t0 = performance.now();
  const r = await lsp.request<Matrix>('bpfLens/loadMatrix', { path: path.join(ws.build, object), token });
  const stages = lsp.notifications
    .filter((n) => n.method === 'bpfLens/loadMatrixProgress' && (n.params as { token: string }).token === token)
    .map((n) => n.params as { target: string; stage: string });
  return { r, stages, ms: performance.now() - t0 };
};
const column = (m: Matrix, name: string) => {
  const t = m.targets.find((x) => x.name === name);
  assert.ok(t, `no column ${name}: ${m.targets.map((x) => x.name).join(', ')}`);
  return t;
};

test('one request loads the object on local and the SSH host: the rejected program on its C line in both columns, the dead host a failed column', async (t) => {
  const { r, stages, ms } = await matrix('loader_reject.o');
  t.diagnostic(`loader_reject.o on ${r.targets.length} targets: ${(ms / 1000).toFixed(1)} s (server ${r.ms} ms)`);
  assert.deepEqual(
    r.targets.map((x) => [x.name, x.kind]),
    [
      ['local', 'local'],
      ['lab', 'ssh'],
      ['nowhere', 'ssh'],
    ],
  );
  assert.deepEqual(
    r.programs.map((p) => p.name),
    ['xdp_ok', 'xdp_bad'],
  );
  // three targets fit as columns: nothing folded (a fleet's fold: test/unit/matrix-fold)
  assert.equal(r.fold, undefined);
  const src = path.join(ws.src, 'loader_reject.bpf.c');
  // the rows know where each program's function is (a loaded cell reveals it)
  assert.equal(r.programs[0].source?.file, src);
  // (line_info's first line of the function: its first statement)
  const okAt = r.programs[0].source?.line ?? -1;
  assert.ok(okAt >= lineOf(src, 'int xdp_ok(') && okAt <= lineOf(src, 'int xdp_ok(') + 2, `xdp_ok at ${okAt}`);
  for (const name of ['local', 'lab']) {
    const c = column(r, name);
    assert.equal(c.answered, true, JSON.stringify(c.error));
    assert.equal(c.loadedAll, false, `${name}: xdp_bad was rejected`);
    assert.equal(c.release, release, name);
    assert.equal(c.cells.length, 2);
    const [ok, bad] = c.cells;
    assert.equal(ok.status, 'loaded', `${name}: ${JSON.stringify(ok)}`);
    assert.ok(ok.status === 'loaded' && ok.verifiedInsns > 0);
    assert.equal(bad.status, 'rejected', `${name}: ${JSON.stringify(bad)}`);
    assert.ok(bad.status === 'rejected');
    assert.match(bad.error, /invalid mem access 'map_value_or_null'/);
    assert.equal(bad.source?.file, src, name);
    assert.equal(bad.source?.line, lineOf(src, 'REJECTED: v may be NULL'), `${name}: the rejected C line (0-based)`);
    assert.match(bad.source.text, /return \*v \+ 1;/);
    // no __arg_ctx in this object: nothing said about it
    assert.equal(c.argCtx, undefined);
  }
  const dead = column(r, 'nowhere');
  assert.deepEqual([dead.answered, dead.loadedAll], [false, false]);
  assert.deepEqual(dead.cells, []);
  assert.ok(dead.error?.code && dead.error.message, JSON.stringify(dead.error));
  // progress: every target connecting first, then done (or failed)
  for (const name of ['local', 'lab', 'nowhere']) {
    const mine = stages.filter((s) => s.target === name).map((s) => s.stage);
    assert.equal(mine[0], 'connecting', `${name}: ${mine.join(' ')}`);
    assert.equal(mine.at(-1), name === 'nowhere' ? 'failed' : 'done', `${name}: ${mine.join(' ')}`);
    if (name !== 'nowhere') assert.ok(mine.includes('loading'), `${name}: ${mine.join(' ')}`);
  }
});

test('per target: __arg_ctx native on this kernel (local and the host share it), CO-RE relocations checked on each kernel', async () => {
  const a = (await matrix('argctx_shared.o')).r;
  for (const name of ['local', 'lab']) {
    const c = column(a, name);
    assert.equal(c.argCtx, 'native', name);
    assert.equal(c.loadedAll, true, name);
    assert.ok(
      c.cells.every((x) => x.status === 'loaded'),
      `${name}: ${JSON.stringify(c.cells)}`,
    );
  }
  const k = (await matrix('core_target.o')).r;
  for (const name of ['local', 'lab']) {
    const c = column(k, name);
    // three relocations; this kernel (6.6+, 6.8+) has every field the program reads
    assert.equal(c.core?.relocations, 3, `${name}: ${JSON.stringify(c.core)} ${c.notes.join('; ')}`);
    assert.deepEqual(c.core?.problems, []);
    assert.equal(c.cells[0].status, 'loaded', JSON.stringify(c.cells[0]));
  }
});

test('a kfunc the kernels lack: every program not attempted, and why, on each target', async () => {
  const r = (await matrix('missing_kfunc.o')).r;
  for (const name of ['local', 'lab']) {
    const c = column(r, name);
    // answered, yet not everything loaded: the two words the CLI's "ok" once mixed
    assert.equal(c.answered, true, JSON.stringify(c.error));
    assert.equal(c.loadedAll, false, name);
    assert.deepEqual(
      c.cells.map((x) => [x.program, x.status]),
      [
        ['xdp_plain', 'not-attempted'],
        ['xdp_kfunc', 'not-attempted'],
      ],
    );
    for (const x of c.cells) assert.match(x.status === 'not-attempted' ? x.why : '', /bpf_lens_no_such_kfunc/, name);
  }
});

test('the verifier walk of a rejected cell is that target’s: Explain Verification on lab, the walk document for lab', async () => {
  const obj = path.join(ws.build, 'loader_reject.o');
  const e = await lsp.request<{ ok: boolean; programs: { name: string; rejected: boolean }[]; message?: string }>(
    'bpfLens/explainVerification',
    { path: obj, target: 'lab' },
  );
  assert.equal(e.ok, true, e.message);
  assert.ok(e.programs.some((p) => p.name === 'xdp_bad' && p.rejected));
  const walk = await lsp.request<{ text: string }>('bpfLens/document', { path: obj, kind: 'verifier', program: 'xdp_bad', target: 'lab' });
  assert.match(walk.text, /^On target lab:/);
  assert.match(walk.text, /map_value_or_null/);
  assert.match(walk.text, /loader_reject\.bpf\.c:\d+/);
  // not explained on local yet: that walk says so rather than showing lab's
  const none = await lsp.request<{ text: string }>('bpfLens/document', {
    path: obj,
    kind: 'verifier',
    program: 'xdp_bad',
    target: 'local',
  });
  assert.match(none.text, /^No explanation of .* on local yet/);
});
