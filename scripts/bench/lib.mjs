// What every benchmark section shares: the checkout's paths, building what a section needs,
// timing processes against a reference in the same run, and saying whether a goal was met.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Rounds per comparison. 15 by default: a cold process's time varies by ±5 ms here, as much as
 * some whole bpftool runs, and a median of 5 rounds let a command's verdict flip run to run.
 */
export const RUNS = Number(process.env.BENCH_RUNS ?? 15);
export const VMLINUX = process.env.BENCH_VMLINUX ?? '/sys/kernel/btf/vmlinux';
export const CLI = path.join(ROOT, 'bin', 'bpf-lens.js');
export const FIXTURES = path.join(ROOT, 'build', 'fixtures');
export const EXAMPLES = path.join(ROOT, 'examples', 'build');
const require = createRequire(import.meta.url);

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
export const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
export const fmtMs = (x) => `${x.toFixed(1)} ms`;
/** Milliseconds since a process.hrtime.bigint() mark. */
export const since = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** `MET` or `MISSED` for a measured value against an upper bound. */
export const verdict = (value, goal) => (value <= goal ? 'MET' : 'MISSED');

/** The newest modification time of the files below `dir` whose names end in one of `exts`. */
function newest(dir, exts) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const stale = (output, sources) => !existsSync(output) || statSync(output).mtimeMs < sources();
const sourcesTime = () => Math.max(...['server', 'client', 'protocol', 'test'].map((d) => newest(path.join(ROOT, d), ['.ts'])));

function run(cmd, args, what) {
  console.log(`   (building: ${what})`);
  execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Builds a make directory unless `make -q` says it is up to date (then nothing is printed). */
function make(dir) {
  if (spawnSync('make', ['-s', '-q', '-C', dir], { cwd: ROOT, stdio: 'ignore' }).status !== 0)
    run('make', ['-s', '-C', dir], `make -C ${dir}`);
}

/** What a section may need from the machine: [file on PATH or absolute path, Debian package]. */
const TOOLS = {
  bpftool: ['bpftool', 'bpftool'],
  clang: ['clang', 'clang'],
  make: ['make', 'make'],
  libbpf: ['/usr/include/bpf/bpf_helpers.h', 'libbpf-dev'],
  qemu: ['qemu-system-x86_64', 'qemu-system-x86'],
  sshd: ['/usr/sbin/sshd', 'openssh-server'],
  cilium: ['/usr/share/gocode/src/github.com/cilium/ebpf/testdata', 'golang-github-cilium-ebpf-dev'],
};
/** Builds need these tools too. */
const BUILD_TOOLS = { fixtures: ['make', 'clang', 'bpftool', 'libbpf'], examples: ['make', 'clang', 'bpftool', 'libbpf'] };

const onPath = (file) =>
  file.startsWith('/') ? existsSync(file) : (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, file)));

/** The tools in `needs` (and those its builds need) missing on this machine, as one message naming the packages. */
export function missingTools(needs) {
  const tools = new Set(needs.flatMap((n) => [...(TOOLS[n] ? [n] : []), ...(BUILD_TOOLS[n] ?? [])]));
  const missing = [...tools].filter((t) => !onPath(TOOLS[t][0]));
  if (!missing.length) return undefined;
  const pkgs = [...new Set(missing.map((t) => TOOLS[t][1]))];
  return `needs ${missing.map((t) => TOOLS[t][0]).join(', ')}: apt-get install ${pkgs.join(' ')} (or run scripts/setup.sh)`;
}

/**
 * Builds what a section needs, when missing or older than its sources, so a fresh clone can
 * run any bench: `out` (tsc), `dist` (webpack bundles), `fixtures` and `examples` (clang); checks
 * `root` (bpf(2) needs it), mounts `bpffs`, and checks the tools named in TOOLS. Throws a
 * one-line reason when the machine lacks something.
 */
export function ensure(needs) {
  const missing = missingTools(needs);
  if (missing) throw new Error(missing);
  if (needs.includes('root') && process.getuid?.() !== 0) throw new Error('needs root: bpf(2) loads programs (sudo npm run bench...)');
  if (needs.includes('bpffs') && spawnSync('mountpoint', ['-q', '/sys/fs/bpf']).status !== 0) {
    const r = spawnSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf'], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`needs bpffs on /sys/fs/bpf (pins): mount -t bpf bpf /sys/fs/bpf failed: ${(r.stderr ?? '').trim()}`);
  }
  if (needs.includes('out') && stale(path.join(ROOT, 'out', 'server', 'src', 'cli', 'main.js'), sourcesTime)) {
    run('npx', ['tsc', '-p', '.'], 'npx tsc -p .');
  }
  if (needs.includes('dist') && stale(path.join(ROOT, 'dist', 'cli.js'), sourcesTime))
    run('npm', ['run', '--silent', 'build'], 'npm run build');
  if (needs.includes('fixtures')) make('test/fixtures');
  if (needs.includes('examples')) make('examples');
}

/** A compiled engine module from out/server/src (after ensure(['out'])). */
export const engine = (mod) => require(path.join(ROOT, 'out', 'server', 'src', mod));
/** A compiled test helper from out/test. */
export const testModule = (mod) => require(path.join(ROOT, 'out', 'test', mod));

/** Wall time of one run of a command, stdout to /dev/null; throws when it fails. */
export function wall(cmd, args, opts = {}) {
  const devnull = openSync('/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', devnull, 'pipe'], ...opts });
    const t = since(t0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return t;
  } finally {
    closeSync(devnull);
  }
}

/**
 * Every run of each command: RUNS rounds, each command once per round in a fresh random order
 * (load on a shared machine hits each alike, and no command always runs right after another:
 * the order alone moved a process's time by ~2.5 ms here). A command is [cmd, args] or a
 * function returning a time.
 */
export function rounds(cmds, runs = RUNS) {
  const times = cmds.map(() => []);
  for (let i = 0; i < runs; i++) {
    const order = cmds.map((_, k) => k);
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(Math.random() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    for (const k of order) {
      const c = cmds[k];
      times[k].push(typeof c === 'function' ? c() : wall(c[0], c[1], c[2]));
    }
  }
  return times;
}

/** Median wall times of several commands over `rounds`. */
export function race(cmds, runs = RUNS) {
  return rounds(cmds, runs).map(median);
}

/** Left-aligned table rows with a header, for section output. */
export function table(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  return [head, ...rows].map((r) => r.map((c, i) => String(c).padEnd(w[i])).join('  '));
}
