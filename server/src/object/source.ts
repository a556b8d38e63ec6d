/**
 * Finding definitions in C source. Maps have no line_info, so their place is found by
 * searching the files that line_info names for `NAME SEC(".maps")` (or `__section`).
 * Pure: the caller supplies the reader.
 */
import type { BpfMap, SourceLocation } from './model';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Position of `name` defined in `section` inside `text`, or undefined. */
export function findDefinition(text: string, name: string, section: string): { line: number; column: number; text: string } | undefined {
  const re = new RegExp(`\\b(${escapeRe(name)})\\s+(?:SEC|__section)\\s*\\(\\s*"${escapeRe(section)}"\\s*\\)`, 'g');
  // also `SEC(".struct_ops") struct tcp_congestion_ops name = {` (the attribute first)
  const before = new RegExp(`(?:SEC|__section)\\s*\\(\\s*"${escapeRe(section)}"\\s*\\)[^;={}]*?\\b(${escapeRe(name)})\\s*[=;]`, 'g');
  let m = re.exec(text);
  let at = m ? m.index : -1;
  if (!m) {
    m = before.exec(text);
    if (!m) return undefined;
    at = m.index + m[0].lastIndexOf(m[1], m[0].length - 1);
  }
  return position(text, at);
}

function position(text: string, index: number): { line: number; column: number; text: string } {
  const head = text.slice(0, index);
  const line = head.split('\n').length;
  const lineStart = head.lastIndexOf('\n') + 1;
  const end = text.indexOf('\n', index);
  return { line, column: index - lineStart + 1, text: text.slice(lineStart, end < 0 ? text.length : end) };
}

/** Adds `source` to BTF-defined and legacy maps found in the given files. */
export function locateMaps(maps: readonly BpfMap[], files: readonly string[], readSource: (path: string) => string | undefined): BpfMap[] {
  const texts = new Map<string, string | undefined>();
  const textOf = (f: string): string | undefined => {
    if (!texts.has(f)) {
      let t: string | undefined;
      try { t = readSource(f); } catch { t = undefined; }
      texts.set(f, t);
    }
    return texts.get(f);
  };
  return maps.map((m) => {
    if (m.kind !== 'btf' && m.kind !== 'legacy' && m.kind !== 'struct_ops') return m;
    for (const f of files) {
      const t = textOf(f);
      const d = t === undefined ? undefined : findDefinition(t, m.name, m.section);
      if (d) {
        const source: SourceLocation = { file: f, line: d.line, column: d.column, text: d.text };
        return { ...m, source };
      }
    }
    return m;
  });
}
