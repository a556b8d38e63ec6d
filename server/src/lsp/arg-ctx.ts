/**
 * What the editor says about `__arg_ctx` arguments: for the selected target (this machine's
 * kernel through the `arg_ctx_tag` feature probe, or what a remote target's agent probed)
 * whether the kernel handles
 * the tag natively or the loader emulates it, how each calling program then sees the
 * argument, and where emulation is impossible. Used by the subprogram hover and by the
 * diagnostics on its definition.
 */
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import { probeFeature, systemInfo } from '../kernel/probes';
import { type ArgCtxArg, ctxPointerC } from '../object/arg-ctx';

export type ArgCtxMode = 'auto' | 'always' | 'never';

let mode: ArgCtxMode = 'auto';

/** The `bpfLens.argCtxFallback` setting (anything else means auto). */
export function configureArgCtx(value: unknown): void {
  mode = value === 'always' || value === 'never' ? value : 'auto';
}

export interface ArgCtxTarget {
  /** The target's name (`local`, or one of bpfLens.targets). */
  readonly name: string;
  /** `uname -r`, when known. */
  readonly release?: string;
  /** Native arg:ctx support; undefined when the probe could not run (no privileges, no bpf(2)). */
  readonly native?: boolean;
  /** Why it could not be probed. */
  readonly reason?: string;
}

let target: ArgCtxTarget | undefined;
let selected: ArgCtxTarget | undefined;

/** A selected remote target (what its agent probed); undefined: this machine's kernel. */
export function selectArgCtxTarget(t: ArgCtxTarget | undefined): void {
  selected = t;
}

/** The selected target; this machine's kernel is probed once, when first needed (koffi loads then). */
export function argCtxTarget(): ArgCtxTarget {
  if (selected) return selected;
  if (target) return target;
  try {
    const release = systemInfo().release;
    const r = probeFeature('arg_ctx_tag');
    target =
      r.supported || r.errno === 'EINVAL' || r.errno === 'EACCES'
        ? { name: 'local', release, native: r.supported }
        : { name: 'local', release, reason: `the probe was refused with ${r.errno}` };
  } catch (e) {
    target = { name: 'local', reason: e instanceof Error ? e.message.split('\n')[0] : String(e) };
  }
  return target;
}

export interface ArgCtxNote {
  readonly severity: DiagnosticSeverity;
  readonly message: string;
}

function where(t: ArgCtxTarget): string {
  return `${t.name}${t.release ? ` (kernel ${t.release})` : ''}`;
}

function seenAs(a: ArgCtxArg): string {
  return a.callers
    .filter((c) => c.ctxType)
    .map((c) => `\`${ctxPointerC(c.ctxType!)}\` from \`${c.program}\` (${c.progType})`)
    .join(', ');
}

/** The notes for one tagged argument on `t`: one summary line, then errors and warnings. */
export function argCtxNotes(a: ArgCtxArg, t: ArgCtxTarget = argCtxTarget(), m: ArgCtxMode = mode): ArgCtxNote[] {
  const what = `__arg_ctx \`${a.arg || `#${a.argIndex}`}\` of \`${a.subprog}\``;
  if (!a.callers.length)
    return [{ severity: DiagnosticSeverity.Information, message: `${what}: no program calls it, so it is not loaded` }];
  const emulate = m === 'always' || (m === 'auto' && t.native === false);
  const out: ArgCtxNote[] = [];
  const impossible = a.callers.filter((c) => !c.ctxType);
  const mismatched = a.callers.filter((c) => c.action === 'mismatch');
  if (t.native === undefined && m === 'auto') {
    out.push({
      severity: DiagnosticSeverity.Information,
      message: `${what}: cannot tell whether ${where(t)} supports it natively (${t.reason ?? 'unknown'}); where it is emulated it is seen as ${seenAs(a) || 'nothing'}`,
    });
    return out;
  }
  if (!emulate) {
    if (t.native) out.push({ severity: DiagnosticSeverity.Information, message: `${what}: native on ${where(t)}` });
    else
      out.push({
        severity: DiagnosticSeverity.Warning,
        message: `${what}: not emulated (bpfLens.argCtxFallback is never) and ${where(t)} has no native support: the verifier will reject the calls from ${a.callers.map((c) => `\`${c.program}\``).join(', ')}`,
      });
    return out;
  }
  const why = t.native ? 'bpfLens.argCtxFallback is always' : 'no native support';
  if (a.callers.length > impossible.length)
    out.push({ severity: DiagnosticSeverity.Information, message: `${what}: emulated on ${where(t)} (${why}): seen as ${seenAs(a)}` });
  if (impossible.length) {
    out.push({
      severity: DiagnosticSeverity.Error,
      message: `${what}: cannot be emulated on ${where(t)} (${why}) for ${impossible.map((c) => `\`${c.program}\` (${c.progType})`).join(', ')}: that program type has no named context type, so the load will be refused (native support needs Linux 6.8+)`,
    });
  }
  for (const c of mismatched) {
    out.push({
      severity: DiagnosticSeverity.Warning,
      message: `${what}: declared as \`${a.declaredType}\`, but \`${c.program}\` (${c.progType}) passes \`${ctxPointerC(c.ctxType!)}\`; left as declared, the verifier will likely refuse it`,
    });
  }
  return out;
}

/** The hover section for a subprogram's tagged arguments (markdown), or '' when it has none. */
export function argCtxHover(args: readonly ArgCtxArg[], t?: ArgCtxTarget, m?: ArgCtxMode): string {
  if (!args.length) return '';
  const lines = ['', '**`__arg_ctx`**', ''];
  for (const a of args) {
    for (const n of argCtxNotes(a, t, m)) {
      const icon = n.severity === DiagnosticSeverity.Error ? '⛔ ' : n.severity === DiagnosticSeverity.Warning ? '⚠ ' : '';
      lines.push(`- ${icon}${n.message}`);
    }
  }
  return lines.join('\n');
}
