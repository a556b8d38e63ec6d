// BPF_PROG_LOAD (with verifier log capture and growth), BPF_PROG_BIND_MAP and BPF_PROG_TEST_RUN.
import { LOG_TRUE_SIZE, encodeProgBindMap, encodeProgLoad } from './attr/prog';
import { encodeTestRun, TEST_RUN_LAYOUT } from './attr/link';
import { readU32 } from './attr/layout';
import { type LogOptions, attempt, withLogRetry } from './log';
import { type Fd, addressOf, bpf } from './sys';
import { KernelError, isKernelError } from './errors';
import { BPF_CMD, BPF_PROG_TYPE } from '../common/uapi';
import { BPF_INSN_SIZE } from '../object/insn';

/** Records of .BTF.ext func_info or line_info, already in the kernel's layout. */
export interface ExtInfo {
  /** Size of one record (func_info 8, line_info 16 today). */
  readonly recSize: number;
  readonly count: number;
  readonly bytes: Uint8Array;
}

export interface ProgLoadOptions {
  readonly progType: number;
  /** Instructions, 8 bytes each, in the machine's byte order. */
  readonly insns: Uint8Array;
  readonly license: string;
  /** Kernel-visible name (15 characters at most; longer ones are cut). */
  readonly name?: string;
  readonly expectedAttachType?: number;
  readonly progFlags?: number;
  readonly kernVersion?: number;
  readonly progIfindex?: number;
  readonly progBtfFd?: Fd;
  readonly funcInfo?: ExtInfo;
  readonly lineInfo?: ExtInfo;
  readonly attachBtfId?: number;
  /** freplace / fentry on a BPF program: its FD. */
  readonly attachProgFd?: Fd;
  /** struct_ops / fentry into a module: that module's BTF FD. */
  readonly attachBtfObjFd?: Fd;
  /** FDs of maps and module BTFs that instructions refer to by index (kfuncs in modules). */
  readonly fdArray?: readonly Fd[];
  readonly tokenFd?: Fd;
  readonly log?: LogOptions;
  /** Names the program in errors (`program "xdp_pass"`). */
  readonly context?: string;
}

export interface LoadedProg {
  readonly fd: Fd;
  /** The verifier's log (only when a level was asked for, or after growth). */
  readonly log: string;
  /** How many PROG_LOAD calls it took. */
  readonly attempts: number;
  readonly logTruncated: boolean;
}

const TRAMPOLINE_TYPES = new Set<number>([
  BPF_PROG_TYPE.BPF_PROG_TYPE_TRACING,
  BPF_PROG_TYPE.BPF_PROG_TYPE_LSM,
  BPF_PROG_TYPE.BPF_PROG_TYPE_EXT,
]);

/**
 * BPF_PROG_LOAD; on failure throws a KernelError whose `log` holds the verifier's explanation.
 * An EPERM without a log on a trampoline-based type gets a hint: kernels under lockdown refuse
 * fentry/fexit/fmod_ret/lsm/freplace even to root, and say nothing else.
 */
export function progLoad(o: ProgLoadOptions): LoadedProg {
  try {
    return progLoadOnce(o);
  } catch (e) {
    if (isKernelError(e, 'EPERM') && !e.log && TRAMPOLINE_TYPES.has(o.progType)) {
      throw new KernelError(
        e.command,
        e.errno,
        e.context,
        e.log,
        e.logTruncated,
        'this kernel refuses BPF trampoline programs (fentry/fexit/fmod_ret/lsm/freplace); kernel lockdown is one cause, and it applies to root too',
      );
    }
    throw e;
  }
}

