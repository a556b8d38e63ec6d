/**
 * VM targets: a kernel image booted under qemu with BPF Lens's agent inside. The guest sees
 * this machine's root read-only over virtio 9p (so node and the agent bundle are the ones
 * here); its /init (busybox, in an initramfs built here) inserts the virtio/9p drivers the
 * kernel does not build in, mounts the host root, opens a virtio-serial port and runs the
 * agent chrooted there with its stdio on that port, which qemu joins to a unix socket here.
 * KVM when /dev/kvm can be opened, TCG (emulation, slow) otherwise. qemu is spawned with an
 * argv array, never a shell; nothing of the spec reaches the guest's shell but file contents
 * it names.
 */
import { type ChildProcess, spawn, spawnSync } from 'child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'fs';
import { createConnection, type Socket } from 'net';
import { arch, tmpdir } from 'os';
import { basename, dirname, join } from 'path';
import { gunzipSync } from 'zlib';
import type { VmSpec } from '../../../protocol/target-spec';
import { AgentClient } from './agent-client';
import { TargetError } from './errors';
import { busyboxBase, type InitramfsEntry, newcArchive } from './initramfs';

/** What mounting the host root over virtio 9p and the agent's virtio port take, in insertion order; later kernels build some in. */
export const VM_DRIVER_MODULES = [
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
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

export type VmAccel = 'kvm' | 'tcg';

export interface VmOptions {
  /** The directory holding dist/agent.js and node_modules (productRoot()). */
  readonly root: string;
  /** How errors and the agent name the target (the spec as written, or the settings name). */
  readonly label: string;
  readonly bootTimeoutMs?: number;
  /** One line per step worth telling a person who waits (booting, with which accelerator). */
  readonly onStatus?: (line: string) => void;
  /** Aborted while booting (--timeout): qemu is killed, its files removed, and the boot fails as `timeout`. */
  readonly signal?: AbortSignal;
}

/** KVM when /dev/kvm opens read-write (it exists and this user may use it). */
export function vmAccel(): VmAccel {
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

export const accelText = (a: VmAccel) => (a === 'kvm' ? 'KVM' : 'TCG (no usable /dev/kvm: emulated, slow)');

/** The release an x86 bzImage names in its boot header (`kernel_version`), or undefined when it has none. */
export function bzImageRelease(file: string): string | undefined {
  const head = Buffer.alloc(0x4000);
  let n: number;
  const fd = openSync(file, 'r');
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const at = head.readUInt16LE(0x20e) + 0x200;
  if (at <= 0x200 || at >= n) return undefined;
  const end = head.indexOf(0, at);
  const release = head.toString('latin1', at, end < 0 ? n : end).split(' ')[0];
  return /^[A-Za-z0-9._+~-]{1,64}$/.test(release) ? release : undefined;
}

/** Every module file under `dir` by name (`9pnet_virtio` → its .ko, .ko.xz, .ko.zst or .ko.gz). */
function moduleFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else {
        const m = /^(.+)\.ko(?:\.(?:xz|zst|gz))?$/.exec(e.name);
        if (m && !out.has(m[1])) out.set(m[1], p);
      }
    }
  };
  walk(dir, 0);
  return out;
}

/** A module's ELF bytes: busybox's insmod takes plain .ko files, so compressed ones are unpacked here (argv only). */
function moduleBytes(file: string, label: string): Buffer {
  if (file.endsWith('.gz')) return gunzipSync(readFileSync(file));
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : undefined;
  if (!tool) return readFileSync(file);
  const r = spawnSync(tool, ['-dc', '--', file], { maxBuffer: 256 << 20 });
  if (r.status !== 0 || r.error)
    throw new TargetError('bad-target', `${label}: cannot unpack ${file} with ${tool}: ${r.error?.message ?? r.stderr.toString().trim()}`);
  return r.stdout;
}

/** The modules directory: given, else `modules/` beside the image (scripts/debian-kernel.sh's layout), else /lib/modules/RELEASE. */
function modulesDir(spec: VmSpec, release: string | undefined): string | undefined {
  if (spec.modules !== undefined) return spec.modules;
  const beside = join(dirname(spec.kernel), 'modules');
  if (existsSync(beside)) return beside;
  const sys = release ? `/lib/modules/${release}` : undefined;
  return sys && existsSync(sys) ? sys : undefined;
}

/** One word for the guest's POSIX shell. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * For tests only (BPF_LENS_TEST_VM_HIDE_BTF=1): an empty tmpfs over the guest's /sys/kernel/btf,
 * so that a kernel with BTF looks like one built without it (no Debian kernel lacks BTF).
 */
