/**
 * A JSON text writer that places separators, newlines and indentation exactly as bpftool's
 * json_writer does (so `bpftool -j` and the plain BTF dumps can be reproduced byte for byte):
 * a separator before every item, a newline and 4-space indent before names and closing
 * brackets (pretty mode only), none before array items, and its string escapes (bpftool up
 * to v7.1 writes a backslash as `\n`; `escapeBackslashAsN` keeps that, as the installed tool does).
 */
export class OutputLimitError extends Error {
  constructor(readonly limit: number) {
    super(`output longer than ${limit} characters: stopped`);
    this.name = 'OutputLimitError';
  }
}

export interface JsonWriterOptions {
  pretty?: boolean;
  /** Characters the writer may hold before it throws OutputLimitError (default 64 MiB). */
  maxChars?: number;
  /** bpftool ≤ 7.1 escapes '\\' as "\\n"; default true (the Debian tool the tests compare with). */
  escapeBackslashAsN?: boolean;
}

/** Characters appended to one rope before it is flattened and set aside. */
const CHUNK = 1 << 16;

export class JsonWriter {
  /** Flat chunks of the text so far, then the rope being appended to. */
  private readonly chunks: string[] = [];
  private out = '';
  private length = 0;
  private depth = 0;
  private sep = '';
  readonly pretty: boolean;
  private readonly maxChars: number;
  private readonly backslashAsN: boolean;

  constructor(opts: JsonWriterOptions = {}) {
    this.pretty = opts.pretty ?? false;
    this.maxChars = opts.maxChars ?? 64 * 1024 * 1024;
    this.backslashAsN = opts.escapeBackslashAsN ?? true;
  }

  private put(s: string): void {
    // Appends build a rope: cheaper than an array of millions of short strings. A rope of a
    // dump's millions of pieces kept whole until the end costs seconds of GC (a 100,000-element
    // map dump spent 4 of its 6 s there): every CHUNK characters it is flattened (reading a
    // character makes V8 flatten it) and set aside.
    this.out += s;
    if (this.length + this.out.length > this.maxChars) throw new OutputLimitError(this.maxChars);
    if (this.out.length < CHUNK) return;
    this.length += this.out.length;
    this.out.charCodeAt(0);
    this.chunks.push(this.out);
    this.out = '';
  }

  private eol(): void {
    if (this.pretty) this.put('\n' + '    '.repeat(this.depth));
  }

  private eor(): void {
    if (this.sep) this.put(this.sep);
    this.sep = ',';
  }

  private begin(c: string): void {
    this.eor();
    this.put(c);
    this.depth++;
    this.sep = '';
  }

  private end(c: string): void {
    this.depth--;
    if (this.sep) this.eol();
    this.put(c);
    this.sep = ',';
  }

  startObject(): void {
    this.begin('{');
  }
  endObject(): void {
    this.end('}');
  }
  startArray(): void {
    this.begin('[');
  }
  endArray(): void {
    this.end(']');
  }

  name(n: string): void {
    this.eor();
    this.eol();
    this.sep = '';
    this.put(this.quote(n) + (this.pretty ? ': ' : ':'));
  }

  /** Raw text as an item (jsonw_printf). */
  raw(text: string): void {
    this.eor();
    this.put(text);
  }

  string(s: string): void {
    this.eor();
    this.put(this.quote(s));
  }

  bool(b: boolean): void {
    this.raw(b ? 'true' : 'false');
  }

  null(): void {
    this.raw('null');
  }

  /** Text outside the JSON structure (bpftool prints such lines between the writer's items). */
  verbatim(text: string): void {
    this.put(text);
  }

  /** Raw texts as consecutive items (what `raw` does for each, in one append). */
  rawItems(texts: readonly string[]): void {
    if (!texts.length) return;
    this.eor();
    this.put(texts.join(','));
  }

  /** The text so far. */
  text(): string {
    if (this.chunks.length > 1) this.chunks.splice(0, this.chunks.length, this.chunks.join(''));
    return (this.chunks[0] ?? '') + this.out;
  }

  private quote(s: string): string {
    let out = '"';
    for (const ch of s) {
      switch (ch) {
        case '\t':
          out += '\\t';
          break;
        case '\n':
          out += '\\n';
          break;
        case '\r':
          out += '\\r';
          break;
        case '\f':
          out += '\\f';
          break;
        case '\b':
          out += '\\b';
          break;
        case '\\':
          out += this.backslashAsN ? '\\n' : '\\\\';
          break;
        case '"':
          out += '\\"';
          break;
        default:
          out += ch;
      }
    }
    return out + '"';
  }
}
