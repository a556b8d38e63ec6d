// A fleet of SSH hosts as a user checks one: `bpf-lens load OBJ --target fleet-0 ... --target
// fleet-9` where the ten are Host aliases of one sshd (test/ssh-host.ts) in the ssh config.
// Every target loads; the summary is folded (one line per program, one for the kernels: it
// stays readable for fifty); the connections are shared through OpenSSH's ControlMaster in
// BPF Lens's private socket directory (a master answers `ssh -O check` after the run), and
// BPF_LENS_SSH_MUX=0 leaves no socket. A host that never answers is its own row (--timeout), the others go on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, fixture, ROOT, run } from '../helpers';
import { startSshHost } from '../ssh-host';

const host = startSshHost();
const runtime = mkdtempSync(join(tmpdir(), 'lens-fleet-run-'));
test.after(() => {
  // The masters persist 30 s: stop them now, then the host.
  stopMasters();
  host.stop();
  rmSync(runtime, { recursive: true, force: true });
});

function stopMasters(): void {
  const dir = join(runtime, 'bpf-lens-ssh-0');
  for (const s of safeList(dir)) spawnSync('ssh', ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'x'], { timeout: 5000 });
}

function safeList(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

const N = 10;
const aliases = Array.from({ length: N }, (_, i) => `fleet-${i}`);
const config = join(host.dir, 'ssh_config_fleet');
writeFileSync(
  config,
  [
    ...aliases.flatMap((a) => [`Host ${a}`, `  HostName ${host.addr}`, '']),
    // a host that takes the connection and never answers
    'Host fleet-silent',
    '  ProxyCommand sleep 600',
    '',
    readFileSync(host.config, 'latin1'),
  ].join('\n'),
);
const OBJ = join(ROOT, 'examples', 'build', 'xdp_counter.bpf.o');

function lens(args: string[], env: Record<string, string> = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, BPF_LENS_SSH_CONFIG: config, XDG_RUNTIME_DIR: runtime, ...env },
  });
  return { ...r, ms: performance.now() - t0 };
}

test(
  'ten SSH targets (aliases of one host): all load, one line each, connections shared through ControlMaster',
  { timeout: 300_000 },
  (t) => {
    run('make', ['-s', '-C', join(ROOT, 'examples')]);
    const targets = aliases.flatMap((a) => ['--target', a]);
    const j = lens(['load', OBJ, ...targets, '--parallel', '10', '--json']);
    t.diagnostic(`10 ssh targets, --json (first: deploys): ${(j.ms / 1000).toFixed(1)} s`);
    assert.equal(j.status, 0, `${j.stdout}\n${j.stderr}`);
    const json = JSON.parse(j.stdout) as {
      ok: boolean;
      targets: { target: string; ok: boolean; kernel_release: string; matrix: { status: string; verifiedInsns?: number }[] }[];
    };
    assert.equal(json.ok, true);
    assert.deepEqual(
      json.targets.map((x) => x.target),
      aliases,
    );
    for (const x of json.targets) assert.ok(x.ok && x.matrix.every((c) => c.status === 'loaded'), JSON.stringify(x));

    // The private socket directory: 0700, a master in it that answers.
    const dir = join(runtime, 'bpf-lens-ssh-0');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const socks = readdirSync(dir);
    assert.ok(socks.length >= 1, 'no ControlMaster socket');
    const check = spawnSync('ssh', ['-o', `ControlPath=${join(dir, socks[0])}`, '-O', 'check', 'x'], { encoding: 'utf8', timeout: 5000 });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stderr, /Master running/);

    const txt = lens(['load', OBJ, ...targets, '--parallel', '10']);
    t.diagnostic(`10 ssh targets again, text (masters reused): ${(txt.ms / 1000).toFixed(1)} s\n${txt.stdout}`);
    assert.equal(txt.status, 0, txt.stderr);
    assert.match(txt.stdout, /on 10 targets: 10 loaded everything, 0 did not/);
    // folded: one line for the one program, one for the kernels; no table 11 columns wide
    const out = txt.stdout.trimEnd().split('\n');
    assert.equal(out.length, 3, txt.stdout);
    assert.equal(out[1], `  xdp_count: loaded on 10/10 (${json.targets[0].matrix[0].verifiedInsns} insns)`);
    const release = json.targets[0].kernel_release.replace(/[.+]/g, '\\$&');
    assert.match(out[2], new RegExp(`^kernels: ${release} on 10; \\d+\\.\\d–\\d+\\.\\d s each \\(slowest fleet-\\d\\)$`));

    // Measured, not asserted (a shared machine's wall time): the same ten with new masters
    // (the previous ones stopped) and with no connection sharing at all.
    stopMasters();
    const cold = lens(['load', OBJ, ...targets, '--parallel', '10']);
    assert.equal(cold.status, 0, cold.stderr);
    const off = lens(['load', OBJ, ...targets, '--parallel', '10'], { BPF_LENS_SSH_MUX: '0' });
    assert.equal(off.status, 0, off.stderr);
    t.diagnostic(
      `wall time, 10 targets deployed: masters reused ${(txt.ms / 1000).toFixed(1)} s, new masters ${(cold.ms / 1000).toFixed(1)} s, ` +
        `BPF_LENS_SSH_MUX=0 ${(off.ms / 1000).toFixed(1)} s`,
    );
  },
);

