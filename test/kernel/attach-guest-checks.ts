// Attaching through the agent in a Debian guest (test/qemu-target.ts), as the CLI and the editor
// do: attach_tracing.o's fentry, fexit, kprobe, kretprobe (on bpf_prog_test_run_skb) and
// lsm/bpf programs attach by their SEC() names; each counter moves by exactly the number of
// socket-filter test runs the test makes (the LSM one by the BPF_PROG_TEST_RUN commands),
// read back by test-running a raw_tp program that returns it; detaching some stops exactly
// those; unload leaves nothing attached. uprobe.multi: refused by 6.1 (no multi-uprobe links),
// counting the agent's own libuv calls (node over 9p) on 6.12.
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import type { TestContext } from 'node:test';
import { AgentTarget } from '../../server/src/targets/agent';
import { fixture } from '../helpers';
import type { DebianKernelVersion } from '../kernels';
import { startQemuTarget } from '../qemu-target';

const SLOTS = [
  'fentry_run_skb',
  'fexit_run_skb',
  'kprobe_run_skb',
  'kretprobe_run_skb',
  'lsm_bpf',
  'kmulti_run_sk',
  'kretmulti_run_skb',
] as const;
/** Reading every slot is a test run each: the LSM counter sees them all. */
const READS = SLOTS.length;
const TRIGGERS = 7;

