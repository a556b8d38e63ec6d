// `bpf-lens run --json` started as a user starts it, its events read as they come; map values
// and links as bpftool sees them (the kernel is this machine's, also behind the local agent
// and the SSH test host).
import { spawn } from 'child_process';
import { CLI, run } from './helpers';

export type Ev = Record<string, unknown> & { event: string };

/** Starts `bpf-lens run ... --json`; resolves once it says "running" (or exits). */
export function startRun(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [CLI, 'run', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const events: Ev[] = [];
  let buf = '',
    stderr = '';
  let onEvent: (() => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)) as Ev);
      buf = buf.slice(nl + 1);
      onEvent?.();
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const running = new Promise<void>((resolve) => {
    onEvent = () => events.some((e) => e.event === 'running' || e.event === 'error') && resolve();
    void exited.then(() => resolve());
  });
  return { child, events, running, exited, stderr: () => stderr };
}

/** The u64 at `key` of an array map, read by bpftool. */
export function mapU64(id: number, key: number): bigint {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(key);
  const out = JSON.parse(run('bpftool', ['-j', 'map', 'lookup', 'id', String(id), 'key', ...[...k].map(String)]));
  const bytes = Buffer.from((out.value as string[]).map((h) => parseInt(h, 16)));
  return bytes.readBigUInt64LE(0);
}

/** The counter slots of attach_counters.o. */
export const SLOT = { TP: 0, RAW_TP: 1, UPROBE: 2, URETPROBE: 3, XDP: 4, TCX: 5, CGROUP: 6, SAMPLE: 7 };

export const linkIdsOf = (events: Ev[]) =>
  events
    .filter((e) => e.event === 'attached')
    .flatMap((e) => (e.link_ids as number[] | undefined) ?? (e.link_id !== undefined ? [e.link_id as number] : []));
