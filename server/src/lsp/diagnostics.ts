/**
 * Diagnostics for one C source: objects built from it that are older than it, and the
 * problems the object model found in them, placed on the map's or function's line.
 */
import { promises as fsp } from 'fs';
import { MAX_SOURCE_BYTES, readRegularFileAsync } from '../host/read-file';
import * as path from 'path';
import { type Diagnostic, DiagnosticSeverity } from 'vscode-languageserver/node';
import { argCtxNotes } from './arg-ctx';
import type { CoreCheck } from './core-checks';
import { coreAccessAt, functionDefinitionLine, mapDefinitionLine, splitLines } from './c-text';
import type { LoadedObject } from './loaded';
import { reloReason } from '../core/relocate';
import { coreVerdict } from '../targets/core-notes';

const SOURCE = 'bpf-lens';

/** An object's CO-RE relocations checked against the selected target (core-checks.ts). */
export type CoreCheckOf = (o: LoadedObject) => Promise<{ target: string; check: CoreCheck } | undefined>;

/** The workspace object that defines an object's extern (what linking would resolve it to). */
export type ExternDefinedIn = (o: LoadedObject, name: string) => string | undefined;

export async function sourceDiagnostics(
  source: string,
  objects: readonly LoadedObject[],
  openText?: string,
  coreOf?: CoreCheckOf,
  definedIn?: ExternDefinedIn,
): Promise<Diagnostic[]> {
  if (!objects.length) return [];
  let mtimeMs: number;
  let text = openText;
  try {
    mtimeMs = (await fsp.stat(source)).mtimeMs;
    if (text === undefined) text = (await readRegularFileAsync(source, MAX_SOURCE_BYTES)).toString('latin1');
  } catch {
    return [];
  }
  const lines = splitLines(text);
  const out: Diagnostic[] = [];
  const lineRange = (line: number) => ({ start: { line, character: 0 }, end: { line, character: lines[line]?.length ?? 0 } });
  for (const o of objects) {
    const name = path.basename(o.path);
    if (o.mtimeMs < mtimeMs) {
      out.push({
        range: lineRange(0),
        severity: DiagnosticSeverity.Warning,
        source: SOURCE,
        code: 'stale-object',
        message: `${name} is older than this source (built ${new Date(o.mtimeMs).toISOString()}, source saved ${new Date(mtimeMs).toISOString()}): rebuild it to see current maps and programs.`,
      });
    }
    for (const p of o.facts?.problems ?? []) {
      if (p.extern !== undefined) {
        // On the extern's declaration; a link input's extern that another object defines is a
        // note to link first, not an error.
        const line = externDeclarationLine(lines, p.extern);
        if (line === undefined && o.sources.length > 1) continue;
        const owner = definedIn?.(o, p.extern);
        out.push(
          owner
            ? {
                range: lineRange(line ?? 0),
                severity: DiagnosticSeverity.Information,
                source: SOURCE,
                code: 'link-extern',
                message: `${name}: extern '${p.extern}' is defined in ${owner}: link the objects (BPF Lens: Link Objects…, or bpf-lens link) before loading`,
              }
            : {
                range: lineRange(line ?? 0),
                severity: p.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
                source: SOURCE,
                code: 'object',
                message: `${name}: ${p.message}`,
              },
        );
        continue;
      }
      const here = p.source && path.basename(p.source.file) === path.basename(source) ? p.source.line - 1 : undefined;
      const line =
        here ??
        (p.map !== undefined ? mapDefinitionLine(lines, p.map) : undefined) ??
        (p.program !== undefined ? functionDefinitionLine(lines, p.program) : undefined);
      // Problems of another source of a multi-file object stay off this file.
      if (line === undefined && o.sources.length > 1) continue;
      out.push({
        range: lineRange(line ?? 0),
        severity:
          p.severity === 'error'
            ? DiagnosticSeverity.Error
            : p.severity === 'warning'
              ? DiagnosticSeverity.Warning
              : DiagnosticSeverity.Information,
        source: SOURCE,
        code: p.map !== undefined ? 'map-definition' : 'object',
        message: `${name}: ${p.message}`,
      });
    }
    for (const a of o.facts?.argCtx ?? []) {
      // On the subprogram's definition in this file (line_info's line is its first statement).
      const here = a.source && path.basename(a.source.file) === path.basename(source) ? a.source.line - 1 : undefined;
      const line = functionDefinitionLine(lines, a.subprog) ?? here;
      if (line === undefined) continue;
      for (const n of argCtxNotes(a))
        out.push({ range: lineRange(line), severity: n.severity, source: SOURCE, code: 'arg-ctx', message: `${name}: ${n.message}` });
    }
    const core = await coreOf?.(o);
    for (const f of core?.check.relocations ?? []) {
      if (f.report.status === 'ok') continue;
      const s = f.report.source;
      if (!s || path.basename(s.file) !== path.basename(source)) continue;
      const r = f.report;
      const at = coreAccessAt(lines, s.line - 1, r.access);
      const why = reloReason(r);
      out.push({
        range:
          at.column === undefined
            ? lineRange(at.line)
            : { start: { line: at.line, character: at.column }, end: { line: at.line, character: at.column + at.length } },
        severity: r.fatal
          ? DiagnosticSeverity.Error
          : r.status === 'poisoned'
            ? DiagnosticSeverity.Warning
            : DiagnosticSeverity.Information,
        source: SOURCE,
        code: 'core',
        message: `${name}: CO-RE on ${core!.target}: ${r.access} (${r.kindName}) ${coreVerdict(r.status)}${why ? `: ${why}` : ''}`,
      });
    }
  }
  return out;
}

/** The line declaring `extern ... name` (0-based), if the source has one. */
function externDeclarationLine(lines: readonly string[], name: string): number | undefined {
  const re = new RegExp(`\\bextern\\b.*\\b${name}\\b`);
  const i = lines.findIndex((l) => re.test(l));
  return i < 0 ? undefined : i;
}
