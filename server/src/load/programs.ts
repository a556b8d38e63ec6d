/**
 * Loading one linked program: where BTF-attached types attach (fentry/fexit/fmod_ret to a
 * kernel FUNC, tp_btf to `btf_trace_<tp>`, lsm to `bpf_lsm_<hook>`, iter to `bpf_iter_<name>`,
 * each in vmlinux or a module — `module:func` picks one), the PROG_LOAD attributes, and a
 * rejection turned into a LoadError on the failing instruction's source line.
 */
import type { Btf } from '../btf/btf';
import { type Fd, type KernelError, type KernelOps, type ProgLoadOptions, isKernelError } from '../kernel';
import { BPF_F_SLEEPABLE } from '../common/uapi';
import type { BpfProgram } from '../object/model';
import { type LinkedLine, lineFor } from './ext-info';
import { LoadError, type LoadErrorSource } from './types';
import { failedInsn, logTail, poisonExplanation, rejectionReason } from './verifier-log';
import { explainRejection, type RelatedLocation } from '../verifier';

/** attach_btf_id (and the module BTF it is in) for a BTF-attached program. */
export interface AttachTarget {
  readonly btfId: number;
  /** 'vmlinux' or a module name. */
  readonly btfName: string;
}

/** The kernel BTF name a program of this kind attaches to, with its kind; undefined when it attaches by other means. */
export function attachBtfName(p: BpfProgram): { kind: 'FUNC' | 'TYPEDEF'; name: string } | undefined {
  const to = p.attachTo;
  if (!to) return undefined;
  switch (p.expectedAttachType) {
    case 'trace_fentry':
    case 'trace_fexit':
    case 'modify_return':
      return { kind: 'FUNC', name: to };
    case 'trace_raw_tp':
      return { kind: 'TYPEDEF', name: `btf_trace_${to}` };
    case 'trace_iter':
      return { kind: 'FUNC', name: `bpf_iter_${to}` };
    case 'lsm_mac':
    case 'lsm_cgroup':
      return { kind: 'FUNC', name: `bpf_lsm_${to}` };
    default:
      return undefined;
  }
}

/** Finds the attach target in vmlinux, then the modules (or only in `module` for `module:func`). */
export function findAttachTarget(p: BpfProgram, kernelBtfs: () => readonly { name: string; btf: Btf }[]): AttachTarget | undefined {
  const want = attachBtfName(p);
  if (!want) return undefined;
  const btfs = kernelBtfs();
  let name = want.name;
  let module: string | undefined;
  const colon = p.attachTo!.indexOf(':');
  if (colon > 0 && want.kind === 'FUNC' && want.name === p.attachTo) {
    module = p.attachTo.slice(0, colon);
    name = p.attachTo.slice(colon + 1);
  }
  for (const { name: btfName, btf } of btfs) {
    if (module && btfName !== module) continue;
    const id = btf.byName(name).find((i) => i >= btf.startId && btf.get(i)?.kind === want.kind);
    if (id !== undefined) return { btfId: id, btfName };
  }
  throw new LoadError(
    `program '${p.name}': the kernel has no ${want.kind === 'FUNC' ? 'function' : 'type'} '${name}' in its BTF${module ? ` of module ${module}` : ''} to attach ${p.section} to`,
    'programs',
    { program: p.name },
  );
}

export interface ProgLoadInput {
  readonly program: BpfProgram;
  readonly insns: Uint8Array;
  readonly license: string;
  readonly kernVersion: number;
  readonly btfFd?: Fd;
  readonly funcInfo?: ProgLoadOptions['funcInfo'];
  readonly lineInfo?: ProgLoadOptions['lineInfo'];
  readonly lines: readonly LinkedLine[];
  /** Where each placed function starts in the linked program. */
  readonly partStarts: readonly number[];
  readonly attachBtfId?: number;
  readonly attachBtfObjFd?: Fd;
  readonly attachProgFd?: Fd;
  readonly expectedAttachType?: number;
  readonly fdArray?: readonly Fd[];
  readonly logLevel: number;
  readonly names: boolean;
}

