/**
 * SSH target strings, read once for every side: the editor's "Add SSH Target…" (through
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
