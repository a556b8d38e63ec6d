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
  } finally {
    assert.equal(await g.close(), true, `the ${version} guest shut down cleanly`);
  }
}
