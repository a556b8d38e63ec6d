// Ties a bpf_trace_printk line to the object that printed it: bpf_printk keeps its format string
// in .rodata, so a line whose text fits one of the object's .rodata strings (conversions as
// wildcards) came from the program(s) that load that string — and from its source line when
// only one instruction loads it.
import type { BpfObject, SourceLocation } from '../object/model';

export interface PrintkFormat {
  readonly format: string;
  readonly programs: readonly string[];
  readonly source?: SourceLocation;
  readonly pattern: RegExp;
  /** How many characters of a printed line the format fixes (its text but the conversions; `%%` is one). */
  readonly literal: number;
}

/**
 * A conversion as bpf_trace_printk takes it: flags, width, precision, length, then an integer
 * (`diouxX`), a character, a string, or `%p` with its suffix (`%pI4`, `%pks`, ...).
 */
const CONVERSION = /%(%|[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t)?([diouxXcs]|p[A-Za-z0-9]*))/g;

/**
 * What each typed conversion can print, padding (a width) aside: an integer conversion fits only
 * digits, so `"%d"` does not take a line of words. Strings and pointers fit anything.
 */
const TYPED: Readonly<Record<string, string>> = {
  d: '[-+ ]?[0-9]+',
  i: '[-+ ]?[0-9]+',
  u: '[0-9]+',
  o: '[0-7]+',
  x: '(?:0x)?[0-9a-f]+',
  X: '(?:0X)?[0-9A-F]+',
  c: '[\\s\\S]',
};

function conversionPattern(kind: string): string {
  const body = TYPED[kind];
  return body ? ` *${body} *` : '.*?';
}

/** How many of a format's conversions are typed (fit less than anything): `"%d"` says more than `"%s"`. */
function typedConversions(format: string): number {
  let n = 0;
  for (const m of format.matchAll(CONVERSION)) if (m[2] && TYPED[m[2]]) n++;
  return n;
}

/** A format's text as a pattern: each conversion matches what it can print (lazily), `%%` a percent sign. */
export function formatPattern(format: string): RegExp {
  let out = '';
  let at = 0;
  for (const m of format.matchAll(CONVERSION)) {
    out += format.slice(at, m.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out += m[1] === '%' ? '%' : conversionPattern(m[2]);
    at = m.index + m[0].length;
  }
  out += format.slice(at).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${out}$`, 's');
}

/** The characters a format fixes in what it prints: all but its conversions, `%%` counting as one. */
export function literalChars(format: string): number {
  let n = format.length;
  for (const m of format.matchAll(CONVERSION)) n -= m[1] === '%' ? 1 : m[0].length;
  return n;
}

/** Every .rodata string some program loads the address of, with who loads it. */
export function printkFormats(obj: BpfObject): PrintkFormat[] {
  const out: PrintkFormat[] = [];
  obj.maps.forEach((m, mapIndex) => {
    if (m.kind !== 'rodata' || !m.initialData) return;
    const data = m.initialData;
    const uses = new Map<number, { program: string; source?: SourceLocation }[]>();
    for (const p of obj.programs) {
      for (const r of p.relocs) {
        if (r.kind !== 'data' || r.mapIndex !== mapIndex || r.offset === undefined) continue;
        let source: SourceLocation | undefined;
        for (const l of p.lines) if (l.insn <= r.insn) source = l.source;
        uses.set(r.offset, [...(uses.get(r.offset) ?? []), { program: p.name, source }]);
      }
    }
    for (const [off, who] of uses) {
      const end = data.indexOf(0, off);
      if (end <= off) continue;
      const text = Buffer.from(data.subarray(off, end)).toString('utf8');
      // Strings with control characters other than a newline are not format strings.
      if ([...text].some((ch) => ch.charCodeAt(0) < 0x20 && ch !== '\n')) continue;
      const format = text.replace(/\n$/, '');
      const programs = [...new Set(who.map((w) => w.program))];
      out.push({
        format,
        programs,
        ...(who.length === 1 && who[0].source ? { source: who[0].source } : {}),
        pattern: formatPattern(format),
        literal: literalChars(format),
      });
    }
  });
  return out;
}

/**
 * The format a printed text fits, or undefined. When several fit, the one fixing the most
 * characters wins (`"%s"` fits every line and tells nothing), then the one with more typed
 * conversions (`"%d"` over `"%s"` for `42`), then the longest.
 */
export function matchPrintk(formats: readonly PrintkFormat[], text: string): PrintkFormat | undefined {
  let best: PrintkFormat | undefined;
  for (const f of formats) {
    if (f.pattern.test(text) && (!best || fitsBetter(f, best))) best = f;
  }
  return best;
}

function fitsBetter(f: PrintkFormat, than: PrintkFormat): boolean {
  if (f.literal !== than.literal) return f.literal > than.literal;
  const typed = typedConversions(f.format) - typedConversions(than.format);
  return typed !== 0 ? typed > 0 : f.format.length > than.format.length;
}

/**
 * How strongly an object's formats claim a printed text: the characters its best-fitting format
 * fixes (0 for a format made only of conversions), or -1 when none fits.
 */
export function printkClaim(formats: readonly PrintkFormat[], text: string): number {
  return matchPrintk(formats, text)?.literal ?? -1;
}

/** Whether a program calls bpf_trace_printk (6) or bpf_trace_vprintk (177): only then is the trace pipe worth reading. */
export function callsTracePrintk(obj: BpfObject): boolean {
  for (const p of obj.programs) {
    const n = p.insns.length >> 3;
    for (let i = 0; i < n; i++) {
      const code = p.insns[i * 8];
      const src = obj.littleEndian ? p.insns[i * 8 + 1] >> 4 : p.insns[i * 8 + 1] & 0xf;
      if (code !== 0x85 || src !== 0) continue;
      const imm = Buffer.from(p.insns.subarray(i * 8 + 4, i * 8 + 8));
      const id = obj.littleEndian ? imm.readInt32LE() : imm.readInt32BE();
      if (id === 6 || id === 177) return true;
    }
  }
  return false;
}
