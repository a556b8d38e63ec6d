// Attach, Detach and Test Run… as the editor asks for them (bpfLens/attach, /detach, /testRun
// over a real LSP connection) on a load the server holds in this machine's kernel: programs
// libbpf attaches by SEC() go in, the tracepoint counts, the listing shows link ids, a program
// that needs a place says so and attaches once given one; test runs give the verdict by name
// and the byte diff; detach and unload leave no link.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fixture, run } from '../helpers';
import { mapU64, SLOT } from '../run-helpers';
import { vethPair } from '../attach-env';
import { LspClient, makeWorkspace } from './lsp-client';

interface Attachment {
  program: string;
  kind: string;
  target: string;
  mechanism: string;
  linkIds: number[];
}
interface Loaded {
  handle: number;
  programs: { name: string; id: number }[];
  maps: { name: string; id: number }[];
  attached: Attachment[];
}
interface AttachResult {
  ok: boolean;
  attached: Attachment[];
  skipped: { program: string; reason: string }[];
  error?: { message: string; program?: string; needsPlace?: boolean };
}

const ws = makeWorkspace([]);
let lsp: LspClient;
before(async () => {
  lsp = await LspClient.start(ws.dir);
});
after(async () => {
  await lsp.stop();
  ws.cleanup();
});

const liveLinks = () => new Set((JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[]).map((l) => l.id));

test('attach / detach / test run from the editor: counters move while attached, link ids listed, verdicts named, nothing left', async () => {
  const r = await lsp.request<{ ok: boolean; loaded: Loaded }>('bpfLens/loadObject', { path: fixture('attach_counters.o') });
  assert.ok(r.ok);
  const handle = r.loaded.handle;
  assert.deepEqual(r.loaded.attached, []);
  const counts = r.loaded.maps.find((m) => m.name === 'counts')!.id;

  const a = await lsp.request<AttachResult>('bpfLens/attach', { handle });
  assert.ok(a.ok, a.error?.message);
  assert.deepEqual(
    a.attached.map((x) => x.program),
    ['tp_getppid', 'rawtp_exec', 'tasks'],
  );
  const listed = (await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects')).loaded[0].attached;
  assert.deepEqual(listed, a.attached, 'the tree reads what is attached, with link ids');
  const live = liveLinks();
  assert.ok(a.attached.every((x) => x.linkIds.every((id) => live.has(id))));
  const tp = mapU64(counts, SLOT.TP);
  spawnSync('python3', ['-c', 'import os\nfor i in range(5): os.getppid()']);
  assert.ok(mapU64(counts, SLOT.TP) >= tp + 5n);

  // XDP needs an interface: the answer says so, then the place given attaches it
  const veth = vethPair();
  try {
    const need = await lsp.request<AttachResult>('bpfLens/attach', { handle, programs: ['xdp_drop_ping'] });
    assert.deepEqual([need.ok, need.error?.program, need.error?.needsPlace], [false, 'xdp_drop_ping', true]);
    assert.match(need.error!.message, /give an interface \(--attach xdp_drop_ping=eth0\)/);
    const x = await lsp.request<AttachResult>('bpfLens/attach', {
      handle,
      programs: ['xdp_drop_ping'],
      places: { xdp_drop_ping: `${veth.host}:generic` },
    });
    assert.ok(x.ok, x.error?.message);
    assert.equal(veth.ping(2), 0, 'attached XDP drops pings');
    const d = await lsp.request<{ detached: Attachment[]; errors: string[] }>('bpfLens/detach', { handle, programs: ['xdp_drop_ping'] });
    assert.deepEqual(
      d.detached.map((y) => y.program),
      ['xdp_drop_ping'],
    );
    assert.equal(veth.ping(2), 2, 'detached: pings pass');
  } finally {
    veth.done();
  }

  // Test Run…: the same program on packets from a spec, verdict by name, the output diff
  type Run = { ok: boolean; retval: number; retvalName: string | null; lines: string[]; error?: string };
  const drop = await lsp.request<Run>('bpfLens/testRun', { handle, program: 'xdp_drop_ping', packet: 'eth/ipv4/icmp' });
  assert.deepEqual([drop.ok, drop.retval, drop.retvalName], [true, 1, 'XDP_DROP'], drop.error);
  assert.match(drop.lines[0], /^retval 1 \(XDP_DROP\)$/);
  const pass = await lsp.request<Run>('bpfLens/testRun', { handle, program: 'xdp_drop_ping', packet: 'eth/ipv4/udp(dport=53)', repeat: 3 });
  assert.deepEqual([pass.retval, pass.retvalName], [2, 'XDP_PASS']);
  assert.match(pass.lines.join('\n'), /\(3 runs\)[\s\S]*same as the input/);
  const bad = await lsp.request<Run>('bpfLens/testRun', { handle, program: 'xdp_drop_ping', packet: 'eth/ipv9' });
  assert.equal(bad.ok, false);
  assert.match(bad.error!, /ipv9/);

  const all = await lsp.request<{ detached: Attachment[]; errors: string[] }>('bpfLens/detach', { handle });
  assert.deepEqual(
    all.detached.map((y) => y.program),
    ['tasks', 'rawtp_exec', 'tp_getppid'],
  );
  const stopped = mapU64(counts, SLOT.TP);
  spawnSync('python3', ['-c', 'import os\nfor i in range(5): os.getppid()']);
  assert.equal(mapU64(counts, SLOT.TP), stopped);
  assert.deepEqual((await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects')).loaded[0].attached, []);
  // attached again, then unloaded: the load takes its attachments with it
  const again = await lsp.request<AttachResult>('bpfLens/attach', { handle, programs: ['tp_getppid'] });
  assert.ok(again.ok);
  await lsp.request('bpfLens/unloadObject', { handle });
  await new Promise((res) => setTimeout(res, 300));
  const after = liveLinks();
  assert.ok(!again.attached[0].linkIds.some((id) => after.has(id)), 'unload detached it');
});
