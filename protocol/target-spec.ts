/**
 * Target strings (SSH hosts and `vm:` kernels), read once for every side: the editor's "Add SSH Target…" (through
 * protocol/lsp.ts), bpfLens.targets entries and `--target` on the server. What passes can
 * never become an ssh option or shell code: a host or user starting with `-`, holding
 * whitespace, quotes, `$`, backticks, `;` or any control character is refused, and a port is
 * digits 1–65535. Pure: no imports.
 */

export interface SshSpec {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
}

export type SshSpecResult = { readonly ok: true; readonly spec: SshSpec } | { readonly ok: false; readonly reason: string };

export const SSH_SPEC_FORMS = 'ssh://[user@]host[:port], [user@]host[:port] or a Host alias';

// A DNS name, IPv4 address or ssh_config Host alias; an IPv6 address goes in [brackets].
const HOST = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}(?:%[A-Za-z0-9_.-]{1,16})?\]$/;
// POSIX portable user names (and the `.` many systems allow), never starting with '-'.
const USER = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/;

/** Why `host` cannot be an SSH host, or undefined when it can. */
export function badHost(host: string): string | undefined {
  if (host.startsWith('-')) return `host ${JSON.stringify(host)} starts with '-' (it would be read as an ssh option)`;
  if (!HOST.test(host) && !IPV6.test(host))
    return `host ${JSON.stringify(host)} is not a host name, an address or a Host alias (letters, digits, '.', '_', '-'; IPv6 in [brackets])`;
  return undefined;
}

export function badUser(user: string): string | undefined {
  if (user.startsWith('-')) return `user ${JSON.stringify(user)} starts with '-' (it would be read as an ssh option)`;
  if (!USER.test(user)) return `user ${JSON.stringify(user)} is not a user name (letters, digits, '.', '_', '-')`;
  return undefined;
}

/** A TCP port from text: decimal digits only, 1–65535. */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function badPort(port: unknown): string | undefined {
  return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535
    ? undefined
    : `port ${JSON.stringify(port)} is not a TCP port (1–65535)`;
}

/** `ssh://[user@]host[:port][/]`, `[user@]host[:port]` or a Host alias. */
export function parseSshSpec(text: string): SshSpecResult {
  const fail = (why: string): SshSpecResult => ({
    ok: false,
    reason: `not an SSH target: ${JSON.stringify(text)}: ${why} (expected ${SSH_SPEC_FORMS})`,
  });
  let rest = text;
  if (rest.startsWith('ssh://')) rest = rest.slice(6).replace(/\/$/, '');
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : undefined;
  rest = at >= 0 ? rest.slice(at + 1) : rest;
  let host = rest;
  let port: number | undefined;
  const m = /^(\[[^\]]*\]|[^:]*):([^:]*)$/.exec(rest);
  if (m) {
    host = m[1];
    port = parsePort(m[2]);
    if (port === undefined) return fail(`port ${JSON.stringify(m[2])} is not a TCP port (1–65535)`);
  }
  const why = (user !== undefined ? badUser(user) : undefined) ?? badHost(host);
  if (why) return fail(why);
  return {
    ok: true,
    spec: { host: host.replace(/^\[|\]$/g, ''), ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) },
  };
}

/**
 * A kernel booted under qemu with BPF Lens's agent inside: the image, and optionally the
 * modules directory of that kernel (for the virtio and 9p drivers it does not build in, and
 * for `insmod`), memory in MB, virtual CPUs, and modules to insert before the agent starts
 * (a name found under `modules`, or a .ko file).
 */
export interface VmSpec {
  readonly kernel: string;
  readonly modules?: string;
  readonly memory?: number;
  readonly cpus?: number;
  readonly insmod?: readonly string[];
}

export type VmSpecResult = { readonly ok: true; readonly spec: VmSpec } | { readonly ok: false; readonly reason: string };

export const VM_SPEC_FORM = 'vm:IMAGE[,modules=DIR][,memory=MB][,cpus=N][,insmod=MODULE]...';
export const VM_MEMORY_MB = { min: 256, max: 65536 } as const;
export const VM_CPUS = { min: 1, max: 64 } as const;