function progLoadOnce(o: ProgLoadOptions): LoadedProg {
  if (o.insns.length % BPF_INSN_SIZE !== 0)
    throw new RangeError(`PROG_LOAD: ${o.insns.length} bytes is not a whole number of instructions`);
  const insns = Buffer.from(o.insns);
  const license = Buffer.from(`${o.license}\0`, 'latin1');
  const funcInfo = o.funcInfo ? Buffer.from(o.funcInfo.bytes) : undefined;
  const lineInfo = o.lineInfo ? Buffer.from(o.lineInfo.bytes) : undefined;
  const fdArray = o.fdArray?.length ? Buffer.from(Int32Array.from(o.fdArray).buffer) : undefined;
  const context = o.context ?? (o.name ? `program "${o.name}"` : '');
  const r = withLogRetry(o.log ?? {}, ({ level, buf }) => {
    const attr = encodeProgLoad({
      prog_type: o.progType,
      insn_cnt: insns.length / BPF_INSN_SIZE,
      insns: addressOf(insns),
      license: addressOf(license),
      log_level: level,
      log_size: buf?.length ?? 0,
      log_buf: addressOf(buf),
      kern_version: o.kernVersion,
      prog_flags: o.progFlags,
      prog_name: o.name?.slice(0, 15),
      prog_ifindex: o.progIfindex,
      expected_attach_type: o.expectedAttachType,
      prog_btf_fd: o.progBtfFd,
      func_info_rec_size: o.funcInfo?.recSize,
      func_info: addressOf(funcInfo),
      func_info_cnt: o.funcInfo?.count,
      line_info_rec_size: o.lineInfo?.recSize,
      line_info: addressOf(lineInfo),
      line_info_cnt: o.lineInfo?.count,
      attach_btf_id: o.attachBtfId,
      attach_prog_fd: o.attachProgFd,
      attach_btf_obj_fd: o.attachBtfObjFd,
      fd_array: addressOf(fdArray),
      prog_token_fd: o.tokenFd,
    });
    return attempt(
      () => bpf(BPF_CMD.BPF_PROG_LOAD, attr, context),
      () => readU32(attr, LOG_TRUE_SIZE),
    );
  });
  return { fd: r.value, log: r.log, attempts: r.attempts, logTruncated: r.logTruncated };
}

export interface TestRunOptions {
  readonly data?: Uint8Array;
  /** Room for the output packet (default: the input's size; 0 to skip). */
  readonly dataOutSize?: number;
  readonly ctx?: Uint8Array;
  readonly ctxOutSize?: number;
  readonly repeat?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
}

export interface TestRunResult {
  readonly retval: number;
  /** Average nanoseconds per run, as the kernel measured. */
  readonly duration: number;
  readonly dataOut?: Uint8Array;
  readonly ctxOut?: Uint8Array;
}

/** BPF_PROG_BIND_MAP (5.10+): the program holds the map though no instruction names it (libbpf binds `.rodata*`). */
export function progBindMap(progFd: Fd, mapFd: Fd, context = ''): void {
  bpf(BPF_CMD.BPF_PROG_BIND_MAP, encodeProgBindMap({ prog_fd: progFd, map_fd: mapFd }), context);
}

/** BPF_PROG_TEST_RUN (BPF_PROG_RUN): runs a program on a packet/context without attaching it. */
export function progTestRun(progFd: Fd, o: TestRunOptions = {}): TestRunResult {
  const dataIn = o.data?.length ? Buffer.from(o.data) : undefined;
  const outSize = o.dataOutSize ?? dataIn?.length ?? 0;
  const dataOut = outSize > 0 ? Buffer.alloc(outSize) : undefined;
  const ctxIn = o.ctx?.length ? Buffer.from(o.ctx) : undefined;
  const ctxOut = o.ctxOutSize ? Buffer.alloc(o.ctxOutSize) : undefined;
  const attr = encodeTestRun({
    prog_fd: progFd,
    data_size_in: dataIn?.length,
    data_in: addressOf(dataIn),
    data_size_out: dataOut?.length,
    data_out: addressOf(dataOut),
    repeat: o.repeat,
    ctx_size_in: ctxIn?.length,
    ctx_in: addressOf(ctxIn),
    ctx_size_out: ctxOut?.length,
    ctx_out: addressOf(ctxOut),
    flags: o.flags,
    cpu: o.cpu,
    batch_size: o.batchSize,
  });
  bpf(BPF_CMD.BPF_PROG_TEST_RUN, attr);
  const L = TEST_RUN_LAYOUT;
  const dataLen = readU32(attr, L.field('data_size_out'));
  const ctxLen = readU32(attr, L.field('ctx_size_out'));
  return {
    retval: readU32(attr, L.field('retval')),
    duration: readU32(attr, L.field('duration')),
    dataOut: dataOut ? new Uint8Array(dataOut.subarray(0, Math.min(dataLen, dataOut.length))) : undefined,
    ctxOut: ctxOut ? new Uint8Array(ctxOut.subarray(0, Math.min(ctxLen, ctxOut.length))) : undefined,
  };
}
