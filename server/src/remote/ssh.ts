/**
 * SSH targets through the system OpenSSH client (so ~/.ssh/config, agents, ProxyJump and
 * known_hosts behave as users expect). argv arrays only; each remote word is quoted for the
 * remote POSIX shell. The agent bundle is deployed once per content hash and re-used.
 */
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { lstatSync, mkdirSync, statSync } from 'fs';
import { homedir, tmpdir } from 'os';
import { join } from 'path';
import { badHost, badPort, badUser, parseSshSpec } from '../../../protocol/target-spec';
import { TargetError, classifySshFailure } from './errors';
import { AgentClient } from './agent-client';
import { type AgentBundle } from './bundle';

export interface SshTarget {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
  readonly identityFile?: string;
  /** An ssh_config file to use instead of ~/.ssh/config (tests; `-F`). */
  readonly configFile?: string;
  /** Run the agent under `sudo -n` when not root (default true). */
  readonly sudo?: boolean;
  /** node on the target (default: PATH, else the newest under ~/.vscode-server). */
  readonly nodePath?: string;
}

/** `ssh://[user@]host[:port]`, `[user@]host[:port]` or a Host alias (protocol/target-spec.ts); bad-target otherwise. */
export function parseSshTarget(spec: string): SshTarget {
  const r = parseSshSpec(spec);
  if (!r.ok) throw new TargetError('bad-target', r.reason);
  return r.spec;
}

/**
 * bad-target unless every part that reaches ssh's argv is what it claims to be: whatever the
 * spec or the settings (bpfLens.targets: user, port, identityFile, nodePath) said.
 */
export function checkSshTarget(t: SshTarget): void {
  const why =
    badHost(t.host) ??
    (t.user !== undefined ? badUser(t.user) : undefined) ??
    (t.port !== undefined ? badPort(t.port) : undefined) ??
    (t.identityFile !== undefined && /[\0-\x1f]/.test(t.identityFile) ? 'identityFile holds a control character' : undefined) ??
    (t.nodePath !== undefined && /[\0-\x1f]/.test(t.nodePath) ? 'nodePath holds a control character' : undefined);
  if (why) throw new TargetError('bad-target', `not an SSH target: ${why}`);
}

