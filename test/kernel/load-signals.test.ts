// Signals in the middle of `bpf-lens load OBJ --pin DIR` (64 maps, 4 of them pinned by name,
// 64 programs), as a user's Ctrl-C, a closed terminal or the OOM killer would send them, at
// seeded random times: afterwards DIR holds all 64 programs or does not exist, the by-name
// map pins are all there or none, SIGINT/SIGTERM/SIGHUP leave no temporary pin at all, and
// after SIGKILL the next load into the same directories removes the dead load's temporary
// pins, first thing (even when it then fails) — so no program stays loaded through a pin
// nobody asked for.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { test } from 'node:test';
import * as os from 'os';
import * as path from 'path';
import { CLI, compileBpf, fixture, ROOT, rng, run } from '../helpers';
import { bpffsDir } from './kernel-env';

const N = 64;
const BY_NAME = 4;
const tag = `sg${process.pid % 100000}`;

function source(): string {
  const out = ['#include <linux/bpf.h>', '#include <bpf/bpf_helpers.h>', 'char LICENSE[] SEC("license") = "GPL";'];
  for (let i = 0; i < N; i++) {
    const pin = i < BY_NAME ? ' __uint(pinning, LIBBPF_PIN_BY_NAME);' : '';
    out.push(
      `struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1);${pin} } ${tag}_m${i} SEC(".maps");`,
    );
    out.push(
      `SEC("xdp") int ${tag}_p${i}(struct xdp_md *ctx) { __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&${tag}_m${i}, &k); if (v) __sync_fetch_and_add(v, 1); return XDP_PASS; }`,
    );
  }
  return `${out.join('\n')}\n`;
}

function build(dir: string): string {
  return compile(dir, 'many', source());
}

/** `text` compiled as DIR/NAME.o. */
function compile(dir: string, name: string, text: string): string {
  const c = path.join(dir, `${name}.bpf.c`);
  const o = path.join(dir, `${name}.o`);
  writeFileSync(c, text);
  compileBpf(c, o);
  return o;
}

const mapPins = () => Array.from({ length: BY_NAME }, (_, i) => `/sys/fs/bpf/${tag}_m${i}`);
const temps = (dir: string, pid?: number) =>
  (existsSync(dir) ? readdirSync(dir) : []).filter(
    (n) => /^bpf-lens-tmp-\d+-\d+-\d+$/.test(n) && (pid === undefined || n.split('-')[4] === String(pid)),
  );

/**
 * Programs of this test still loaded in the kernel, once no more than `held` (freed
 * asynchronously: waits up to 10 s for the others to go).
 */
function loadedProgs(held = 0): number {
  let n = 0;
  for (let i = 0; i < 100; i++) {
    const progs = JSON.parse(run('bpftool', ['-j', 'prog', 'show'])) as { name?: string }[];
    n = progs.filter((p) => p.name?.startsWith(`${tag}_p`)).length;
    if (n <= held) return n;
    spawnSync('sleep', ['0.1']);
  }
  return n;
}

/** Programs pinned in `dir` under the temporary names of the `killed` loads (the next load that pins there sweeps them). */
function heldByKilled(dir: string, killed: readonly number[]): number {
  return killed.flatMap((pid) => temps(dir, pid)).reduce((n, t) => n + readdirSync(path.join(dir, t)).length, 0);
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  pid: number;
  stderr: string;
}

/** `bpf-lens load OBJ --pin DIR`, sent `sig` after `afterMs` when given. */
function loadKilled(obj: string, dir: string, sig?: NodeJS.Signals, afterMs = 0): Promise<Exit> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI, 'load', obj, '--pin', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = sig ? setTimeout(() => child.kill(sig), afterMs) : undefined;
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - t0, pid: child.pid!, stderr });
    }),
  );
}

const load = (obj: string, dir: string) => loadKilled(obj, dir);