const HIDE_BTF = `mount -t tmpfs nobtf /host/sys/kernel/btf && echo "bpf-lens test: /sys/kernel/btf hidden (BPF_LENS_TEST_VM_HIDE_BTF)"\n`;

function initScript(modules: readonly string[], node: string, agent: string, hideBtf: boolean): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
${modules.map((m, i) => `insmod /m/${i}.ko || echo "@@INSMOD ${m}"`).join('\n')}
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || echo "@@MOUNT"
mount --bind /proc /host/proc
mount --bind /sys /host/sys
mount --bind /dev /host/dev
mount -t bpf bpf /host/sys/fs/bpf
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
${hideBtf ? HIDE_BTF : ''}port=
for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name)" = ${PORT_NAME} ] && port=/dev/\${p##*/}; done
[ -n "$port" ] || echo "@@NOPORT"
# Open the port before announcing it: bytes reaching a port nobody holds open are dropped.
exec 3<>$port
echo "@@AGENT"
# node as the editor runs it: VS Code's own binary acts as node only with this set
export ELECTRON_RUN_AS_NODE=1
chroot /host ${q(node)} ${q(agent)} <&3 >&3
echo "@@AGENT-EXIT $?"
exec 3>&-
poweroff -f
`;
}

/** The initramfs: busybox, the driver modules this kernel ships (and `insmod`), /init. */
function buildInitramfs(spec: VmSpec, label: string, root: string): { bytes: Buffer; modules: string[]; release?: string } {
  const release = bzImageRelease(spec.kernel);
  const dir = modulesDir(spec, release);
  const byName = dir ? moduleFiles(dir) : new Map<string, string>();
  const extra: [string, string][] = [];
  for (const m of spec.insmod ?? []) {
    const file = m.includes('/') || /\.ko(\.(xz|zst|gz))?$/.test(m) ? m : byName.get(m);
    if (!file || !existsSync(file))
      throw new TargetError(
        'bad-target',
        `${label}: insmod ${m}: ${file ? 'no such file' : `no module of that name under ${dir ?? '(no modules directory: give modules=DIR)'}`}`,
      );
    extra.push([basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, ''), file]);
  }
  const drivers = VM_DRIVER_MODULES.filter((m) => byName.has(m)).map((m): [string, string] => [m, byName.get(m)!]);
  const all = [...drivers, ...extra];
  const busybox = BUSYBOX.find((b) => existsSync(b));
  if (!busybox)
    throw new TargetError(
      'no-qemu',
      `${label}: VM targets need a static busybox for the guest's /init (Debian/Ubuntu: apt install busybox-static)`,
    );
  const files: InitramfsEntry[] = [
    ...busyboxBase(readFileSync(busybox)),
    { path: 'm', type: 'dir' },
    ...all.map(([, f], i) => ({ path: `m/${i}.ko`, type: 'file' as const, data: moduleBytes(f, label) })),
    {
      path: 'init',
      type: 'file',
      data: initScript(
        all.map(([n]) => n),
        process.execPath,
        join(root, 'dist', 'agent.js'),
        process.env.BPF_LENS_TEST_VM_HIDE_BTF === '1',
      ),
      mode: 0o755,
    },
  ];
  return { bytes: newcArchive(files), modules: all.map(([n]) => n), ...(release ? { release } : {}) };
}

function qemuArgv(spec: VmSpec, accel: VmAccel, initrd: string, sock: string): string[] {
  return [
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
    '-m',
    String(spec.memory ?? 1024),
    '-smp',
    String(spec.cpus ?? 1),
    '-display',
    'none',
    '-monitor',
    'none',
    '-no-reboot',
    '-nodefaults',
    '-serial',
    'stdio',
    '-kernel',
    spec.kernel,
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
  ];
}

