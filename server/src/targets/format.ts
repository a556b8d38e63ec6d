/**
 * The one text and the one JSON form of a load (done or refused), whatever kernel it went to:
 * `bpf-lens load` prints them and the language server sends the text lines to the editor.
 */
import type { LoadFailure, LoadSummary } from './target';
import { explanationJson, explanationLines } from '../verifier/format';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface LoadTimings {
  readonly connect_ms: number;
  readonly deploy_ms: number;
  readonly deployed_now: boolean;
  readonly load_ms: number;
  readonly agent_load_ms: number;
}

export interface LoadTextContext {
  readonly file: string;
  /** Where it went, when not this process's kernel: the spec as given and the kernel release. */
  readonly remote?: { readonly spec: string; readonly release: string; readonly timing: LoadTimings };
  /** Programs were pinned (`--pin`): nothing is released on exit. */
  readonly pinned?: boolean;
  /** Leave out the "(not pinned: released on exit)" line (the editor holds loads until unload). */
  readonly held?: boolean;
}

/** Program and map lines as `bpftool prog/map show` would list them, with pins and verifier logs. */
export function formatLoadLines(r: LoadSummary): string[] {
  const lines: string[] = [];
  for (const p of r.programs) {
    lines.push(
      `  prog ${String(p.id).padStart(5)}  ${p.type.padEnd(14)} ${p.name}  (${p.verifiedInsns} insns verified)${p.pinnedAt ? `  pinned ${p.pinnedAt}` : ''}`,
    );
    if (p.log)
      lines.push(
        ...p.log
          .trimEnd()
          .split('\n')
          .map((l) => `      ${l}`),
      );
  }
  for (const m of r.maps) {
    const pin = m.pinnedAt ? `  ${m.reused ? 'reused' : 'pinned'} ${m.pinnedAt}` : '';
    lines.push(
      `  map  ${String(m.id).padStart(5)}  ${m.type.padEnd(14)} ${m.kernelName}  key ${m.keySize}B value ${m.valueSize}B max_entries ${m.maxEntries}${pin}`,
    );
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines;
}

export function formatLoadText(r: LoadSummary, c: LoadTextContext): string {
  const where = c.remote ? ` on ${c.remote.spec} (${c.remote.release})` : '';
  const lines = [`loaded ${c.file}${where}: ${r.programs.length} program(s), ${r.maps.length} map(s)`, ...formatLoadLines(r)];
  const t = c.remote?.timing;
  if (t)
    lines.push(
      `connect ${t.connect_ms} ms (deploy ${t.deployed_now ? `${t.deploy_ms} ms` : 'cached'}), load ${t.load_ms} ms (agent ${t.agent_load_ms} ms)`,
    );
  if (!c.pinned && !c.held) {
    // maps pinned by name stay whatever happens to the programs
    const kept = r.maps.filter((m) => m.pinnedAt).length;
    lines.push(kept ? `(programs not pinned: released on exit; ${kept} map(s) stay pinned)` : '(not pinned: released on exit)');
  }
  return `${lines.join('\n')}\n`;
}

/** `error: …`, the rejected source line and the last lines of the log (the verifier's, or the BTF checker's). */
export function formatLoadFailureText(e: LoadFailure, tail = 20): string {
  const lines = [`error: ${e.message}`];
  if (e.source) lines.push(`  --> ${e.source.file}:${e.source.line}:${e.source.column}`, `   | ${e.source.text.trim()}`);
  if (e.explanation) lines.push(...explanationLines(e.explanation));
  if (e.log)
    lines.push(
      `${logTitle(e)} (last lines):`,
      ...e.log
        .trimEnd()
        .split('\n')
        .slice(-tail)
        .map((l) => `  ${l}`),
    );
  return `${lines.join('\n')}\n`;
}

/** What the failure's log is: the BTF checker's, a verifier walk an interruption cut short, or a rejection's. */
function logTitle(e: LoadFailure): string {
  if (e.stage === 'btf') return 'BTF log';
  return e.interrupted ? 'verifier log, cut short by the interruptions' : 'verifier log';
}

export interface LoadJsonContext {
  readonly remote?: { readonly spec: string; readonly release?: string; readonly timing?: LoadTimings };
}

/** `load --json`: names and fields as bpftool's JSON (verified_insns, bytes_key, …). */
export function formatLoadJson(r: { ok: true; loaded: LoadSummary } | { ok: false; error: LoadFailure }, c: LoadJsonContext = {}): string {
  const where: { [k: string]: Json } = c.remote ? { target: c.remote.spec } : {};
  if (!r.ok) {
    const e = r.error;
    const error: { [k: string]: Json } = { message: e.message, stage: e.stage };
    if (e.code !== undefined) error.code = e.code;
    if (e.program !== undefined) error.program = e.program;
    if (e.insn !== undefined) error.insn = e.insn;
    if (e.source) error.source = { ...e.source };
    if (e.explanation) Object.assign(error, explanationJson(e.explanation));
    if (e.log !== undefined) error.log = e.log;
    if (e.interrupted) error.interrupted = true;
    return `${JSON.stringify({ ok: false, ...where, progs: [], maps: [], error }, null, 2)}\n`;
  }
  const l = r.loaded;
  if (c.remote?.release !== undefined) where.kernel_release = c.remote.release;
  if (c.remote?.timing) where.timing = { ...c.remote.timing };
  return `${JSON.stringify(
    {
      ok: true,
      ...where,
      progs: l.programs.map((p) => ({ name: p.name, id: p.id, type: p.type, verified_insns: p.verifiedInsns })),
      maps: l.maps.map((m) => ({
        name: m.kernelName,
        id: m.id,
        type: m.type,
        bytes_key: m.keySize,
        bytes_value: m.valueSize,
        max_entries: m.maxEntries,
        flags: m.flags,
      })),
    },
    null,
    2,
  )}\n`;
}
