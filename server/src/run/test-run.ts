/**
 * BPF_PROG_TEST_RUN through KernelOps, and its result in the shape the CLI prints and the
 * agent returns: retval with its name for the program type, output bytes as lowercase hex,
 * duration per run; plus where the output differs from the input.
 */
import type { Fd, KernelOps } from '../kernel';
import { progTypeName } from '../object/uapi-names';
import { retvalName } from './retval';

export interface TestRunInput {
  readonly data?: Uint8Array;
  readonly ctx?: Uint8Array;
  readonly repeat?: number;
  /** The program's expected attach type name (`tcx_ingress`), when known: tcx verdict names. */
  readonly attachType?: string;
}

export interface TestRunReport {
  readonly ok: true;
  readonly retval: number;
  readonly retval_name: string | null;
  /** Output packet, lowercase hex without separators ('' when the type has none). */
  readonly data_out: string;
  /** Average nanoseconds per run, as the kernel measured. */
  readonly duration_ns: number;
  readonly ctx_out?: string;
  readonly prog_type: string;
  readonly repeat: number;
}

/** Program types whose test run takes no repeat and gives no ctx_out (raw_tp, syscall, fentry/fexit). */
const ONCE = new Set(['raw_tracepoint', 'raw_tracepoint_writable', 'syscall', 'tracing']);

/** Room for the output: the input may grow (XDP head/tail adjustments), up to a page more. */
const OUT_SLACK = 4096;

/** Runs a loaded program once (or `repeat` times) on the input. */
export function testRunProgram(k: KernelOps, progFd: Fd, input: TestRunInput): TestRunReport {
  const info = k.progInfo(progFd);
  const type = progTypeName(info.type);
  // These run once on a ctx the kernel reads only: it refuses repeat and ctx_out for them.
  const once = ONCE.has(type);
  if (once && (input.repeat ?? 1) > 1) throw new Error(`a ${type} program runs once per test run: no repeat count`);
  const repeat = once ? 1 : (input.repeat ?? 1);
  const r = k.progTestRun(progFd, {
    data: input.data,
    dataOutSize: input.data?.length ? input.data.length + OUT_SLACK : 0,
    ctx: input.ctx,
    ctxOutSize: input.ctx?.length && !once ? input.ctx.length : 0,
    repeat: once ? 0 : repeat,
  });
  return {
    ok: true,
    retval: r.retval,
    retval_name: retvalName(type, r.retval, input.attachType) ?? null,
    data_out: r.dataOut ? Buffer.from(r.dataOut).toString('hex') : '',
    duration_ns: r.duration,
    ...(r.ctxOut?.length ? { ctx_out: Buffer.from(r.ctxOut).toString('hex') } : {}),
    prog_type: type,
    repeat,
  };
}

/** Byte ranges where `out` differs from `inp` (and a length change), for the text report. */
export function byteDiff(inp: Uint8Array, out: Uint8Array): { offset: number; before: string; after: string }[] {
  const diffs: { offset: number; before: string; after: string }[] = [];
  const n = Math.max(inp.length, out.length);
  for (let i = 0; i < n;) {
    if (i < inp.length && i < out.length && inp[i] === out[i]) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && !(i < inp.length && i < out.length && inp[i] === out[i])) i++;
    diffs.push({
      offset: start,
      before: Buffer.from(inp.subarray(start, Math.min(i, inp.length))).toString('hex'),
      after: Buffer.from(out.subarray(start, Math.min(i, out.length))).toString('hex'),
    });
  }
  return diffs;
}

/** The report as `bpf-lens test-run` prints it (and the editor's Test Run… shows it): verdict, time, output diff. */
export function testRunText(r: Omit<TestRunReport, 'ok' | 'prog_type'>, data: Uint8Array | undefined): string {
  const lines = [
    `retval ${r.retval}${r.retval_name ? ` (${r.retval_name})` : ''}`,
    `duration ${r.duration_ns} ns per run (${r.repeat} run${r.repeat === 1 ? '' : 's'})`,
  ];
  if (data?.length) {
    const out = Buffer.from(r.data_out, 'hex');
    const diffs = byteDiff(data, out);
    lines.push(
      `data out ${out.length} bytes${diffs.length ? `, ${diffs.length} change${diffs.length === 1 ? '' : 's'} against the input:` : ', same as the input'}`,
    );
    for (const d of diffs) lines.push(`  @${d.offset}: ${d.before || '(none)'} -> ${d.after || '(none)'}`);
  }
  if (r.ctx_out) lines.push(`ctx out ${r.ctx_out}`);
  return `${lines.join('\n')}\n`;
}
