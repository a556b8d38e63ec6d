/**
 * A real SSH host for tests: Debian's sshd inside a network namespace the test creates (veth
 * pair, its own address), a generated host key, key-only auth, and an ssh_config of its own so
 * the user's ~/.ssh is never read or written. A non-root system user made for the host (no
 * sudo rights unless allowSudo) logs in with the same key. `stop()` removes sshd, the
 * namespace, the user and its sudoers drop-in.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import assert from 'assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CLI } from './helpers';

export interface SshHost {
  readonly dir: string;
  readonly addr: string;
  /** Home of the remote sessions (deployments land under it). */
  readonly home: string;
  /** ssh_config with Host `bpflens-test` (and a Host * block for the address). */
  readonly config: string;
  readonly key: string;
  readonly knownHosts: string;
  /** A non-root user on the host (home under dir); key auth with `key`. */
  readonly user: string;
  readonly userHome: string;
  /** Lets `user` run anything with sudo without a password (a /etc/sudoers.d drop-in), or not. */
  allowSudo(on: boolean): void;
  /**
   * sshd ports: 22 normal; 2222 sessions whose PATH has no node; 2223 sessions in a mount
   * namespace where /sys/kernel/btf is an empty tmpfs (a kernel without BTF, as the agent sees it).
   */
  stop(): void;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export function startSshHost(): SshHost {
  const id = `${process.pid % 10000}`;
  const ns = `bpflens-ssh-${id}`;
  const net = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
  const addr = `${net}.2`;
  const dir = mkdtempSync(join(tmpdir(), 'bpflens-ssh-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  // The non-root user reads authorized_keys and its home through dir.
  chmodSync(dir, 0o711);
  const user = `bpflens-t${process.pid}`;
  const userHome = join(dir, 'uhome');
  const sudoers = `/etc/sudoers.d/${user}`;
  let userAdded = false;
  const procs: ChildProcess[] = [];
  const stop = () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    // The daemons' session processes outlive them, and once the namespace's link is gone no
    // client ever closes their connections: every process still in the namespace goes too.
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    } catch {
      /* not created */
    }
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      /* not created */
    }
    try {
      sh('ip', ['link', 'del', `bl${id}h`]);
    } catch {
      /* gone with the namespace */
    }
    rmSync(sudoers, { force: true });
    // -f: the user's last sessions may still be closing.
    if (userAdded)
      try {
        sh('userdel', ['-f', user]);
      } catch {
        /* already gone */
      }
    rmSync(dir, { recursive: true, force: true });
  };
  const allowSudo = (on: boolean) => {
    if (on) writeFileSync(sudoers, `${user} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
    else rmSync(sudoers, { force: true });
  };
  try {
    // A user left by an earlier run that had this pid and died before stop().
    try {
      sh('id', [user]);
      sh('userdel', ['-f', user]);
    } catch {
      /* none */
    }
    // '*': no password, but not locked (sshd without PAM refuses locked accounts, even by key)
    sh('useradd', ['--system', '--user-group', '--no-create-home', '--password', '*', '--home-dir', userHome, '--shell', '/bin/sh', user]);
    userAdded = true;
    mkdirSync(userHome, { mode: 0o700 });
    sh('chown', [`${user}:${user}`, userHome]);
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', `bl${id}h`, 'type', 'veth', 'peer', 'name', `bl${id}n`]);
    sh('ip', ['link', 'set', `bl${id}n`, 'netns', ns]);
    sh('ip', ['addr', 'add', `${net}.1/24`, 'dev', `bl${id}h`]);
    sh('ip', ['link', 'set', `bl${id}h`, 'up']);
    sh('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${addr}/24`, 'dev', `bl${id}n`]);
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', `bl${id}n`, 'up']);
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    for (const k of ['host', 'user', 'other']) sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', k, '-f', join(dir, k)]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user.pub')));
    // A PATH without node: the tools the remote scripts use, nothing else.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const t of ['sh', 'id', 'ls', 'stat', 'sort', 'tail', 'cut', 'tar', 'gzip', 'mkdir', 'rm', 'mv', 'cat'])
      symlinkSync(sh('sh', ['-c', `command -v ${t}`]).trim(), join(bin, t));
    mkdirSync('/run/sshd', { recursive: true });
    const sshdConf = (port: number, extra: string) => {
      const f = join(dir, `sshd-${port}.conf`);
      writeFileSync(
        f,
        [
          `Port ${port}`,
          `ListenAddress ${addr}`,
          `HostKey ${join(dir, 'host')}`,
          'PidFile none',
          'UsePAM no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PubkeyAuthentication yes',
          'PermitRootLogin prohibit-password',
          `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
          'StrictModes no',
          // root's sessions get a home of their own under dir; the user keeps its passwd home
          'Match User root',
          `  SetEnv HOME=${home} ${extra}`,
          ...(extra ? [`Match User ${user}`, `  SetEnv ${extra}`] : []),
          '',
        ].join('\n'),
      );
      return f;
    };
    for (const [port, extra] of [
      [22, ''],
      [2222, `PATH=${bin}`],
    ] as const) {
      const p = spawn('ip', ['netns', 'exec', ns, '/usr/sbin/sshd', '-D', '-e', '-f', sshdConf(port, extra)], { stdio: 'ignore' });
      procs.push(p);
    }
    // unshare -m makes the mount private to this sshd and its sessions; sh then execs sshd, so
    // the pid killed in stop() is sshd's.
    const noBtf = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o size=64k,mode=0755 bpflens-no-btf /sys/kernel/btf && exec /usr/sbin/sshd -D -e -f "$0"',
        sshdConf(2223, ''),
      ],
      { stdio: 'ignore' },
    );
    procs.push(noBtf);
    const hostPub = readFileSync(join(dir, 'host.pub'), 'latin1').trim().split(' ').slice(0, 2).join(' ');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${addr} ${hostPub}\n[${addr}]:2222 ${hostPub}\n[${addr}]:2223 ${hostPub}\n`);
    const config = join(dir, 'ssh_config');
    writeFileSync(
      config,
      [
        'Host bpflens-test',
        `  HostName ${addr}`,
        '',
        'Host *',
        '  User root',
        `  IdentityFile ${join(dir, 'user')}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHosts}`,
        '  GlobalKnownHostsFile /dev/null',
        '  ConnectTimeout 5',
        '',
      ].join('\n'),
    );
    // Wait until each sshd answers (they start in a few ms; give them up to 5 s).
    for (const port of ['22', '2222', '2223']) {
      for (let i = 0; ; i++) {
        try {
          sh('ssh', ['-F', config, '-o', 'BatchMode=yes', '-p', port, 'bpflens-test', 'true']);
          break;
        } catch (e) {
          if (i > 50) throw e;
          execFileSync('sleep', ['0.1']);
        }
      }
    }
    return { dir, addr, home, config, key: join(dir, 'user'), knownHosts, user, userHome, allowSudo, stop };
  } catch (e) {
    stop();
    throw e;
  }
}

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `bpf-lens ARGS` as a user runs it against `host` (ssh reads the host's ssh_config), and a
 * check that a run fails as a target error: exit 2, stderr `error (<code>): ...`.
 */
export function cliOn(host: SshHost): { run: (args: string[]) => CliRun; fails: (args: string[], code: string) => CliRun } {
  const env = { ...process.env, BPF_LENS_SSH_CONFIG: host.config };
  const run = (args: string[]): CliRun => {
    const r = spawnSync(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
    return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const fails = (args: string[], code: string): CliRun => {
    const r = run(args);
    assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^error \\(${code}\\): `), r.stderr);
    return r;
  };
  return { run, fails };
}