/** What a run left: all of it, none of it; throws on anything in between. */
function outcome(dir: string, what: string): 'all' | 'none' {
  const progs = existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('bpf-lens-tmp-')) : undefined;
  const maps = mapPins().filter((p) => existsSync(p)).length;
  assert.ok(progs === undefined || progs.length === N, `${what}: ${dir} holds ${progs?.length} of ${N} programs`);
  assert.ok(maps === 0 || maps === BY_NAME, `${what}: ${maps} of ${BY_NAME} by-name map pins`);
  return progs ? 'all' : 'none';
}

function cleanFinal(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  for (const p of mapPins()) rmSync(p, { force: true });
}

test('signals during load --pin: all or nothing; catchable ones roll back; SIGKILL leftovers are swept by the next load', async (t) => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'bpflens-signals-'));
  const pins = bpffsDir('signals');
  try {
    const obj = build(work);
    const full = await load(obj, `${pins.dir}/full`);
    assert.equal(full.code, 0, full.stderr);
    assert.equal(outcome(`${pins.dir}/full`, 'an uninterrupted load'), 'all');
    cleanFinal(`${pins.dir}/full`);
    const random = rng(0x5167);
    const seen: Record<string, Record<string, number>> = {};
    const killed: number[] = [];
    const plan: NodeJS.Signals[] = [
      ...Array(16).fill('SIGKILL'),
      ...Array(6).fill('SIGINT'),
      ...Array(6).fill('SIGTERM'),
      ...Array(6).fill('SIGHUP'),
    ];
    for (const [i, sig] of plan.entries()) {
      const dir = `${pins.dir}/run${i}`;
      const r = await loadKilled(obj, dir, sig, Math.floor(random() * full.ms * 1.1));
      const what = `run ${i}: ${sig} after ${r.ms} ms (exit ${r.code ?? r.signal}${r.stderr ? `, stderr ${r.stderr.trim()}` : ''})`;
      const o = outcome(dir, what);
      (seen[sig] ??= {})[o] = (seen[sig][o] ?? 0) + 1;
      if (sig === 'SIGKILL') {
        killed.push(r.pid);
      } else {
        assert.deepEqual(
          [...temps(pins.dir, r.pid), ...temps(dir, r.pid), ...temps('/sys/fs/bpf', r.pid)],
          [],
          `${what}: temporary pins left`,
        );
        // Signalled before it swept (even before node ran it), a load leaves the killed loads'
        // pins for the next one: what they hold, and nothing of its own, may still be loaded.
        const held = heldByKilled(pins.dir, killed);
        if (o === 'none') assert.equal(loadedProgs(held), held, `${what}: programs still loaded`);
      }
      cleanFinal(dir);
    }
    t.diagnostic(JSON.stringify(seen));
    // The next load into the same directories sweeps what the killed loads left.
    const next = await load(obj, `${pins.dir}/next`);
    assert.equal(next.code, 0, next.stderr);
    for (const pid of killed) assert.deepEqual([...temps(pins.dir, pid), ...temps('/sys/fs/bpf', pid)], [], `pid ${pid}'s temporary pins`);
    cleanFinal(`${pins.dir}/next`);
    assert.equal(loadedProgs(), 0, 'no program of this test stays loaded');
  } finally {
    pins.done();
    for (const p of mapPins()) rmSync(p, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
});

/** An object the verifier refuses: its one program reads memory at address 0. */
function rejected(dir: string): string {
  return compile(
    dir,
    'refused',
    `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("xdp") int ${tag}_refused(struct xdp_md *ctx) { return *(volatile int *)0; }
`,
  );
}

/**
 * A load (this checkout's pipeline, in a child) whose k-th BPF_OBJ_PIN sends `sig` to its own
 * process first: the signal lands exactly inside the pin stage.
 */