// Last resort when this process exits with guests still running. (Killed outright, the socket
// closes, the agent reads end-of-file and exits, and /init powers the guest off.)
const running = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [qemu, dir] of running) {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

function connectSocket(file: string, deadline: number, gone: () => boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = createConnection(file);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        s.destroy();
        if (gone() || Date.now() > deadline) reject(e);
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

/** A VM target's agent: the guest's console, how it was booted, and a close that lets the guest power off. */
export class VmAgentClient extends AgentClient {
  /** Set by close(): the agent exited 0 and the guest powered off by itself. */
  cleanExit?: boolean;

  constructor(
    label: string,
    qemu: ChildProcess,
    socket: Socket,
    readonly vm: { readonly accel: VmAccel; readonly bootMs: number; readonly modules: readonly string[] },
    private readonly consoleText: () => string,
  ) {
    // The agent's stdin in the guest (a character device read in a libuv worker) stays blocked
    // until the host side hangs up: end the socket, then give the guest time to power off.
    super(label, qemu, socket, socket, {
      hangUp: () => socket.end(),
      exitGraceMs: 15_000,
      onExit: () => {
        this.cleanExit = qemu.exitCode === 0 && /@@AGENT-EXIT 0\r?\n/.test(this.consoleText());
      },
    });
  }

  /** The guest's serial console, last `lines` lines. */
  console(lines = 40): string {
    return consoleTail(this.consoleText(), lines);
  }
}

const MARKER = /@@[A-Z][A-Z-]*.*$/;

/**
 * The console's last `lines` lines as a user reads them: without /init's `@@` markers, which are
 * this program's signals (what they mean is said in the error's own words).
 */
export const consoleTail = (text: string, lines: number): string =>
  text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .flatMap((l) => {
      const shown = l.replace(MARKER, '');
      return shown !== l && !shown.trim() ? [] : [shown];
    })
    .join('\n')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .join('\n');

/** Why the guest did not start the agent, from its console and qemu's own complaints. */
function bootFailure(label: string, spec: VmSpec, consoleText: string, qemuErr: string, why: string, release?: string): TargetError {
  const insmod = /@@INSMOD (\S+)/.exec(consoleText)?.[1];
  const hint = insmod
    ? `the module ${insmod} did not insert (modules=DIR must be this kernel's modules)`
    : /@@MOUNT/.test(consoleText)
      ? "the guest could not mount this machine's root over virtio 9p: the kernel needs CONFIG_NET_9P_VIRTIO and CONFIG_9P_FS, built in or as modules under modules=DIR"
      : /@@NOPORT/.test(consoleText)
        ? 'the guest has no virtio console port: the kernel needs CONFIG_VIRTIO_CONSOLE, built in or as a module under modules=DIR'
        : release === undefined && !consoleText.trim()
          ? `${spec.kernel} has no Linux boot header (not an x86 bzImage?) and printed nothing`
          : why;
  const detail = [qemuErr.trim() && `qemu: ${qemuErr.trim().split('\n').slice(-5).join('\n')}`, consoleTail(consoleText, 30)]
    .filter(Boolean)
    .join('\n--- console (last lines) ---\n');
  return new TargetError(
    'vm-boot-failed',
    `${label}: the kernel ${spec.kernel} did not boot to the agent: ${hint}`,
    detail || '(no console output)',
  );
}

/** Waits for /init's `@@AGENT` (it holds the port open), or fails on its error markers, qemu's exit or the deadline. */
function waitForAgent(qemu: ChildProcess, text: () => string, deadline: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      const t = text();
      if (/@@AGENT\r?\n/.test(t)) {
        clearInterval(timer);
        resolve();
      } else if (/@@NOPORT|@@INSMOD|@@MOUNT/.test(t)) {
        clearInterval(timer);
        reject(new Error('guest setup failed'));
      } else if (qemu.exitCode !== null || qemu.signalCode !== null || Date.now() > deadline) {
        clearInterval(timer);
        reject(
          new Error(qemu.exitCode !== null || qemu.signalCode !== null ? `qemu exited (${qemu.exitCode ?? qemu.signalCode})` : 'timed out'),
        );
      }
    }, 20);
  });
}

/** The boot given up (the signal): qemu was killed and its directory removed; what the console showed by then. */
function givenUp(label: string, ms: number, accel: VmAccel, consoleText: string, qemuErr: string): TargetError {
  const tail = consoleTail(consoleText, 30);
  return new TargetError(
    'timeout',
    `${label}: given up while booting, ${(ms / 1000).toFixed(1)} s after qemu started under ${accel.toUpperCase()} (qemu killed, its files removed)`,
    [
      qemuErr.trim() && `qemu: ${qemuErr.trim().split('\n').slice(-5).join('\n')}`,
      `--- console (last lines) ---\n${tail || '(nothing yet)'}`,
    ]
      .filter(Boolean)
      .join('\n'),
  );
}