/** One word for a POSIX shell: single-quoted, embedded quotes closed and escaped. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function sshArgv(t: SshTarget, remote: readonly string[]): string[] {
  const a = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', '-e', 'none'];
  a.push(...hostArgs(t), ...muxArgs(t));
  // `--` ends options: a host can never be read as one.
  a.push('--', t.host, remote.map(shQuote).join(' '));
  return a;
}

function hostArgs(t: SshTarget): string[] {
  const a: string[] = [];
  if (t.configFile) a.push('-F', t.configFile);
  if (t.port) a.push('-p', String(t.port));
  if (t.user) a.push('-l', t.user);
  if (t.identityFile) a.push('-i', t.identityFile, '-o', 'IdentitiesOnly=yes');
  return a;
}

/** This user's directory for connection-sharing sockets (0700, owned by us), or undefined when it cannot be had safely. */
function controlDir(): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const d = join(process.env.XDG_RUNTIME_DIR || tmpdir(), `bpf-lens-ssh-${uid}`);
  try {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const st = lstatSync(d);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Connection reuse (OpenSSH ControlMaster): the probe, the deployment and the agent's session
 * to one host share one TCP connection and one authentication, and a master stays 30 s after
 * its last session so the next command reuses it too. Only when the user's ssh config sets no
 * ControlMaster/ControlPath of its own (`ssh -G` asks it; then theirs applies) and not with
 * BPF_LENS_SSH_MUX=0. The socket, in a private directory, is named by a hash of everything
 * ssh would use (`ssh -G`) and of the key and known_hosts files' sizes and times: a changed
 * key, host key list or config never rides on a connection made before the change.
 */
function muxArgs(t: SshTarget): string[] {
  if (process.env.BPF_LENS_SSH_MUX === '0') return [];
  const r = spawnSync('ssh', ['-G', ...hostArgs(t), '--', t.host], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0 || !r.stdout) return [];
  const lines = r.stdout.split('\n');
  const conf = (k: string) => lines.filter((l) => l.startsWith(`${k} `)).map((l) => l.slice(k.length + 1));
  if (conf('controlmaster')[0] !== 'false' || (conf('controlpath')[0] ?? 'none') !== 'none') return [];
  const dir = controlDir();
  if (!dir) return [];
  const h = createHash('sha256').update(r.stdout);
  const files = ['identityfile', 'userknownhostsfile', 'globalknownhostsfile'].flatMap((k) => conf(k).flatMap((v) => v.split(' ')));
  for (const f of files) {
    try {
      const st = statSync(f.replace(/^~(?=\/)/, homedir()));
      h.update(`\0${f}\0${st.size}\0${st.mtimeMs}\0${st.ino}`);
    } catch {
      h.update(`\0${f}\0-`);
    }
  }
  return ['-o', 'ControlMaster=auto', '-o', `ControlPath=${dir}/${h.digest('hex').slice(0, 32)}`, '-o', 'ControlPersist=30'];
}

const label = (t: SshTarget) => `${t.user ? `${t.user}@` : ''}${t.host}${t.port ? `:${t.port}` : ''}`;

/**
 * Runs a remote command without blocking (many hosts go at once); exit 255 is ssh's own
 * failure, classified. Killed after 120 s (an upload to a slow host included).
 */
function run(
  t: SshTarget,
  remote: readonly string[],
  input?: Buffer,
  signal?: AbortSignal,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', sshArgv(t, remote), { stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const take = (into: Buffer[]) => (d: Buffer) => {
      size += d.length;
      if (size > 64 << 20) child.kill('SIGKILL');
      else into.push(d);
    };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    // A ProxyCommand outliving ssh keeps the pipes open: given up means closed here.
    signal?.addEventListener('abort', () => (child.stdout.destroy(), child.stderr.destroy()), { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      if (e.name === 'AbortError') reject(new TargetError('timeout', `ssh to ${label(t)}: given up`));
      else reject(new TargetError('ssh-failed', `could not run ssh: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      if (code === 255) reject(classifySshFailure(label(t), stderr));
      else if (signal) reject(new TargetError('ssh-failed', `ssh to ${label(t)} was killed (${signal}): no answer within 120 s`));
      else resolve({ status: code ?? -1, stdout: Buffer.concat(out).toString(), stderr });
    });
    child.stdin.on('error', () => undefined); // ssh gone before reading it all: its exit says why
    child.stdin.end(input);
  });
}

// Remote probe: finds node and the deployed bundle in one round trip. Fixed text, no user input.
const PROBE = [
  'dir="$HOME/.cache/bpf-lens/agent-$1"',
  'if [ -f "$dir/agent.js" ]; then echo deployed=1; else echo deployed=0; fi',
  'echo home="$HOME"; echo uid="$(id -u)"',
  'n="$2"; if [ -z "$n" ]; then n="$(command -v node 2>/dev/null)"; fi',
  'if [ -z "$n" ]; then n="$(ls -1d "$HOME"/.vscode-server/bin/*/node "$HOME"/.vscode-server/cli/servers/*/server/node 2>/dev/null | while read f; do echo "$(stat -c %Y "$f") $f"; done | sort -n | tail -1 | cut -d" " -f2-)"; fi',
  'echo node="$n"; if [ -n "$n" ]; then echo nodever="$("$n" -v 2>/dev/null)"; fi',
].join('\n');

export interface SshConnectTimings {
  probeMs: number;
  deployMs: number;
  startMs: number;
  deployed: boolean;
}

// Unpacked beside, then renamed into place: a half-finished upload is never mistaken for a
// deployment, and deployers racing on one home (host aliases of a fleet, a shared home) never
// remove a deployment another one is starting from: the first rename wins, the others drop
// theirs. A deployment being replaced (it no longer matches) is moved aside first.
// Fixed text, no user input.
const DEPLOY = [
  'set -e; d="$1"; t="$d.tmp.$$"; mkdir -p "$t"; tar -xzf - -C "$t"',
  'if [ -e "$d" ] && { [ "$2" = replace ] || [ ! -f "$d/agent.js" ]; }; then mv -T "$d" "$d.old.$$" 2>/dev/null || true; rm -rf "$d.old.$$"; fi',
  'if mv -T "$t" "$d" 2>/dev/null; then exit 0; fi',
  'rm -rf "$t"; [ -f "$d/agent.js" ]',
].join('\n');

async function deploy(t: SshTarget, bundle: AgentBundle, dir: string, replace: boolean, signal?: AbortSignal): Promise<void> {
  const r = await run(t, ['sh', '-c', DEPLOY, 'bpf-lens-deploy', dir, replace ? 'replace' : 'new'], bundle.tarGz(), signal);
  if (r.status !== 0) throw new TargetError('ssh-failed', `deploying the agent to ${label(t)}:${dir} failed: ${r.stderr.trim()}`);
}

// Started instead of `node agent.js`: node itself checks every file of the deployment against
// the sha256s this side computed (given as an argument, not read from the target) and only
// then runs the agent, in the same process that sudo started. Fixed text, no user input.
const VERIFIED_START = [
  "const fs = require('fs'), path = require('path'), crypto = require('crypto');",
  'const [dir, sums] = process.argv.slice(1);',
  "for (const line of sums.split('\\n')) {",
  '  const want = line.slice(0, 64), file = line.slice(66);',
  "  let got = '';",
  "  try { got = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, file))).digest('hex'); } catch {}",
  "  if (got !== want) { process.stderr.write('bpf-lens: ' + path.join(dir, file) + ' does not match this BPF Lens: not started\\n'); process.exit(86); }",
  '}',
  "require(path.join(dir, 'agent.js'));",
].join('\n');
const MISMATCH = 86;

/**
 * Starts the deployed agent (under sudo -n when asked) through VERIFIED_START and says hello;
 * undefined when the deployment does not match the bundle.
 */
async function startAgent(
  t: SshTarget,
  bundle: AgentBundle,
  node: string,
  dir: string,
  useSudo: boolean,
  signal?: AbortSignal,
): Promise<AgentClient | undefined> {
  const cmd = [...(useSudo ? ['sudo', '-n', '--'] : []), node, '-e', VERIFIED_START, '--', dir, bundle.sums];
  const child = spawn('ssh', sshArgv(t, cmd), { stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
  child.on('error', () => undefined); // aborted: the hello below fails
  const client = new AgentClient(label(t), child);
  try {
    await client.hello();
    return client;
  } catch (e) {
    const err = client.stderrText;
    await client.close();
    if (child.exitCode === MISMATCH) return undefined;
    if (child.exitCode === 255) throw classifySshFailure(label(t), err);
    // sudo -n says "a password is required" both without a sudoers entry and with one that asks
    // for a password; "not in the sudoers file" only once a password was given.
    const who = t.user ?? 'the SSH user';
    if (useSudo && /sudo: (a password is required|a terminal is required)|is not in the sudoers|may not run sudo/i.test(err))
      throw new TargetError(
        'no-sudo',
        `${who} on ${label(t)} is not root and cannot run the agent with sudo -n (no sudo rights, or sudo wants a password): allow passwordless sudo for it (sudoers: ${who} ALL=(root) NOPASSWD: ${node}), or connect as root`,
        err.trim(),
      );
    if (useSudo && /sudo: (command )?not found/.test(err))
      throw new TargetError(
        'no-sudo',
        `${who} on ${label(t)} is not root and sudo is not installed there: install sudo and allow ${who} passwordless sudo for ${node}, or connect as root`,
        err.trim(),
      );
    throw e;
  }
}

/** Connects: probe, deploy if needed, start the agent (under sudo -n when not root), hello. */
export async function connectSsh(
  t: SshTarget,
  bundle: AgentBundle,
  timings?: Partial<SshConnectTimings>,
  signal?: AbortSignal,
): Promise<AgentClient> {
  checkSshTarget(t);
  let t0 = performance.now();
  const p = await run(t, ['sh', '-c', PROBE, 'bpf-lens-probe', bundle.hash, t.nodePath ?? ''], undefined, signal);
  const kv = Object.fromEntries(p.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  if (timings) timings.probeMs = performance.now() - t0;
  const node = kv.node;
  if (!node)
    throw new TargetError(
      'no-node',
      `no node on ${label(t)}: install Node.js 20+ there, or set nodePath (VS Code Remote-SSH's node under ~/.vscode-server is also found)`,
    );
  const major = Number(/^v(\d+)/.exec(kv.nodever ?? '')?.[1] ?? 0);
  if (major < 20)
    throw new TargetError(
      'node-too-old',
      `node on ${label(t)} (${node}) is ${kv.nodever || 'not runnable'}: BPF Lens's agent needs Node.js 20 or newer; set nodePath to a newer one`,
    );
  const dir = `${kv.home}/.cache/bpf-lens/agent-${bundle.hash}`;
  t0 = performance.now();
  if (kv.deployed !== '1') await deploy(t, bundle, dir, false, signal);
  if (timings) {
    timings.deployMs = performance.now() - t0;
    timings.deployed = kv.deployed !== '1';
  }
  t0 = performance.now();
  const useSudo = kv.uid !== '0' && t.sudo !== false;
  let client = await startAgent(t, bundle, node, dir, useSudo, signal);
  if (!client) {
    // The deployment there is not this bundle any more (changed or damaged): replace it, once.
    await deploy(t, bundle, dir, true, signal);
    if (timings) timings.deployed = true;
    client = await startAgent(t, bundle, node, dir, useSudo, signal);
    if (!client)
      throw new TargetError(
        'ssh-failed',
        `the agent deployed to ${label(t)}:${dir} does not match this BPF Lens even after deploying it again: not started`,
      );
  }
  if (timings) timings.startMs = performance.now() - t0;
  return client;
}
