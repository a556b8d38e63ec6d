/**
 * Finding definitions in C source. Maps have no line_info, so their place is found by
 * searching the files that line_info names for `NAME SEC(".maps")` (or `__section`).
 * Pure: the caller supplies the reader.
 */
import type { BpfMap, ObjectDiagnostic, SourceLocation } from './model';

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

/** Reads each file once; a reader that throws counts as "unavailable". */
function cachedReader(readSource: (path: string) => string | undefined): (f: string) => string | undefined {
  const texts = new Map<string, string | undefined>();
  return (f) => {
    if (!texts.has(f)) {
      let t: string | undefined;
      try {
        t = readSource(f);
      } catch {
        t = undefined;
      }
      texts.set(f, t);
    }
    return texts.get(f);
  };
}

/**
 * Where a field of a map definition is written: the last `__uint(field,` (or __type, __array,
 * __ulong) between the previous map definition and this one's `} name SEC(...)` line.
 */
export function findField(text: string, defLine: number, field: string): { line: number; column: number; text: string } | undefined {
  const lines = text.split('\n');
  const re = new RegExp(`__(?:uint|type|array|ulong)\\s*\\(\\s*${escapeRe(field)}\\s*,`);
  for (let i = defLine - 1; i >= 0; i--) {
    if (i < defLine - 1 && /\bSEC\s*\(|__section\s*\(/.test(lines[i])) break;
    const m = re.exec(lines[i]);
    if (m) return { line: i + 1, column: m.index + 1, text: lines[i] };
  }
  return undefined;
}

/** Gives map diagnostics the place of the field (or of the map) in the source. */
export function locateDiagnostics(
  diags: readonly ObjectDiagnostic[],
  maps: readonly BpfMap[],
  files: readonly string[],
  readSource: (path: string) => string | undefined,
): ObjectDiagnostic[] {
  const textOf = cachedReader(readSource);
  return diags.map((d) => {
    if (!d.map || d.source) return d;
    // maps refused outright (static ones) are not in the list: look for the name anyway
    const known = maps.find((x) => x.name === d.map);
    const at = known ? known.source : locate(d.map, d.section ?? '.maps', files, textOf);
    if (!at) return d;
    const t = d.field ? textOf(at.file) : undefined;
    const f = t !== undefined && d.field ? findField(t, at.line, d.field) : undefined;
    return { ...d, source: f ? { file: at.file, line: f.line, column: f.column, text: f.text } : at };
  });
}

/** Adds `source` to BTF-defined and legacy maps found in the given files. */
export function locateMaps(maps: readonly BpfMap[], files: readonly string[], readSource: (path: string) => string | undefined): BpfMap[] {
  const textOf = cachedReader(readSource);
  return maps.map((m) => {
    if (m.kind !== 'btf' && m.kind !== 'legacy' && m.kind !== 'struct_ops') return m;
    const source = locate(m.name, m.section, files, textOf);
    return source ? { ...m, source } : m;
  });
}

/** The first definition of `name` in `section` among the files. */
function locate(
  name: string,
  section: string,
  files: readonly string[],
  textOf: (f: string) => string | undefined,
): SourceLocation | undefined {
  for (const f of files) {
    const t = textOf(f);
    const d = t === undefined ? undefined : findDefinition(t, name, section);
    if (d) return { file: f, line: d.line, column: d.column, text: d.text };
  }
  return undefined;
}
