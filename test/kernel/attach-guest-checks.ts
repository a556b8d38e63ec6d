// Attaching through the agent in a Debian guest (test/qemu-target.ts), as the CLI and the editor
// do: attach_tracing.o's fentry, fexit, kprobe, kretprobe (on bpf_prog_test_run_skb) and
// lsm/bpf programs attach by their SEC() names; each counter moves by exactly the number of
// socket-filter test runs the test makes (the LSM one by the BPF_PROG_TEST_RUN commands),
// read back by test-running a raw_tp program that returns it; detaching some stops exactly
// those; unload leaves nothing attached.
import assert from 'node:assert/strict';
import { readFileSync } from 'fs';
import type { TestContext } from 'node:test';
import { AgentTarget } from '../../server/src/targets/agent';
import { fixture } from '../helpers';
import type { DebianKernelVersion } from '../kernels';
import { startQemuTarget } from '../qemu-target';

const SLOTS = ['fentry_run_skb', 'fexit_run_skb', 'kprobe_run_skb', 'kretprobe_run_skb', 'lsm_bpf'] as const;
const TRIGGERS = 7;

export async function attachInGuest(t: TestContext, version: DebianKernelVersion): Promise<void> {
  const g = await startQemuTarget(version);
  const target = new AgentTarget(g.client);
  try {
    t.diagnostic(`${version} guest: agent up in ${g.connectMs.toFixed(0)} ms`);
    const r = await target.load({ name: 'attach_tracing.o', object: readFileSync(fixture('attach_tracing.o')) });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const handle = r.loaded.handle;
    const t0 = performance.now();
    const at = await target.attach(handle);
    t.diagnostic(`attach through the agent: ${(performance.now() - t0).toFixed(0)} ms`);
    for (const a of at.attached) t.diagnostic(`${a.program}: ${a.kind} ${a.target} (${a.mechanism}, links ${a.linkIds.join(' ')})`);
    assert.deepEqual(
      at.attached.map((a) => `${a.program} ${a.kind} ${a.target}`),
      [
        'fentry_run_skb tracing bpf_prog_test_run_skb',
        'fexit_run_skb tracing bpf_prog_test_run_skb',
        'kprobe_run_skb kprobe bpf_prog_test_run_skb',
        'kretprobe_run_skb kprobe bpf_prog_test_run_skb',
        'lsm_bpf tracing bpf',
      ],
    );
    assert.ok(
      at.attached.every((a) => a.linkIds.length === 1 && a.linkIds[0] > 0),
      'each attachment is a kernel link with an id',
    );
    assert.deepEqual(
      at.skipped.map((s) => s.program),
      ['trigger', 'read_count'],
    );

    // Reading is a test run too: the LSM counter counts each read's BPF_PROG_TEST_RUN (read first, then the rest).
    const read = async (): Promise<number[]> => {
      const out: number[] = [];
      for (const slot of [4, 0, 1, 2, 3]) {
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

    const before = await read();
    await trigger(TRIGGERS);
    const after = await read();
    // the LSM counts TRIGGERS test runs, the four other reads before and this read itself
    assert.deepEqual(delta(before, after), {
      fentry_run_skb: TRIGGERS,
      fexit_run_skb: TRIGGERS,
      kprobe_run_skb: TRIGGERS,
      kretprobe_run_skb: TRIGGERS,
      lsm_bpf: TRIGGERS + 5,
    });

    const d = await target.detach(handle, ['fentry_run_skb', 'kprobe_run_skb']);
    assert.deepEqual(d.errors, []);
    assert.deepEqual(
      d.detached.map((a) => a.program),
      ['kprobe_run_skb', 'fentry_run_skb'],
    );
    await trigger(3);
    const partly = await read();
    assert.deepEqual(delta(after, partly), {
      fentry_run_skb: 0,
      fexit_run_skb: 3,
      kprobe_run_skb: 0,
      kretprobe_run_skb: 3,
      lsm_bpf: 3 + 5,
    });
    assert.deepEqual(
      (await target.list())[0].attached!.map((a) => a.program),
      ['fexit_run_skb', 'kretprobe_run_skb', 'lsm_bpf'],
    );

    // detach the rest: nothing moves any more; the programs are still loaded (the reader runs)
    await target.detach(handle);
    await trigger(2);
    assert.deepEqual(delta(partly, await read()), {
      fentry_run_skb: 0,
      fexit_run_skb: 0,
      kprobe_run_skb: 0,
      kretprobe_run_skb: 0,
      // the four reads after the LSM counter's own in the previous round, while it was attached
      lsm_bpf: 4,
    });
    // attach again and unload: unload detaches
    await target.attach(handle, { programs: ['fentry_run_skb'] });
    assert.equal((await target.unload(handle)).closed, true);
    assert.deepEqual(await target.list(), []);
  } finally {
    assert.equal(await g.close(), true, `the ${version} guest shut down cleanly`);
  }
}
