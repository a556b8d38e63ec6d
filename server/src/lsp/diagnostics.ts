/**
 * Diagnostics for one C source: objects built from it that are older than it, and the
 * problems the object model found in them, placed on the map's or function's line.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { Diagnostic, DiagnosticSeverity } from 'vscode-languageserver/node';
import { argCtxNotes } from './arg-ctx';
import { functionDefinitionLine, mapDefinitionLine, splitLines } from './c-text';
import type { LoadedObject } from './loaded';

const SOURCE = 'bpf-lens';

export async function sourceDiagnostics(source: string, objects: readonly LoadedObject[], openText?: string): Promise<Diagnostic[]> {
  if (!objects.length) return [];
  let mtimeMs: number;
  let text = openText;
  try {
    mtimeMs = (await fsp.stat(source)).mtimeMs;
    if (text === undefined) text = await fsp.readFile(source, 'latin1');
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
      const here = p.source && path.basename(p.source.file) === path.basename(source) ? p.source.line - 1 : undefined;
      const line = here ?? (p.map !== undefined ? mapDefinitionLine(lines, p.map) : undefined)
        ?? (p.program !== undefined ? functionDefinitionLine(lines, p.program) : undefined);
      // Problems of another source of a multi-file object stay off this file.
      if (line === undefined && o.sources.length > 1) continue;
      out.push({
        range: lineRange(line ?? 0),
        severity: p.severity === 'error' ? DiagnosticSeverity.Error : p.severity === 'warning' ? DiagnosticSeverity.Warning : DiagnosticSeverity.Information,
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
      for (const n of argCtxNotes(a)) out.push({ range: lineRange(line), severity: n.severity, source: SOURCE, code: 'arg-ctx', message: `${name}: ${n.message}` });
    }
  }
  return out;
}