/** Boots `spec` and says hello to the agent inside; TargetError (no-qemu, vm-boot-failed, no-btf, bad-target, timeout) when it cannot be used. */
export async function connectVm(spec: VmSpec, o: VmOptions): Promise<VmAgentClient> {
  const label = o.label;
  if (arch() !== 'x64')
    throw new TargetError('bad-target', `${label}: VM targets run x86_64 kernels under qemu-system-x86_64, on an x86_64 host`);
  let st;
  try {
    st = statSync(spec.kernel);
  } catch (e) {
    throw new TargetError('bad-target', `${label}: the kernel image ${spec.kernel} cannot be read: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new TargetError('bad-target', `${label}: the kernel image ${spec.kernel} is not a regular file`);
  if (spec.modules !== undefined && !existsSync(spec.modules))
    throw new TargetError('bad-target', `${label}: the modules directory ${spec.modules} does not exist`);
  const accel = vmAccel();
  const init = buildInitramfs(spec, label, o.root);
  const dir = mkdtempSync(join(tmpdir(), 'bpf-lens-vm-'));
  const initrd = join(dir, 'initramfs.cpio');
  writeFileSync(initrd, init.bytes);
  const sock = join(dir, 'agent.sock');
  if (o.signal?.aborted) {
    rmSync(dir, { recursive: true, force: true });
    throw new TargetError('timeout', `${label}: given up before booting`);
  }
  o.onStatus?.(`booting ${label}${init.release ? ` (${init.release})` : ''} under qemu, ${accelText(accel)}`);
  const t0 = performance.now();
  const qemu = spawn('qemu-system-x86_64', qemuArgv(spec, accel, initrd, sock), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.set(qemu, dir);
  let consoleText = '';
  let qemuErr = '';
  const failed: { spawn?: NodeJS.ErrnoException } = {};
  qemu.on('error', (e) => (failed.spawn = e));
  qemu.stdout.on('data', (d: Buffer) => (consoleText = (consoleText + d.toString('latin1')).slice(-65536)));
  qemu.stderr.on('data', (d: Buffer) => (qemuErr = (qemuErr + d.toString('latin1')).slice(-8192)));
  const exited = new Promise<void>((resolve) =>
    qemu.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      running.delete(qemu);
      resolve();
    }),
  );
  const kill = () => {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  };
  // Given up while booting: killing qemu ends every wait below; each failure then reads as this.
  o.signal?.addEventListener('abort', kill, { once: true });
  const abortedError = async () => {
    kill();
    if (!failed.spawn) await exited; // SIGKILL: qemu is gone at once, and with it the directory
    rmSync(dir, { recursive: true, force: true });
    return givenUp(label, performance.now() - t0, accel, consoleText, qemuErr);
  };
  const bootTimeout = o.bootTimeoutMs ?? (accel === 'kvm' ? 60_000 : 300_000);
  const deadline = Date.now() + bootTimeout;
  const gone = () => qemu.exitCode !== null || qemu.signalCode !== null || failed.spawn !== undefined;
  let socket: Socket;
  try {
    // qemu creates the socket before the guest starts; connect first so the guest never sees
    // a port without a host (its reads would end at once).
    socket = await connectSocket(sock, deadline, gone);
    socket.on('error', () => undefined); // a guest gone mid-write shows up as the agent ending
    await waitForAgent(qemu, () => consoleText, deadline);
  } catch (e) {
    if (o.signal?.aborted) throw await abortedError();
    kill();
    if (failed.spawn?.code === 'ENOENT')
      throw new TargetError('no-qemu', `${label}: qemu-system-x86_64 is not installed (Debian/Ubuntu: apt install qemu-system-x86)`);
    await new Promise((r) => setTimeout(r, 100)); // qemu's last words
    const why = (e as Error).message === 'timed out' ? `no agent within ${(bootTimeout / 1000).toFixed(0)} s` : (e as Error).message;
    throw bootFailure(label, spec, consoleText, qemuErr, why, init.release);
  }
  const client = new VmAgentClient(
    label,
    qemu,
    socket,
    { accel, bootMs: performance.now() - t0, modules: init.modules },
    () => consoleText,
  );
  try {
    const h = await client.hello();
    if (!h.hasVmlinuxBtf)
      throw new TargetError(
        'no-btf',
        `no BTF on ${label}: the kernel ${h.release} has no /sys/kernel/btf/vmlinux (it was built without CONFIG_DEBUG_INFO_BTF); BPF Lens's VM targets need it — use a kernel with BTF`,
        client.console(20),
      );
  } catch (e) {
    if (o.signal?.aborted) throw await abortedError();
    await client.close();
    if (e instanceof TargetError && e.code === 'no-btf') throw e;
    throw bootFailure(label, spec, consoleText, qemuErr, `the agent did not answer: ${(e as Error).message}`, init.release);
  }
  o.signal?.removeEventListener('abort', kill); // booted: from here on closing it is the owner's
  // qemu has read the initramfs and the socket is connected: nothing of the directory is
  // needed any more, so nothing stays behind even if this process is killed outright.
  rmSync(dir, { recursive: true, force: true });
  o.onStatus?.(`${label}: booted in ${((performance.now() - t0) / 1000).toFixed(1)} s (${accel.toUpperCase()})`);
  return client;
}