const inRange = (v: unknown, r: { min: number; max: number }) => Number.isInteger(v) && (v as number) >= r.min && (v as number) <= r.max;

/** Why a VM target's fields cannot be used, or undefined: the same checks for `vm:` text and bpfLens.targets entries. */
export function badVmSpec(s: VmSpec): string | undefined {
  const path = (what: string, p: unknown) =>
    typeof p !== 'string' || p === ''
      ? `${what} must be a path`
      : // eslint-disable-next-line no-control-regex -- control characters are what is refused
        /[\0-\x1f]/.test(p)
        ? `${what} ${JSON.stringify(p)} holds a control character`
        : undefined;
  return (
    path('the kernel image', s.kernel) ??
    (s.modules !== undefined ? path('modules', s.modules) : undefined) ??
    (s.memory !== undefined && !inRange(s.memory, VM_MEMORY_MB)
      ? `memory ${JSON.stringify(s.memory)} is not a size in MB (${VM_MEMORY_MB.min}–${VM_MEMORY_MB.max})`
      : undefined) ??
    (s.cpus !== undefined && !inRange(s.cpus, VM_CPUS)
      ? `cpus ${JSON.stringify(s.cpus)} is not a CPU count (${VM_CPUS.min}–${VM_CPUS.max})`
      : undefined) ??
    (s.insmod ?? []).map((m) => path('insmod', m)).find((x) => x !== undefined)
  );
}

/** `vm:IMAGE[,modules=DIR][,memory=MB][,cpus=N][,insmod=MODULE]...` (an image path holding a comma goes in the settings instead). */
export function parseVmSpec(text: string): VmSpecResult {
  const fail = (why: string): VmSpecResult => ({
    ok: false,
    reason: `not a VM target: ${JSON.stringify(text)}: ${why} (expected ${VM_SPEC_FORM})`,
  });
  if (!text.startsWith('vm:')) return fail("it does not start with 'vm:'");
  const [kernel, ...opts] = text.slice(3).split(',');
  const o: { kernel: string; modules?: string; memory?: number; cpus?: number; insmod?: string[] } = { kernel };
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    if (!['modules', 'memory', 'cpus', 'insmod'].includes(key)) return fail(`unknown option ${JSON.stringify(key)}`);
    if (value === undefined || value === '') return fail(`${key} needs a value (${key}=...)`);
    if (key === 'insmod') (o.insmod ??= []).push(value);
    else if (key in o) return fail(`${key} is given twice`);
    else if (key === 'modules') o.modules = value;
    else if (!/^\d{1,6}$/.test(value)) return fail(`${key} must be a number, not ${JSON.stringify(value)}`);
    else o[key as 'memory' | 'cpus'] = Number(value);
  }
  const why = badVmSpec(o);
  return why ? fail(why) : { ok: true, spec: o };
}

/** Every `--target` spelling: `local`, `vm:...`, or an SSH host. */
export type TargetSpec =
  { readonly kind: 'local' } | { readonly kind: 'vm'; readonly vm: VmSpec } | { readonly kind: 'ssh'; readonly ssh: SshSpec };

export function parseTargetSpec(
  text: string,
): { readonly ok: true; readonly spec: TargetSpec } | { readonly ok: false; readonly reason: string } {
  if (text === 'local') return { ok: true, spec: { kind: 'local' } };
  if (text.startsWith('vm:')) {
    const r = parseVmSpec(text);
    return r.ok ? { ok: true, spec: { kind: 'vm', vm: r.spec } } : r;
  }
  const r = parseSshSpec(text);
  return r.ok ? { ok: true, spec: { kind: 'ssh', ssh: r.spec } } : r;
}

/** Seconds each target gets to connect (or boot) and do the job: the CLI's --timeout, the editor's bpfLens.targetTimeout. */
export const TARGET_TIMEOUT_DEFAULT_S = 600;
/** Why a per-target timeout (seconds) is refused, or undefined for one that is fine (0 < t ≤ a day). */
export function badTargetTimeout(t: unknown): string | undefined {
  return typeof t === 'number' && Number.isFinite(t) && t > 0 && t <= 86_400
    ? undefined
    : `wants seconds per target (0 < t ≤ 86400), not ${String(t)}`;
}
