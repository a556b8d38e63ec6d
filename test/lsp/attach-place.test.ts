// The editor's place picker as the language server answers it (bpfLens/attachPlace over a
// real LSP connection): for each program of a load, only what it needs — an interface listed
// from the target (XDP then asks a mode, tc a direction unless SEC() fixes it), a cgroup from
// the target's cgroup v2 mount, `binary:function` for a uprobe, nothing for what attaches by
// SEC() — and a place picked from the listing attaches. The same listing through the agent
// protocol (AgentTarget.places) when the agent bundle is built.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fixture, ROOT } from '../helpers';
import { cgroup2Root, tempCgroup, vethPair } from '../attach-env';
import { LspClient, makeWorkspace } from './lsp-client';

interface PlaceResult {
  need?: { kind: string; prog?: string; direction?: string; example?: string; what?: string };
  interfaces: { name: string; ifindex: number; state: string }[];
  cgroupRoot?: string;
  cgroups: string[];
  error?: string;
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

const ifindexOf = (name: string) => Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'latin1'));

test("attachPlace asks each program only for what it needs, listing the target's interfaces and cgroups", async () => {
  const veth = vethPair();
  const cg = tempCgroup();
  try {
    const r = await lsp.request<{ ok: boolean; loaded: { handle: number } }>('bpfLens/loadObject', { path: fixture('attach_counters.o') });
    assert.ok(r.ok);
    const handle = r.loaded.handle;
    const place = (program: string) => lsp.request<PlaceResult>('bpfLens/attachPlace', { handle, program });

    const xdp = await place('xdp_drop_ping');
    assert.deepEqual(xdp.need, { kind: 'interface', prog: 'xdp' });
    assert.deepEqual(xdp.cgroups, []);
    const byName = new Map(xdp.interfaces.map((i) => [i.name, i]));
    assert.deepEqual(byName.get('lo'), { name: 'lo', ifindex: 1, state: 'unknown' });
    assert.deepEqual(byName.get(veth.host), { name: veth.host, ifindex: ifindexOf(veth.host), state: 'up' });
    assert.ok(!byName.has(veth.peer), 'the peer is in the other namespace');

    // tcx/ingress: the direction is the section's, not asked
    assert.deepEqual((await place('tcx_count')).need, { kind: 'interface', prog: 'tc', direction: 'ingress' });

    const cgp = await place('cg_egress');
    assert.deepEqual(cgp.need, { kind: 'cgroup' });
    assert.equal(cgp.cgroupRoot, cgroup2Root());
    assert.equal(cgp.cgroups[0], cgroup2Root());
    assert.ok(cgp.cgroups.includes(cg.path), `${cg.path} listed`);
    assert.deepEqual(cgp.interfaces, []);

    assert.deepEqual((await place('up_work')).need, { kind: 'binary', example: '/usr/bin/bash:readline' });
    assert.deepEqual((await place('sample')).need, { kind: 'text', what: 'an event and frequency', example: 'cpu-clock@99' });
    // attached by SEC(): nothing to ask
    for (const p of ['tp_getppid', 'rawtp_exec', 'tasks']) assert.deepEqual(await place(p), { interfaces: [], cgroups: [] }, p);
    assert.match((await place('nope')).error!, /no program 'nope'/);
    assert.match((await lsp.request<PlaceResult>('bpfLens/attachPlace', { handle: 999, program: 'x' })).error!, /nothing is loaded/);

    // what the picker builds from the listing attaches
    const picked = xdp.interfaces.find((i) => i.name === veth.host)!;
    const a = await lsp.request<{ ok: boolean; error?: { message: string } }>('bpfLens/attach', {
      handle,
      programs: ['xdp_drop_ping', 'cg_egress'],
      places: { xdp_drop_ping: `${picked.name}:generic`, cg_egress: cgp.cgroups.find((c) => c === cg.path) },
    });
    assert.ok(a.ok, a.error?.message);
    assert.equal(veth.ping(2), 0, 'XDP on the picked interface drops pings');
    await lsp.request('bpfLens/unloadObject', { handle });
    assert.equal(veth.ping(2), 2);
  } finally {
    cg.done();
    veth.done();
  }
});

test(
  'the agent protocol lists the same places (AgentTarget.places, local agent)',
  { skip: !existsSync(path.join(ROOT, 'dist', 'agent.js')) && 'no agent bundle (npm run build)' },
  async () => {
    const { connectTarget } = await import('../../server/src/remote');
    const { AgentTarget } = await import('../../server/src/targets/agent');
    const { LocalTarget } = await import('../../server/src/targets/local');
    const t = new AgentTarget(await connectTarget('local', { root: ROOT }));
    try {
      const remote = await t.places();
      const local = await new LocalTarget().places();
      assert.deepEqual(remote.interfaces, local.interfaces);
      assert.equal(remote.cgroupRoot, cgroup2Root());
      assert.equal(remote.cgroups[0], cgroup2Root());
    } finally {
      await t.close();
    }
  },
);