function pinSignalChild(dir: string): string {
  const file = path.join(dir, 'child.js');
  const out = path.join(ROOT, 'out', 'server', 'src');
  writeFileSync(
    file,
    `
const fs = require('fs');
const { localKernel } = require(${JSON.stringify(path.join(out, 'kernel'))});
const { loadObjectAsync } = require(${JSON.stringify(path.join(out, 'load'))});
const { openObject } = require(${JSON.stringify(path.join(out, 'object'))});
const [obj, pinDir, k, sig] = process.argv.slice(2);
let n = 0;
const kernel = { ...localKernel, objPin: (...a) => { if (++n === Number(k)) process.kill(process.pid, sig); return localKernel.objPin(...a); } };
loadObjectAsync(openObject(new Uint8Array(fs.readFileSync(obj)), obj), { kernel, pinProgramsDir: pinDir })
  .then((r) => { r.close(); process.exit(0); }, (e) => { console.error(e.message); process.exit(1); });
`,
  );
  return file;
}

test('a signal inside the pin stage: SIGKILL leaves only temporary names (swept by the next load, even one the verifier refuses), SIGTERM/SIGINT/SIGHUP let the load finish whole, then end it', async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'bpflens-signals-'));
  const pins = bpffsDir('pinsig');
  try {
    const obj = build(work);
    const child = pinSignalChild(work);
    const runChild = (dir: string, k: number, sig: string) =>
      spawnSync(process.execPath, [child, obj, dir, String(k), sig], { encoding: 'utf8' });
    const killed: number[] = [];
    for (const k of [1, 3, BY_NAME + 1, BY_NAME + 40, BY_NAME + N]) {
      const dir = `${pins.dir}/kill${k}`;
      const r = runChild(dir, k, 'SIGKILL');
      assert.equal(r.signal, 'SIGKILL', r.stderr);
      assert.equal(outcome(dir, `SIGKILL at pin ${k}`), 'none');
      if (k > 1)
        assert.ok(temps(pins.dir, r.pid).length + temps('/sys/fs/bpf', r.pid).length > 0, 'the killed load left its temporary pins');
      killed.push(r.pid);
      cleanFinal(dir);
    }
    // A load that fails before its pin stage (the verifier refuses it) still sweeps where it would pin.
    const refused = await load(rejected(work), `${pins.dir}/refused`);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /verifier|invalid/i);
    for (const pid of killed) assert.deepEqual(temps(pins.dir, pid), [], `the refused load swept the killed load ${pid}'s pins`);
    for (const [k, sig] of [
      [2, 'SIGTERM'],
      [BY_NAME + 30, 'SIGINT'],
      [BY_NAME + N, 'SIGHUP'],
    ] as const) {
      const dir = `${pins.dir}/${sig}${k}`;
      const r = runChild(dir, k, sig);
      assert.equal(r.signal, sig, `${sig}: the process ends by the signal after the load (${r.stderr})`);
      assert.equal(outcome(dir, `${sig} at pin ${k}`), 'all');
      assert.deepEqual(temps(pins.dir, r.pid).concat(temps('/sys/fs/bpf', r.pid)), []);
      cleanFinal(dir);
    }
    const next = await load(obj, `${pins.dir}/next`);
    assert.equal(next.code, 0, next.stderr);
    for (const pid of killed)
      assert.deepEqual([...temps(pins.dir, pid), ...temps('/sys/fs/bpf', pid)], [], `the killed load ${pid}'s temporary pins were swept`);
    cleanFinal(`${pins.dir}/next`);
    assert.equal(loadedProgs(), 0, 'no program of this test stays loaded');
  } finally {
    pins.done();
    for (const p of mapPins()) rmSync(p, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
});

test('a relative --pin DIR, run from a bpffs folder: the programs go in DIR, and nothing else is left there', () => {
  const pins = bpffsDir('relpin');
  try {
    const r = spawnSync(process.execPath, [CLI, 'load', fixture('attach_counters.o'), '--pin', 'mydir'], {
      cwd: pins.dir,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(pins.dir), ['mydir']);
    assert.ok(readdirSync(path.join(pins.dir, 'mydir')).length > 0);
  } finally {
    pins.done();
  }
});
