/**
 * Test targets `qemu:6.1` and `qemu:6.12`: Debian's kernels as product VM targets
 * (server/src/remote/vm.ts: qemu, this machine's root read-only over 9p, the agent on a
 * virtio-serial port), and `local`. The caller gets the same AgentClient as for SSH targets.
 * `close()` asks the agent to shut down and the guest powers off; `kill()` is the hard stop
 * for t.after.
 */
import { debianKernel, type DebianKernelVersion } from './kernels';
import * as P from '../protocol/agent';
import { ROOT } from './helpers';
import { type AgentClient, connectTarget } from '../server/src/remote';
import { connectVm } from '../server/src/remote/vm';

export type TestTargetSpec = 'local' | 'ssh' | `qemu:${DebianKernelVersion}`;

export interface TestTarget {
  readonly spec: TestTargetSpec;
  readonly client: AgentClient;
  /** ms from spawning (qemu or the local agent) until the agent answered hello. */
  readonly connectMs: number;
  /** Clean stop: agent shutdown, then (qemu) the guest powers off; true when it did so by itself. */
  close(): Promise<boolean>;
  /** Hard stop, safe to call any time (t.after). */
  kill(): void;
  /** The guest's console so far ('' for local). */
  console(): string;
}

/** `extraKo`: more modules (built outside the kernel package, e.g. the struct_ops test module) insmod'ed before the agent starts. */
export async function startQemuTarget(
  version: DebianKernelVersion,
  o: { memMb?: number; bootTimeoutMs?: number; extraKo?: readonly string[] } = {},
): Promise<TestTarget> {
  const k = debianKernel(version);
  const t0 = performance.now();
  const client = await connectVm(
    { kernel: k.vmlinuz, modules: k.modulesDir, ...(o.memMb ? { memory: o.memMb } : {}), ...(o.extraKo ? { insmod: o.extraKo } : {}) },
    { root: ROOT, label: `qemu:${version}`, ...(o.bootTimeoutMs ? { bootTimeoutMs: o.bootTimeoutMs } : {}) },
  );
  return {
    spec: `qemu:${version}`,
    client,
    connectMs: performance.now() - t0,
    console: () => client.console(200),
    kill: () => {
      if (client.child.exitCode === null && client.child.signalCode === null) client.child.kill('SIGKILL');
    },
    async close() {
      await client.close();
      return client.cleanExit === true;
    },
  };
}

/** `local` (the agent on this machine, via connectTarget) or a qemu guest. */
export async function startTestTarget(spec: Exclude<TestTargetSpec, 'ssh'>): Promise<TestTarget> {
  if (spec === 'local') {
    const t0 = performance.now();
    const client = await connectTarget('local', { root: ROOT });
    const connectMs = performance.now() - t0;
    return {
      spec,
      client,
      connectMs,
      console: () => '',
      async close() {
        // Shutdown first and let the agent exit by itself (AgentClient.close would kill it).
        const exited = new Promise((r) => client.child.once('exit', r));
        try {
          await Promise.race([client.conn.sendRequest(P.shutdown), new Promise((r) => setTimeout(r, 3000).unref())]);
        } catch {
          /* gone */
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
        const clean = client.child.exitCode === 0;
        await client.close();
        return clean;
      },
      kill() {
        if (client.child.exitCode === null && client.child.signalCode === null) client.child.kill('SIGKILL');
      },
    };
  }
  return startQemuTarget(spec.slice(5) as DebianKernelVersion);
}
