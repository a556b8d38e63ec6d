/**
 * SSH targets through the system OpenSSH client (so ~/.ssh/config, agents, ProxyJump and
 * known_hosts behave as users expect). argv arrays only; each remote word is quoted for the
 * remote POSIX shell. The agent bundle is deployed once per content hash and re-used.
 */
import { spawn, spawnSync } from 'child_process';
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
  if (t.configFile) a.push('-F', t.configFile);
  if (t.port) a.push('-p', String(t.port));
  if (t.user) a.push('-l', t.user);
  if (t.identityFile) a.push('-i', t.identityFile, '-o', 'IdentitiesOnly=yes');
  // `--` ends options: a host can never be read as one.
  a.push('--', t.host, remote.map(shQuote).join(' '));
  return a;
}

const label = (t: SshTarget) => `${t.user ? `${t.user}@` : ''}${t.host}${t.port ? `:${t.port}` : ''}`;

/** Runs a remote command; exit 255 is ssh's own failure, classified. */
function run(t: SshTarget, remote: readonly string[], input?: Buffer): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ssh', sshArgv(t, remote), { input, maxBuffer: 64 << 20, timeout: 60_000 });
  const stderr = r.stderr?.toString() ?? '';
  if (r.error) throw new TargetError('ssh-failed', `could not run ssh: ${r.error.message}`);
  if (r.status === 255) throw classifySshFailure(label(t), stderr);
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr };
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

/** Unpacked beside, then renamed: a half-finished upload is never mistaken for a deployment. */
function deploy(t: SshTarget, bundle: AgentBundle, dir: string): void {
  const script = 'set -e; d="$1"; t="$d.tmp.$$"; mkdir -p "$t"; tar -xzf - -C "$t"; rm -rf "$d"; mv "$t" "$d"';
  const r = run(t, ['sh', '-c', script, 'bpf-lens-deploy', dir], bundle.tarGz());
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
): Promise<AgentClient | undefined> {
  const cmd = [...(useSudo ? ['sudo', '-n', '--'] : []), node, '-e', VERIFIED_START, '--', dir, bundle.sums];
  const child = spawn('ssh', sshArgv(t, cmd), { stdio: ['pipe', 'pipe', 'pipe'] });
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
export async function connectSsh(t: SshTarget, bundle: AgentBundle, timings?: Partial<SshConnectTimings>): Promise<AgentClient> {
  checkSshTarget(t);
  let t0 = performance.now();
  const p = run(t, ['sh', '-c', PROBE, 'bpf-lens-probe', bundle.hash, t.nodePath ?? '']);
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
  if (kv.deployed !== '1') deploy(t, bundle, dir);
  if (timings) {
    timings.deployMs = performance.now() - t0;
    timings.deployed = kv.deployed !== '1';
  }
  t0 = performance.now();
  const useSudo = kv.uid !== '0' && t.sudo !== false;
  let client = await startAgent(t, bundle, node, dir, useSudo);
  if (!client) {
    // The deployment there is not this bundle any more (changed or damaged): replace it, once.
    deploy(t, bundle, dir);
    if (timings) timings.deployed = true;
    client = await startAgent(t, bundle, node, dir, useSudo);
    if (!client)
      throw new TargetError(
        'ssh-failed',
        `the agent deployed to ${label(t)}:${dir} does not match this BPF Lens even after deploying it again: not started`,
      );
  }
  if (timings) timings.startMs = performance.now() - t0;
  return client;
}
