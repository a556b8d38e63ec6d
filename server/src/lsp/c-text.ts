/**
 * What the server needs to know about C source text, found with small scans rather than a
 * C parser: the identifier under the cursor, a `SEC("...")` annotation and the function it
 * introduces, and the line where a map or function is defined.
 */

export interface Word {
  readonly text: string;
  readonly line: number;
  readonly start: number;
  readonly end: number;
}

/** The C identifier at (line, character), if the cursor is on one. */
export function wordAt(lines: readonly string[], line: number, character: number): Word | undefined {
  const l = lines[line];
  if (l === undefined) return undefined;
  let s = Math.min(character, l.length),
    e = s;
  while (s > 0 && /\w/.test(l[s - 1])) s--;
  while (e < l.length && /\w/.test(l[e])) e++;
  if (s === e || /^\d/.test(l.slice(s, e))) return undefined;
  return { text: l.slice(s, e), line, start: s, end: e };
}

/** A `SEC("name")` annotation around the cursor, and the name of the function it marks. */
export interface SecAnnotation {
  readonly section: string;
  readonly func?: string;
  readonly line: number;
  readonly start: number;
  readonly end: number;
}

const SEC_RE = /\bSEC\s*\(\s*"([^"]*)"\s*\)/g;

export function secAt(lines: readonly string[], line: number, character: number): SecAnnotation | undefined {
  const l = lines[line];
  if (l === undefined) return undefined;
  for (const m of l.matchAll(SEC_RE)) {
    const start = m.index,
      end = start + m[0].length;
    if (character < start || character > end) continue;
    // The function follows: `SEC("xdp") int name(` on this or the next few lines.
    const rest = [l.slice(end), ...lines.slice(line + 1, line + 4)].join('\n');
    const f = /^[\s\w*]*?\b(\w+)\s*\(\s*(\w*)/.exec(rest);
    // BPF_PROG(name, ...), BPF_KPROBE(name, ...): the macro's first argument names the function.
    const func = f && /^BPF_[A-Z_]+$/.test(f[1]) && f[2] ? f[2] : f?.[1];
    return { section: m[1], func, line, start, end };
  }
  return undefined;
}

/** 0-based line of `} name SEC(".maps")` (also `name SEC(".maps") = {...}` and lists). */
export function mapDefinitionLine(lines: readonly string[], name: string): number | undefined {
  const re = new RegExp(`\\b${escape(name)}\\s+SEC\\s*\\(\\s*"\\.maps"\\s*\\)`);
  for (let i = 0; i < lines.length; i++) if (re.test(lines[i])) return i;
  // A legacy `struct bpf_map_def SEC("maps") name = {...}`.
  const legacy = new RegExp(`SEC\\s*\\(\\s*"maps"\\s*\\)\\s*${escape(name)}\\b`);
  for (let i = 0; i < lines.length; i++) if (legacy.test(lines[i])) return i;
  return undefined;
}

/** 0-based line where function `name` is defined (its name followed by `(` and, later, `{`). */
export function functionDefinitionLine(lines: readonly string[], name: string): number | undefined {
  const re = new RegExp(`^[^;=()]*\\b${escape(name)}\\s*\\(`);
  for (let i = 0; i < lines.length; i++) {
    if (!re.test(lines[i])) continue;
    // A prototype ends in ';' before any '{'.
    const after = lines.slice(i, i + 8).join('\n');
    const brace = after.indexOf('{'),
      semi = after.indexOf(';');
    if (brace >= 0 && (semi < 0 || brace < semi)) return i;
  }
  return undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

/**
 * Where a CO-RE access shows in the source: line_info places the relocated instruction where
 * the compiler scheduled it (often a line or a few before the C expression), so the nearest
 * line within 30 that names the accessed field or type wins (the name is the range); else
 * line_info's whole line.
 */
export function coreAccessAt(lines: readonly string[], at: number, access: string): { line: number; column?: number; length: number } {
  const name = /([A-Za-z_][A-Za-z0-9_]*)(?:\[\d+\])*\s*$/.exec(access)?.[1];
  if (!name) return { line: at, length: 0 };
  const re = new RegExp(`\\b${name}\\b`);
  const hit = (l: number) => {
    const m = l >= 0 && l < lines.length ? re.exec(lines[l]) : null;
    return m ? { line: l, column: m.index, length: name.length } : undefined;
  };
  for (let d = 0; d <= 30; d++) {
    const h = hit(at + d) ?? (d ? hit(at - d) : undefined);
    if (h) return h;
  }
  return { line: at, length: 0 };
}