/** PROG_LOAD of one program; a rejection becomes a LoadError with the source line and the log. */
export function loadProgram(k: KernelOps, i: ProgLoadInput): { fd: Fd; log: string } {
  const p = i.program;
  try {
    const r = k.progLoad({
      progType: p.progTypeId,
      expectedAttachType: i.expectedAttachType ?? p.expectedAttachTypeId,
      insns: i.insns,
      license: i.license,
      ...(i.names ? { name: p.name } : {}),
      kernVersion: i.kernVersion,
      progFlags: p.progFlags | (p.sleepable ? BPF_F_SLEEPABLE : 0),
      progBtfFd: i.btfFd,
      funcInfo: i.funcInfo,
      lineInfo: i.lineInfo,
      attachBtfId: i.attachBtfId,
      attachBtfObjFd: i.attachBtfObjFd,
      attachProgFd: i.attachProgFd,
      fdArray: i.fdArray,
      log: { level: i.logLevel },
      context: `program "${p.name}"`,
    });
    return { fd: r.fd, log: r.log };
  } catch (e) {
    if (!isKernelError(e)) throw e;
    if (e.errnoName === 'EAGAIN') throw notVerified(p, e);
    const log = e.log ?? '';
    const insn = log ? failedInsn(log) : undefined;
    const startOf = (n: number) => Math.max(0, ...i.partStarts.filter((st) => st <= n));
    const fnStart = insn !== undefined ? startOf(insn) : 0;
    const line = insn !== undefined ? lineFor(i.lines, insn, fnStart) : undefined;
    // why, and the related lines (where the offending state came from), through line_info
    const explanation = log
      ? explainRejection(
          log,
          (n) => {
            const l = lineFor(i.lines, n, startOf(n));
            return l && { file: l.file, line: l.line, text: l.text };
          },
          { calls: subprogramCalls(i.insns) },
        )
      : undefined;
    const source: LoadErrorSource | undefined = line && { file: line.file, line: line.line, column: line.column, text: line.text };
    const reason = log ? rejectionReason(log) : `${e.errnoName}${e.hint ? ` — ${e.hint}` : ''}`;
    const poison = log ? poisonExplanation(log) : undefined;
    const where = source ? rejectedAt(source) : '';
    const msg =
      `program '${p.name}' (SEC("${p.section}")) was rejected${log ? ' by the verifier' : ''}${where}: ${reason}${poison ? ` — ${poison}` : ''}` +
      `${insn !== undefined ? ` (instruction ${insn})` : ''}${e.logTruncated ? ' [log truncated]' : ''}`;
    throw new LoadError(msg, 'programs', { program: p.name, insn, source, log: log || undefined, explanation, cause: e });
  }
}

/**
 * A load the verifier never finished: a signal was pending on every attempt (EAGAIN, which
 * the kernel returns to let it run), so the log is a walk cut short, not a rejection: no line
 * of the source is blamed. The log is kept, for what it is.
 */
function notVerified(p: BpfProgram, e: KernelError): LoadError {
  const msg = `program '${p.name}' (SEC("${p.section}")) was not verified: ${e.errnoName}${e.hint ? ` — ${e.hint}` : ''}`;
  return new LoadError(msg, 'programs', { program: p.name, log: e.log || undefined, interrupted: true, cause: e });
}

/** Where a rejection's message says it happened: ` at FILE:LINE`. */
export const rejectedAt = (s: LoadErrorSource): string => ` at ${s.file}:${s.line}`;

/**
 * A rejection put on another C line than the compiler's for the failing instruction (a poisoned
 * CO-RE read goes to the access that did not resolve): the message's line and the failing
 * instruction's related line move with it, so the user is shown one line, the right one.
 */
export function rejectionMoved(e: LoadError, message: string, source: LoadErrorSource): LoadError {
  const from = e.details.source;
  const x = e.details.explanation;
  const at = (r: RelatedLocation): RelatedLocation =>
    r.insn === e.details.insn ? { ...r, file: source.file, line: source.line, text: source.text.trim() } : r;
  return new LoadError(from ? message.replace(rejectedAt(from), rejectedAt(source)) : message, e.stage, {
    ...e.details,
    source,
    ...(x ? { explanation: { ...x, related: x.related.map(at) } } : {}),
  });
}

/** BPF-to-BPF calls in linked instructions (BPF_CALL with src_reg BPF_PSEUDO_CALL): where, and to which instruction. */
function subprogramCalls(insns: Uint8Array): { insn: number; target: number }[] {
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const out: { insn: number; target: number }[] = [];
  for (let off = 0; off + 8 <= insns.length; off += 8) {
    if (insns[off] === 0x85 && insns[off + 1] >> 4 === 1) out.push({ insn: off / 8, target: off / 8 + v.getInt32(off + 4, true) + 1 });
  }
  return out;
}

export { logTail };
