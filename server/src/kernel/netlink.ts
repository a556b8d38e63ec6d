// rtnetlink as libbpf's netlink.c speaks it: a NETLINK_ROUTE socket (extended ACKs on, a
// receive timeout so a silent kernel cannot hang us), one request at a time, its ACK or error
// parsed (the kernel's extack message kept), dump replies collected until NLMSG_DONE.
import { KernelError, errnoNumber } from './errors';
import { type Fd, closeFd, injectedFault, sysCall } from './sys';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

export const NLM_F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSGERR_ATTR_MSG = 1;
export const NLA_F_NESTED = 0x8000;
const NLMSG_HDRLEN = 16;

/** rtnetlink message types (linux/rtnetlink.h) BPF Lens sends, for errors and the fault injector. */
export const RTM = { NEWQDISC: 36, DELQDISC: 37, GETQDISC: 38, NEWTFILTER: 44, DELTFILTER: 45, GETTFILTER: 46 } as const;
const RTM_NAMES = new Map<number, string>(Object.entries(RTM).map(([k, v]) => [v, `RTM_${k}`]));

const align4 = (n: number) => (n + 3) & ~3;

/** One netlink attribute: a type and its payload (bytes, a u32, a NUL-terminated string, or nested attributes). */
export type NlAttr = { readonly type: number; readonly value: Uint8Array | number | string | readonly NlAttr[] };

export function encodeAttrs(attrs: readonly NlAttr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const v = a.value;
    const payload =
      typeof v === 'number'
        ? Buffer.from(new Uint32Array([v]).buffer)
        : typeof v === 'string'
          ? Buffer.from(`${v}\0`, 'latin1')
          : v instanceof Uint8Array
            ? Buffer.from(v)
            : encodeAttrs(v);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt16LE(4 + payload.length, 0);
    hdr.writeUInt16LE(typeof v === 'object' && !(v instanceof Uint8Array) ? a.type | NLA_F_NESTED : a.type, 2);
    parts.push(hdr, payload, Buffer.alloc(align4(payload.length) - payload.length));
  }
  return Buffer.concat(parts);
}

/** Attributes in `buf` from `off`: type (NLA_F_NESTED cleared) → payload. Stops at a malformed one. */
export function parseAttrs(buf: Uint8Array, off = 0, end = buf.length): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (off + 4 <= end) {
    const len = dv.getUint16(off, true);
    if (len < 4 || off + len > end) break;
    out.set(dv.getUint16(off + 2, true) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** A reply message: its type and the bytes after the netlink header. */
export interface NlMessage {
  readonly type: number;
  readonly body: Uint8Array;
}

export function rtmName(type: number): string {
  return RTM_NAMES.get(type) ?? `netlink message ${type}`;
}

/** sockaddr_nl of the kernel (pid 0). */
function kernelAddr(): Buffer {
  const a = Buffer.alloc(12);
  a.writeUInt16LE(AF_NETLINK, 0);
  return a;
}

function u32Buf(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** A NETLINK_ROUTE socket; the caller closes it. Extended ACKs (the kernel's reason in words) when the kernel has them. */
export function netlinkOpen(context = ''): Fd {
  const fd = sysCall('socket', 'socket(NETLINK_ROUTE)', [AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE], true, context);
  try {
    for (const opt of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
      try {
        // no fault injected: a refusal here is ignored anyway
        sysCall('setsockopt', 'setsockopt(SOL_NETLINK)', [fd, SOL_NETLINK, opt, u32Buf(1), 4], false, context, false);
      } catch {
        // older kernels: plain errors without extack, the request copied back
      }
    }
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(5n, 0); // 5 s: the kernel answers at once; never wait forever
    sysCall('setsockopt', 'setsockopt(SO_RCVTIMEO)', [fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16], false, context);
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    sysCall('bind', 'bind(NETLINK_ROUTE)', [fd, addr, 12], false, context);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

let seqNo = Math.floor(Date.now() / 1000) >>> 0;

/** The error an NLMSG_ERROR carries, with the kernel's extack message as the hint. */
function nlError(body: Uint8Array, flags: number, command: string, context: string): KernelError | undefined {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 4) return new KernelError(command, errnoNumber('EPROTO'), context, undefined, false, 'a short netlink error');
  const err = -dv.getInt32(0, true);
  if (err === 0) return undefined;
  let hint: string | undefined;
  if (flags & NLM_F_ACK_TLVS && body.length >= 4 + NLMSG_HDRLEN) {
    const origLen = flags & NLM_F_CAPPED ? NLMSG_HDRLEN : dv.getUint32(4, true);
    const msg = parseAttrs(body, 4 + align4(origLen)).get(NLMSGERR_ATTR_MSG);
    if (msg) hint = Buffer.from(msg).toString('latin1').replace(/\0.*$/s, '') || undefined;
  }
  return new KernelError(command, err, context, undefined, false, hint);
}

/**
 * Sends one rtnetlink request (`body`: the family header and attributes) and reads its answer:
 * the messages before the ACK (NLM_F_ECHO) or before NLMSG_DONE (a dump). A kernel error
 * throws KernelError named after the request (`RTM_NEWTFILTER`) with the extack message.
 * Faults are injected at the request (before it is sent), never after: a reply lost in a test
 * would leave a kernel change nobody knows of.
 */
export function netlinkRequest(fd: Fd, type: number, flags: number, body: Uint8Array, context = ''): NlMessage[] {
  const command = rtmName(type);
  const fake = injectedFault(command);
  if (fake !== undefined) throw new KernelError(command, fake, context);
  const seq = (seqNo = (seqNo + 1) >>> 0);
  const msg = Buffer.alloc(NLMSG_HDRLEN + body.length);
  msg.writeUInt32LE(msg.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE(flags | NLM_F.REQUEST, 6);
  msg.writeUInt32LE(seq, 8);
  msg.set(body, NLMSG_HDRLEN);
  sysCall('sendto', command, [fd, msg, msg.length, 0, kernelAddr(), 12], false, context, false);
  const dump = (flags & NLM_F.DUMP) === NLM_F.DUMP;
  const out: NlMessage[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = sysCall('recvfrom', command, [fd, buf, buf.length, 0, 0, 0], false, context, false);
    if (n === 0) throw new KernelError(command, errnoNumber('EPROTO'), context, undefined, false, 'netlink socket closed');
    for (let off = 0; off + NLMSG_HDRLEN <= n;) {
      const len = buf.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || off + len > n)
        throw new KernelError(command, errnoNumber('EPROTO'), context, undefined, false, 'a malformed netlink reply');
      const mtype = buf.readUInt16LE(off + 4);
      const mflags = buf.readUInt16LE(off + 6);
      const mseq = buf.readUInt32LE(off + 8);
      const body = new Uint8Array(buf.subarray(off + NLMSG_HDRLEN, off + len));
      off += align4(len);
      if (mseq !== seq) continue; // not ours (a late reply to an earlier request)
      if (mtype === NLMSG_ERROR) {
        const e = nlError(body, mflags, command, context);
        if (e) throw e;
        if (!dump) return out;
        continue;
      }
      if (mtype === NLMSG_DONE) return out;
      out.push({ type: mtype, body: Buffer.from(body) });
    }
  }
}
