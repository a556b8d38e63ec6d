// Shared by the test files: where things are, and how to run the CLI as a user would.
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { tracePipeHolders } from '../server/src/kernel/trace-pipe';

/** The checkout (tests run from out/test/..., compiled). */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();

export const FIXTURES = path.join(ROOT, 'build', 'fixtures');
export const CILIUM = '/usr/share/gocode/src/github.com/cilium/ebpf';
export const CLI = path.join(ROOT, 'bin', 'bpf-lens.js');

/** A fixture object built by test/fixtures/Makefile (`name` like 'btf_kinds.o'). */
export function fixture(name: string): string {
  const p = path.join(FIXTURES, name);
  if (!existsSync(p)) throw new Error(`fixture ${p} is missing: run 'make -C test/fixtures' (scripts/test.sh does)`);
  return p;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bpf-lens ARGS` in a child process, as a user would. */
export function cli(args: string[], opts: { input?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 1 << 30,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs any tool; throws with its stderr if it fails. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, maxBuffer: 1 << 30, cwd: opts.cwd });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
  return r.stdout;
}

/** Compiles a BPF C source as the tests build their objects (clang -target bpf -g -O2, in the source's folder). */
export function compileBpf(source: string, object: string): void {
  const arch = run('gcc', ['-print-multiarch']).trim() || 'x86_64-linux-gnu';
  run(
    'clang',
    ['-target', 'bpf', '-g', '-O2', '-Wno-compare-distinct-pointer-types', `-I/usr/include/${arch}`, '-c', source, '-o', object],
    { cwd: path.dirname(source) },
  );
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** mulberry32: a small seeded PRNG in [0, 1), so a failing mutation reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `fn` while holding a lock that other test files (run in parallel) take for the same
 * host-wide state, e.g. whether the kernel keeps run statistics. A lock whose holder died is
 * taken over.
 */
export async function withHostLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const release = await hostLock(name);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Takes the lock `withHostLock` takes, until the returned function is called (for a whole file: before/after). */
export async function hostLock(name: string): Promise<() => void> {
  const dir = path.join(tmpdir(), `bpf-lens-test-lock-${name}`);
  const pidFile = path.join(dir, 'pid');
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(pidFile, String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(pidFile, 'utf8'));
      } catch {
        // being written: wait
      }
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) rmSync(dir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * For a file that checks bpf_printk lines: the kernel lets one reader hold trace_pipe (a second
 * open is EBUSY), so such files take a lock among themselves, then wait (up to a minute) until
 * no other process holds the pipe: another file's short `bpf-lens run`, which only warns when
 * it cannot have it.
 */
export async function holdTracePipe(): Promise<() => void> {
  const release = await hostLock('trace-pipe');
  for (let t = 0; t < 60_000 && tracePipeHolders().length; t += 100) await new Promise((r) => setTimeout(r, 100));
  return release;
}

/** Runs `fn` holding the trace pipe as `holdTracePipe` does. */
export async function withTracePipe<T>(fn: () => Promise<T>): Promise<T> {
  const release = await holdTracePipe();
  try {
    return await fn();
  } finally {
    release();
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
