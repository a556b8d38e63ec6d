// Attaching: BPF_LINK_CREATE and BPF_RAW_TRACEPOINT_OPEN.
import { LinkCreateAttr, encodeLinkCreate, encodeRawTracepoint } from './attr/link';
import { Fd, addressOf, bpf } from './sys';
import { BPF_CMD } from './uapi';

export type { LinkCreateAttr } from './attr/link';

/** BPF_LINK_CREATE: a link FD (the attachment lives as long as the FD or its pin). */
export function linkCreate(attr: LinkCreateAttr, context = ''): Fd {
  return bpf(BPF_CMD.BPF_LINK_CREATE, encodeLinkCreate(attr), context);
}

/** BPF_RAW_TRACEPOINT_OPEN: attach a raw_tp program to tracepoint `name` (or tp_btf/fentry... with name undefined). */
export function rawTracepointOpen(progFd: Fd, name: string | undefined, cookie?: bigint): Fd {
  const n = name !== undefined ? Buffer.from(`${name}\0`) : undefined;
  return bpf(BPF_CMD.BPF_RAW_TRACEPOINT_OPEN, encodeRawTracepoint({ name: addressOf(n), prog_fd: progFd, cookie }), `raw_tracepoint ${name ?? ''}`.trim());
}