test('a host that never answers fails its row at --timeout; BPF_LENS_SSH_MUX=0 makes no socket', { timeout: 300_000 }, (t) => {
  const off = mkdtempSync(join(tmpdir(), 'lens-fleet-nomux-'));
  try {
    const r = lens(['load', OBJ, '--target', 'fleet-0', '--target', 'fleet-1', '--target', 'fleet-silent', '--timeout', '5'], {
      BPF_LENS_SSH_MUX: '0',
      XDG_RUNTIME_DIR: off,
    });
    t.diagnostic(`${(r.ms / 1000).toFixed(1)} s\n${r.stdout}`);
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /on 3 targets: 2 loaded everything, 1 did not/);
    assert.match(r.stdout, /^fleet-silent: target failed: \(timeout\) fleet-silent did not finish within 5 s \(--timeout\)$/m);
    assert.deepEqual(safeList(join(off, 'bpf-lens-ssh-0')), []);
  } finally {
    rmSync(off, { recursive: true, force: true });
  }
});

type Doc = { ok: boolean; targets: ({ target: string; ok: boolean } & Record<string, unknown>)[] };

test(
  '--json on several targets is {"ok", "targets": [{"target", ...one target\'s --json}]} for load, verify and run',
  { timeout: 300_000 },
  () => {
    const three = ['--target', 'local', '--target', 'fleet-0', '--target', 'fleet-silent', '--timeout', '5'];
    const check = (r: ReturnType<typeof lens>): Doc => {
      assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
      const doc = JSON.parse(r.stdout) as Doc; // the whole output is one document
      assert.deepEqual(Object.keys(doc), ['ok', 'targets']);
      assert.equal(doc.ok, false);
      // "answered": the target could be used, whatever came of the job there (its "ok")
      assert.deepEqual(
        doc.targets.map((x) => [x.target, x.ok, x.answered]),
        [
          ['local', true, true],
          ['fleet-0', true, true],
          ['fleet-silent', false, false],
        ],
      );
      assert.match((doc.targets[2].error as { message: string }).message, /fleet-silent did not finish within \d+ s \(--timeout\)/);
      assert.equal((doc.targets[2].error as { code: string }).code, 'timeout');
      return doc;
    };
    const one = (args: string[]) => {
      const r = lens([...args, '--target', 'fleet-0', '--json']);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };

    // load: each target's object holds what `load --json --target` prints, plus the matrix
    const load = check(lens(['load', OBJ, ...three, '--json']));
    const single = JSON.parse(one(['load', OBJ])) as Record<string, unknown>;
    for (const k of Object.keys(single)) assert.ok(k in load.targets[1], `load: "${k}" of one target's --json is missing`);

    // verify: `{"programs"}` per target
    const verify = check(lens(['verify', OBJ, ...three, '--json']));
    const vsingle = JSON.parse(one(['verify', OBJ])) as { programs: { name: string; verdict: string }[] };
    for (const x of verify.targets.slice(0, 2)) {
      const progs = x.programs as { name: string; verdict: string }[];
      assert.deepEqual(
        progs.map((p) => [p.name, p.verdict]),
        vsingle.programs.map((p) => [p.name, p.verdict]),
      );
      assert.deepEqual(Object.keys(progs[0]), Object.keys(vsingle.programs[0]));
    }

    // run: no "on"; each target's events as one target's run --json prints them, then its counts
    const args = ['run', fixture('attach_counters.o'), '--no-attach', 'tasks', '--duration', '1'];
    const run = check(lens([...args, ...three, '--json']));
    const rsingle = one(args)
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: string }).event);
    for (const x of run.targets.slice(0, 2)) {
      const events = x.events as ({ event: string } & Record<string, unknown>)[];
      assert.ok(
        events.every((e) => !('on' in e)),
        JSON.stringify(events),
      );
      assert.deepEqual(
        events.map((e) => e.event),
        rsingle,
        x.target,
      );
      assert.equal(x.attached, 2);
      assert.match(x.kernel_release as string, /^\d+\.\d+/);
    }
    assert.deepEqual(run.targets[2].events, []);
  },
);
