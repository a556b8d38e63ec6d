// Attach, detach and run through the one target interface, on the agent: the local agent (what
// `--target local` without in-process loading starts) driven as the editor drives it, and
// `bpf-lens run --target` through the SSH test host (sshd in a netns, this kernel). Effects are
// counters of attach_counters.o moving, read by bpftool; nothing is left after detach, after an
// attach that fails half-way, or when the client goes away without detaching.
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { after, test } from 'node:test';
import { connectTarget } from '../../server/src/remote';
import { AgentTarget } from '../../server/src/targets/agent';
import { AttachFailure } from '../../server/src/targets/target';
import { fixture, ROOT, run } from '../helpers';
import { linkIdsOf, mapU64, SLOT, startRun } from '../run-helpers';
import { startSshHost, type SshHost } from '../ssh-host';

const liveLinks = (ids: readonly number[]) =>
  (JSON.parse(run('bpftool', ['-j', 'link', 'list'])) as { id: number }[]).filter((l) => ids.includes(l.id)).map((l) => l.id);
const getppid = (n: number) => spawnSync('python3', ['-c', `import os\nfor i in range(${n}): os.getppid()`]);

/** Links are freed by the kernel a moment after their last FD closes. */
async function gone(ids: readonly number[]): Promise<number[]> {
  let left = liveLinks(ids);
  for (let i = 0; i < 50 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = liveLinks(ids);
  }
  return left;
}

let ssh: SshHost | undefined;
after(() => ssh?.stop());

test('through the local agent: attach as libbpf would, the tracepoint counts, detach one program, unload detaches the rest', async () => {
  const t = new AgentTarget(await connectTarget('local', { root: ROOT }));
  try {
    const r = await t.load({ name: 'attach_counters.o', object: readFileSync(fixture('attach_counters.o')) });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const counts = r.loaded.maps.find((m) => m.name === 'counts')!.id;
    const streamed: string[] = [];
    const at = await t.attach(r.loaded.handle, {}, (a) => streamed.push(a.program));
    assert.deepEqual(
      at.attached.map((a) => `${a.program} ${a.kind} ${a.target}`),
      ['tp_getppid tracepoint syscalls:sys_enter_getppid', 'rawtp_exec raw_tp sched_process_exec', 'tasks iter task'],
    );
    assert.deepEqual(streamed, ['tp_getppid', 'rawtp_exec', 'tasks'], 'each attachment was announced as it was made');
    assert.match(at.iterOutput[0].output, / node$/m, 'the iterator lists the agent');
    assert.ok(at.skipped.some((s) => s.program === 'xdp_drop_ping' && /give an interface/.test(s.reason)));
    const ids = at.attached.flatMap((a) => a.linkIds);
    assert.deepEqual(liveLinks(ids).sort(), [...ids].sort(), 'every reported link id is live');
    // the editor's tree reads this
    const listed = (await t.list())[0].attached!;
    assert.deepEqual(
      listed.map((a) => a.linkIds),
      at.attached.map((a) => a.linkIds),
    );

    const before = mapU64(counts, SLOT.TP);
    getppid(5);
    assert.ok(mapU64(counts, SLOT.TP) >= before + 5n, 'the tracepoint program counts getppid calls');

    // a program asked for by name that needs a place, one already attached, one unknown: refused, nothing changes
    await assert.rejects(t.attach(r.loaded.handle, { programs: ['xdp_drop_ping'] }), /give an interface/);
    await assert.rejects(t.attach(r.loaded.handle, { programs: ['tp_getppid'] }), /attached already/);
    await assert.rejects(
      t.attach(r.loaded.handle, { programs: ['nosuch'] }),
      (e: unknown) => e instanceof AttachFailure && e.program === 'nosuch',
    );

    const d = await t.detach(r.loaded.handle, ['tp_getppid']);
    assert.deepEqual(
      d.detached.map((a) => a.program),
      ['tp_getppid'],
    );
    assert.deepEqual(await gone(at.attached[0].linkIds), [], 'its link is gone');
    const stopped = mapU64(counts, SLOT.TP);
    getppid(5);
    assert.equal(mapU64(counts, SLOT.TP), stopped, 'detached: the counter stands still');
    assert.deepEqual(
      (await t.list())[0].attached!.map((a) => a.program),
      ['rawtp_exec', 'tasks'],
    );
    // attach it again by name, then unload: every attachment goes with the load
    const again = await t.attach(r.loaded.handle, { programs: ['tp_getppid'] });
    getppid(3);
    assert.ok(mapU64(counts, SLOT.TP) >= stopped + 3n, 'attached again, it counts again');
    await t.unload(r.loaded.handle);
    assert.deepEqual(await gone([...ids, ...again.attached.flatMap((a) => a.linkIds)]), []);
  } finally {
    await t.close();
  }
});

