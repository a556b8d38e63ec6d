/**
 * Test targets `qemu:6.1` and `qemu:6.12`: Debian's kernel boots under qemu (TCG) with this
 * machine's root shared read-only over 9p; the guest's /init runs dist/agent.js (as root) with
 * its stdio on a virtio-serial port, which qemu connects to a unix socket here. The caller gets
 * the same AgentClient as for `local` and SSH targets. (A raw second UART hung: its tty line
 * discipline sat between the agent and the socket; a virtio port is a plain byte pipe.)
 * `close()` asks the agent to shut down, and the guest then powers off; `kill()` is the hard
 * stop for t.after, and a process exit hook kills any qemu still running.
 */
import { type ChildProcess, spawn } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createConnection, type Socket } from 'net';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './helpers';
import { busyboxBase, newcArchive, type InitramfsEntry } from './initramfs';
import { debianKernel, type DebianKernelVersion } from './kernels';
import { hostRootInit } from './qemu-host-root';
import * as P from '../protocol/agent';
import { AgentClient, connectTarget } from '../server/src/remote';

export type TestTargetSpec = 'local' | 'ssh' | `qemu:${DebianKernelVersion}`;

// virtio_console is built in on 6.12, a module on 6.1.
const MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_console',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
];
const PORT_NAME = 'bpflens.agent';

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

function init(modules: readonly string[]): string {
  const setup = `port=
for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name)" = ${PORT_NAME} ] && port=/dev/\${p##*/}; done
[ -n "$port" ] || echo "@@NOPORT"
# Open the port before announcing it: bytes reaching a port nobody holds open are dropped.
exec 3<>$port
echo "@@AGENT"`;
  const agent = `${process.execPath} ${path.join(ROOT, 'dist', 'agent.js')} <&3 >&3`;
  return hostRootInit(modules, agent, setup, { cache: 'loose', after: 'echo "@@AGENT-EXIT $?"\nexec 3>&-' });
}

// Last resort when the test process exits without close/kill. (If it is killed outright, the
// socket closes, the agent reads end-of-file and exits, and /init powers the guest off.)
const running = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [q, dir] of running) {
    if (q.exitCode === null && q.signalCode === null) q.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

function connectSocket(file: string, deadline: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection(file);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        s.destroy();
        if (Date.now() > deadline) reject(e);
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

/** `extraKo`: more modules (built outside the kernel package, e.g. the struct_ops test module) insmod'ed before the agent starts. */
export async function startQemuTarget(
  version: DebianKernelVersion,
  o: { memMb?: number; bootTimeoutMs?: number; extraKo?: readonly string[] } = {},
): Promise<TestTarget> {
  const k = debianKernel(version);
  const byName = new Map(k.modules().map((p) => [path.basename(p, '.ko'), p]));
  for (const ko of o.extraKo ?? []) byName.set(path.basename(ko, '.ko'), ko);
  const modules = [...MODULES.filter((m) => byName.has(m)), ...(o.extraKo ?? []).map((ko) => path.basename(ko, '.ko'))];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpflens-qt-'));
  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync('/bin/busybox')),
    { path: 'm', type: 'dir' },
    ...modules.map((m) => ({ path: `m/${m}.ko`, type: 'file' as const, data: readFileSync(byName.get(m)!) })),
    { path: 'init', type: 'file', data: init(modules), mode: 0o755 },
  ];
  const initrd = path.join(dir, 'initramfs.cpio');
  writeFileSync(initrd, newcArchive(files));
  const sock = path.join(dir, 'agent.sock');
  const t0 = performance.now();
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-accel',
      'tcg',
      '-m',
      String(o.memMb ?? 1024),
      '-display',
      'none',
      '-monitor',
      'none',
      '-no-reboot',
      '-nodefaults',
      '-serial',
      'stdio',
      '-kernel',
      k.vmlinuz,
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0 panic=-1 loglevel=3',
      '-virtfs',
      'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      '-device',
      'virtio-serial-pci',
      '-chardev',
      `socket,id=agent,path=${sock},server=on,wait=off`,
      '-device',
      `virtserialport,chardev=agent,name=${PORT_NAME}`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  running.set(qemu, dir);
  let consoleText = '';
  qemu.stdout.on('data', (d: Buffer) => {
    consoleText = (consoleText + d.toString('latin1')).slice(-65536);
  });
  const exited = new Promise<void>((r) => qemu.once('exit', () => r()));
  const kill = () => {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    running.delete(qemu);
  };
  const consoleTail = () => consoleText.replace(/\r\n/g, '\n').slice(-3000);
  try {
    const deadline = Date.now() + (o.bootTimeoutMs ?? 60_000);
    // qemu creates the socket before the guest starts; connect first so the guest never sees
    // a port without a host (its reads would end at once).
    const socket = await connectSocket(sock, deadline);
    socket.on('error', () => undefined); // a guest gone mid-write shows up as the agent ending
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (consoleText.includes('@@AGENT\r\n') || consoleText.includes('@@AGENT\n')) {
          clearInterval(timer);
          resolve();
        } else if (/@@NOPORT|@@INSMOD|@@MOUNT/.test(consoleText)) {
          clearInterval(timer);
          reject(new Error('guest setup failed'));
        } else if (qemu.exitCode !== null || Date.now() > deadline) {
          clearInterval(timer);
          reject(new Error(qemu.exitCode !== null ? `qemu exited (${qemu.exitCode})` : 'the guest did not start the agent in time'));
        }
      }, 10);
    });
    const client = new AgentClient(`qemu:${version}`, qemu, socket, socket);
    await client.hello();
    const connectMs = performance.now() - t0;
    return {
      spec: `qemu:${version}`,
      client,
      connectMs,
      kill,
      console: consoleTail,
      async close() {
        try {
          await Promise.race([client.conn.sendRequest(P.shutdown), new Promise((r) => setTimeout(r, 3000).unref())]);
        } catch {
          /* gone already */
        }
        // Hang up too: the agent's stdin (a character device, read in a libuv worker) stays
        // blocked in read() and node does not exit until it returns (seen: ~10 s, until the
        // next bytes arrived); the port's read returns end-of-file once the host side closes.
        socket.end();
        // The agent exits, /init powers off, qemu ends by itself.
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
        const clean = qemu.exitCode === 0 && consoleText.includes('@@AGENT-EXIT 0');
        await client.close();
        kill();
        return clean;
      },
    };
  } catch (e) {
    kill();
    throw new Error(`qemu:${version}: ${(e as Error).message}\n${consoleTail()}`, { cause: e });
  }
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