export async function attachInGuest(t: TestContext, version: DebianKernelVersion): Promise<void> {
  const g = await startQemuTarget(version);
  const target = new AgentTarget(g.client);
  try {
    t.diagnostic(`${version} guest: agent up in ${g.connectMs.toFixed(0)} ms`);
    const r = await target.load({ name: 'attach_tracing.o', object: readFileSync(fixture('attach_tracing.o')) });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const handle = r.loaded.handle;
    // Debian's 6.1 has no CONFIG_FPROBE: kprobe.multi is refused, named as such, and nothing stays attached
    const multi = version !== '6.1';
    if (!multi) {
      await assert.rejects(target.attach(handle), /'kmulti_run_sk'.*no multi-kprobe links \(CONFIG_FPROBE/);
      assert.deepEqual((await target.list())[0].attached, []);
    }
    const has = (p: string) => multi || !p.includes('multi');
    const t0 = performance.now();
    const at = await target.attach(handle, multi ? {} : { skip: ['kmulti_run_sk', 'kretmulti_run_skb'] });
    t.diagnostic(`attach through the agent: ${(performance.now() - t0).toFixed(0)} ms`);
    for (const a of at.attached) t.diagnostic(`${a.program}: ${a.kind} ${a.target} (${a.mechanism}, links ${a.linkIds.join(' ')})`);
    assert.deepEqual(
      at.attached.map((a) => `${a.program} ${a.kind} ${a.target}`),
      [
        'fentry_run_skb tracing bpf_prog_test_run_skb',
        'fexit_run_skb tracing bpf_prog_test_run_skb',
        'kprobe_run_skb kprobe bpf_prog_test_run_skb',
        'kretprobe_run_skb kprobe bpf_prog_test_run_skb',
        'kmulti_run_sk kprobe_multi bpf_prog_test_run_sk*',
        'kretmulti_run_skb kprobe_multi bpf_prog_test_run_skb',
        'lsm_bpf tracing bpf',
      ].filter((x) => has(x)),
    );
    assert.ok(
      at.attached.every((a) => a.linkIds.length === 1 && a.linkIds[0] > 0),
      'each attachment is a kernel link with an id',
    );
    assert.deepEqual(
      at.skipped.map((s) => s.program),
      [...(multi ? [] : ['kmulti_run_sk', 'kretmulti_run_skb']), 'trigger', 'read_count'],
    );

    // Reading is a test run too: the LSM counter counts each read's BPF_PROG_TEST_RUN (read first, then the rest).
    const read = async (): Promise<number[]> => {
      const out: number[] = [];
      for (const slot of [4, 0, 1, 2, 3, 5, 6]) {
        const ctx = Buffer.alloc(8);
        ctx.writeUInt32LE(slot);
        out[slot] = (await target.testRun({ handle, program: 'read_count', ctx: ctx.toString('base64') })).retval;
      }
      return out;
    };
    const trigger = async (n: number) => {
      for (let i = 0; i < n; i++) await target.testRun({ handle, program: 'trigger', data: Buffer.alloc(64).toString('base64') });
    };
    const delta = (a: number[], b: number[]) => Object.fromEntries(SLOTS.map((s, i) => [s, b[i] - a[i]]));
    // what a multi-kprobe counter moves by where the kernel has them
    const m = (n: number) => (multi ? n : 0);

    const before = await read();
    await trigger(TRIGGERS);
    const after = await read();
    // the LSM counts TRIGGERS test runs, the other reads before and this read itself
    assert.deepEqual(delta(before, after), {
      fentry_run_skb: TRIGGERS,
      fexit_run_skb: TRIGGERS,
      kprobe_run_skb: TRIGGERS,
      kretprobe_run_skb: TRIGGERS,
      lsm_bpf: TRIGGERS + READS,
      kmulti_run_sk: m(TRIGGERS),
      kretmulti_run_skb: m(TRIGGERS),
    });

    const d = await target.detach(handle, ['fentry_run_skb', 'kprobe_run_skb', 'kmulti_run_sk']);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(
      d.detached.map((a) => a.program),
      ['kmulti_run_sk', 'kprobe_run_skb', 'fentry_run_skb'].filter(has),
    );
    await trigger(3);
    const partly = await read();
    assert.deepEqual(delta(after, partly), {
      fentry_run_skb: 0,
      fexit_run_skb: 3,
      kprobe_run_skb: 0,
      kretprobe_run_skb: 3,
      lsm_bpf: 3 + READS,
      kmulti_run_sk: 0,
      kretmulti_run_skb: m(3),
    });
    assert.deepEqual(
      (await target.list())[0].attached!.map((a) => a.program),
      ['fexit_run_skb', 'kretprobe_run_skb', 'kretmulti_run_skb', 'lsm_bpf'].filter(has),
    );

    // detach the rest: nothing moves any more; the programs are still loaded (the reader runs)
    await target.detach(handle);
    await trigger(2);
    assert.deepEqual(delta(partly, await read()), {
      fentry_run_skb: 0,
      fexit_run_skb: 0,
      kprobe_run_skb: 0,
      kretprobe_run_skb: 0,
      // the reads after the LSM counter's own in the previous round, while it was attached
      lsm_bpf: READS - 1,
      kmulti_run_sk: 0,
      kretmulti_run_skb: 0,
    });
    // attach again and unload: unload detaches
    await target.attach(handle, { programs: ['fentry_run_skb'] });
    assert.equal((await target.unload(handle)).closed, true);
    assert.deepEqual(await target.list(), []);
    await uprobeMultiInGuest(t, target, version);
  } finally {
    assert.equal(await g.close(), true, `the ${version} guest shut down cleanly`);
  }
}

/**
 * uprobe.multi through the agent: 6.1 has no BPF_TRACE_UPROBE_MULTI, which is said; on 6.12 a
 * glob over libuv's exported functions in the node running the agent (the host's, over 9p) counts
 * the agent's own libuv calls while requests come, and stops when detached.
 */
async function uprobeMultiInGuest(t: TestContext, target: AgentTarget, version: DebianKernelVersion): Promise<void> {
  const r = await target.load({ name: 'attach_multi.o', object: readFileSync(fixture('attach_multi.o')) });
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  const handle = r.loaded.handle;
  const req = { programs: ['um_all'], places: { um_all: `${process.execPath}:uv_*` } };
  if (version === '6.1') {
    await assert.rejects(target.attach(handle, req), /'um_all'.*uprobe multi link \(they need Linux 6\.6\+/);
    assert.deepEqual((await target.list())[0].attached, []);
  } else {
    const counts = r.loaded.maps.find((m) => m.name === 'counts')!;
    const all = async () => {
      const text = (await target.mapDump({ id: counts.id, json: true })).text;
      const rows = JSON.parse(text) as { formatted: { key: number; value: number } }[];
      return rows.find((e) => e.formatted.key === 0)!.formatted.value;
    };
    const at = await target.attach(handle, req);
    t.diagnostic(`uprobe.multi: ${at.attached.map((a) => `${a.program} ${a.kind} ${a.target} (${a.mechanism})`).join('; ')}`);
    assert.deepEqual(
      at.attached.map((a) => `${a.kind} ${a.mechanism}`),
      ['uprobe_multi link'],
    );
    const first = await all();
    for (let i = 0; i < 5; i++) await target.list();
    const moved = (await all()) - first;
    t.diagnostic(`uv_* hits over 6 agent requests: ${moved}`);
    assert.ok(moved >= 5, `the agent's libuv calls counted: ${moved}`);
    await target.detach(handle);
    const stopped = await all();
    for (let i = 0; i < 3; i++) await target.list();
    assert.equal(await all(), stopped, 'detached: the count stays');
  }
  assert.equal((await target.unload(handle)).closed, true);
}