test('through the local agent: a failing attach names the program and leaves nothing; a client that goes away takes its attachments with it', async () => {
  const client = await connectTarget('local', { root: ROOT });
  const t = new AgentTarget(client);
  const r = await t.load({ name: 'attach_counters.o', object: readFileSync(fixture('attach_counters.o')) });
  assert.ok(r.ok);
  const streamed: number[] = [];
  await assert.rejects(
    t.attach(r.loaded.handle, { places: { xdp_drop_ping: 'lens_nosuch0' } }, (a) => streamed.push(...a.linkIds)),
    (e: unknown) => {
      assert.ok(e instanceof AttachFailure, String(e));
      assert.equal(e.program, 'xdp_drop_ping');
      assert.match(e.message, /no such network interface.*nothing was left attached/);
      return true;
    },
  );
  assert.ok(streamed.length >= 2, 'the tracepoints were attached before the failure');
  assert.deepEqual(await gone(streamed), []);
  assert.deepEqual((await t.list())[0].attached, []);
  // Bad parameters are refused before anything happens.
  await assert.rejects(client.attach({ handle: r.loaded.handle, places: { x: 1 } } as never), /invalid params: attach: places must be/);
  await assert.rejects(client.attach({ handle: 999 }), /no load with handle 999/);

  const at = await t.attach(r.loaded.handle, { skip: ['tasks'] });
  const ids = at.attached.flatMap((a) => a.linkIds);
  assert.equal(liveLinks(ids).length, 2);
  // The client hangs up without detaching or unloading: the agent undoes everything as it ends.
  const exited = new Promise((res) => client.child.once('exit', res));
  client.child.stdin!.end();
  await exited;
  assert.deepEqual(await gone(ids), []);
  const progs = JSON.parse(run('bpftool', ['-j', 'prog', 'list'])) as { id: number }[];
  const progIds = r.loaded.programs.map((p) => p.id);
  assert.deepEqual(
    progs.filter((p) => progIds.includes(p.id)),
    [],
  );
  await t.close();
});

test('bpf-lens run --target over SSH: attached on the target, counters move, Ctrl-C detaches; an attach error exits 1 leaving nothing', async () => {
  ssh = startSshHost();
  const env = { ...process.env, BPF_LENS_SSH_CONFIG: ssh.config };
  const r = startRun([fixture('attach_counters.o'), '--target', 'bpflens-test'], env);
  try {
    await r.running;
    assert.equal(r.events[0].event, 'loaded', r.stderr());
    const attached = r.events.filter((e) => e.event === 'attached').map((e) => `${String(e.program)} ${String(e.mechanism)}`);
    assert.deepEqual(attached, ['tp_getppid perf_event link', 'rawtp_exec raw_tracepoint_open', 'tasks link']);
    const counts = (r.events[0].maps as { name: string; id: number }[]).find((m) => m.name === 'counts')!.id;
    const ids = linkIdsOf(r.events);
    assert.deepEqual(liveLinks(ids).sort(), [...ids].sort());
    const before = mapU64(counts, SLOT.TP);
    getppid(4);
    assert.ok(mapU64(counts, SLOT.TP) >= before + 4n);
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 0, r.stderr());
    assert.deepEqual(
      r.events.filter((e) => e.event === 'detached').map((e) => e.program),
      ['tasks', 'rawtp_exec', 'tp_getppid'],
    );
    assert.deepEqual(await gone(ids), []);
  } finally {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
  }
  const bad = startRun([fixture('attach_counters.o'), '--target', 'bpflens-test', '--attach', 'xdp_drop_ping=lens_nosuch0'], env);
  assert.equal(await bad.exited, 1, bad.stderr());
  const err = bad.events.at(-1)!;
  assert.deepEqual([err.event, err.program], ['error', 'xdp_drop_ping']);
  assert.match(err.message as string, /no such network interface/);
  assert.deepEqual(await gone(linkIdsOf(bad.events)), []);
});
