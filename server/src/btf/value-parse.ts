/**
 * Text → the bytes of a BTF type, for map updates: a C initializer as value-text.ts writes it
 * (`{ .pid = 42, .comm = "bash", [2] = 7 }`, positional or designated) or JSON as bpftool's
 * `formatted` holds it (`{"pid":42,"comm":"bash","flags":"0x3"}`). Members left out are zero.
 * A value that does not fit or does not parse throws ValueParseError naming the field.
 */
import { type Btf } from './btf';
import { resolveSize, resolveType } from './value-format';
import { BTF_INT_BOOL, BTF_INT_SIGNED, type BtfComposite, type BtfType, type TypeId } from './types';

export class ValueParseError extends Error {
  constructor(
    /** The field as a C path (`pt.x`, `name[2]`), '' for the whole value. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(field ? `field '${field}': ${reason}` : reason);
    this.name = 'ValueParseError';
  }
}

type Node =
  | { kind: 'list'; entries: Entry[]; at: number }
  | { kind: 'num'; text: string; at: number }
  | { kind: 'str'; text: string; at: number }
  | { kind: 'char'; code: number; at: number }
  | { kind: 'ident'; text: string; at: number };
interface Entry {
  name?: string;
  index?: number;
  value: Node;
}

const MAX_DEPTH = 128;

/** Bytes of `typeId` from C-like or JSON text. */
export function parseValueText(btf: Btf, typeId: TypeId, src: string): Uint8Array {
  const size = resolveSize(btf, typeId);
  if (size < 0) throw new ValueParseError('', `BTF type [${typeId}] has no size`);
  const p = new Parser(src);
  const node = p.value(0);
  p.end();
  const out = new Uint8Array(size);
  new Encoder(btf, out).encode(typeId, node, 0, 0, 0, '', 0);
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    for (;;) {
      while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
      if (this.s.startsWith('//', this.i)) {
        while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
      } else if (this.s.startsWith('/*', this.i)) {
        const e = this.s.indexOf('*/', this.i + 2);
        this.i = e < 0 ? this.s.length : e + 2;
      } else return;
    }
  }

  private fail(reason: string): never {
    throw new ValueParseError('', `column ${this.i + 1}: ${reason}`);
  }

  private peek(): string {
    this.ws();
    return this.s[this.i] ?? '';
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}', found ${this.found()}`);
    this.i++;
  }

  private found(): string {
    return this.i >= this.s.length ? 'the end of the text' : `'${this.s.slice(this.i, this.i + 12)}'`;
  }

  end(): void {
    if (this.peek() !== '') this.fail(`unexpected ${this.found()} after the value`);
  }

  value(depth: number): Node {
    if (depth > MAX_DEPTH) this.fail(`values nest deeper than ${MAX_DEPTH} levels`);
    const ch = this.peek();
    const at = this.i;
    if (ch === '{' || ch === '[') return this.list(ch === '{' ? '}' : ']', depth);
    if (ch === '"') return { kind: 'str', text: this.string(), at };
    if (ch === "'") {
      const s = this.quoted("'");
      if ([...s].length !== 1) this.fail('a character literal holds one character');
      return { kind: 'char', code: s.codePointAt(0)!, at };
    }
    if (this.s.startsWith('(nil)', this.i)) {
      this.i += 5;
      return { kind: 'num', text: '0', at };
    }
    const rest = this.s.slice(this.i);
    const num =
      /^([-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf(?:inity)?|nan))[uUlL]*[fF]?(?![A-Za-z0-9_])/.exec(
        rest,
      );
    if (num) {
      this.i += num[0].length;
      return { kind: 'num', text: num[1].replace(/^\+/, ''), at };
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (id) {
      this.i += id[0].length;
      return { kind: 'ident', text: id[0], at };
    }
    return this.fail(`expected a value, found ${this.found()}`);
  }

  private list(close: string, depth: number): Node {
    const at = this.i;
    this.i++;
    const entries: Entry[] = [];
    while (this.peek() !== close) {
      entries.push(this.entry(depth));
      if (this.peek() === ',') this.i++;
      else if (this.peek() !== close) this.fail(`expected ',' or '${close}', found ${this.found()}`);
    }
    this.i++;
    return { kind: 'list', entries, at };
  }

  private entry(depth: number): Entry {
    const ch = this.peek();
    if (ch === '.') {
      this.i++;
      const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
      if (!id) this.fail(`expected a member name after '.'`);
      this.i += id[0].length;
      this.expect('=');
      return { name: id[0], value: this.value(depth + 1) };
    }
    if (ch === '[') {
      const save = this.i;
      this.i++;
      const n = /^\s*(\d+)\s*\]\s*=/.exec(this.s.slice(this.i));
      if (n) {
        this.i += n[0].length;
        return { index: Number(n[1]), value: this.value(depth + 1) };
      }
      this.i = save;
    }
    const v = this.value(depth + 1);
    if ((v.kind === 'str' || v.kind === 'ident') && this.peek() === ':') {
      this.i++;
      return { name: v.text, value: this.value(depth + 1) };
    }
    return { value: v };
  }

  private string(): string {
    return this.quoted('"');
  }

  private quoted(q: string): string {
    this.i++;
    let out = '';
    for (;;) {
      const ch = this.s[this.i++];
      if (ch === undefined) this.fail('unterminated string');
      if (ch === q) return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const e = this.s[this.i++];
      const simple: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        f: '\f',
        b: '\b',
        '0': '\0',
        '\\': '\\',
        '"': '"',
        "'": "'",
        '/': '/',
      };
      if (e in simple) out += simple[e];
      else if (e === 'x' && /^[0-9a-fA-F]{2}/.test(this.s.slice(this.i, this.i + 2))) {
        out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 2), 16));
        this.i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}/.test(this.s.slice(this.i, this.i + 4))) {
        out += String.fromCharCode(parseInt(this.s.slice(this.i, this.i + 4), 16));
        this.i += 4;
      } else this.fail(`unknown escape '\\${e ?? ''}'`);
    }
  }
}

class Encoder {
  private readonly le: boolean;
  constructor(
    private readonly btf: Btf,
    private readonly out: Uint8Array,
  ) {
    this.le = btf.littleEndian;
  }

  encode(id: TypeId, node: Node, at: number, bitOff: number, bitfield: number, path: string, depth: number): void {
    if (depth > MAX_DEPTH) throw new ValueParseError(path, `types nest deeper than ${MAX_DEPTH} levels`);
    const r = resolveType(this.btf, id);
    const t = r < 0 ? undefined : this.btf.get(r);
    if (!t) throw new ValueParseError(path, 'the type is void: nothing can be written');
    if (bitfield) return this.writeBits(at, bitOff, bitfield, this.integer(t, node, bitfield, path), path);
    switch (t.kind) {
      case 'INT':
        return this.writeBits(at, bitOff + t.bitsOffset, t.bits, this.integer(t, node, t.bits, path), path);
      case 'ENUM':
      case 'ENUM64':
      case 'PTR': {
        const bits = t.kind === 'PTR' ? 64 : t.size * 8;
        return this.writeBits(at, 0, bits, this.integer(t, node, bits, path), path);
      }
      case 'FLOAT':
        return this.float(t.size, node, at, path);
      case 'ARRAY':
        return this.array(t.type, t.nelems, node, at, path, depth);
      case 'STRUCT':
      case 'UNION':
        return this.record(t, this.listOf(node, path), at, path, depth);
      case 'DATASEC':
        return this.datasec(t, node, at, path, depth);
      default:
        throw new ValueParseError(path, `a ${t.kind} cannot be written`);
    }
  }

  private listOf(node: Node, path: string): Entry[] {
    if (node.kind !== 'list') throw new ValueParseError(path, `expected '{ … }', found ${describe(node)}`);
    return node.entries;
  }

  /** The integer a node stands for, checked to fit `bits` (two's complement accepted). */
  private integer(t: BtfType, node: Node, bits: number, path: string): bigint {
    let v: bigint | undefined;
    if (node.kind === 'num') v = toBigInt(node.text);
    else if (node.kind === 'char') v = BigInt(node.code);
    else if (node.kind === 'ident' || node.kind === 'str') v = this.named(t, node.text);
    if (v === undefined) throw new ValueParseError(path, `expected ${expected(t)}, found ${describe(node)}`);
    const signed = (t.kind === 'INT' && (t.encoding & BTF_INT_SIGNED) !== 0) || ((t.kind === 'ENUM' || t.kind === 'ENUM64') && t.kindFlag);
    const min = signed || t.kind === 'ENUM' || t.kind === 'ENUM64' ? -(1n << BigInt(bits - 1)) : 0n;
    // a signed field takes its raw bits in hex (bpftool prints bitfields so), else the signed range
    const raw = node.kind !== 'num' || /^0[xXbB]/.test(node.text);
    const max = signed && !raw ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
    if (v < min || v > max) throw new ValueParseError(path, `${v} does not fit in ${bits} ${signed ? 'signed ' : ''}bits`);
    return BigInt.asUintN(bits, v);
  }

  /** Enum names, true/false/NULL, one-character strings for chars, hex strings ("0x1f") as bpftool prints bitfields. */
  private named(t: BtfType, text: string): bigint | undefined {
    if (t.kind === 'ENUM' || t.kind === 'ENUM64') {
      const hit = t.values.find((e) => e.name === text);
      // a 32-bit enum value stands for its sign extension (bpftool compares so; clang emits 64-bit enums so)
      if (hit) return t.kind === 'ENUM' ? BigInt(Number(hit.value) | 0) : BigInt(hit.value);
    }
    if (text === 'true' || text === 'false') return t.kind === 'INT' && t.encoding & BTF_INT_BOOL ? BigInt(text === 'true') : undefined;
    if (text === 'NULL' || text === 'null') return t.kind === 'PTR' ? 0n : undefined;
    if (t.kind === 'INT' && t.size === 1 && [...text].length === 1) return BigInt(text.codePointAt(0)!);
    return toBigInt(text);
  }

  private writeBits(at: number, bitOff: number, bits: number, v: bigint, path: string): void {
    at += bitOff >> 3;
    bitOff &= 7;
    const nbytes = (bitOff + bits + 7) >> 3;
    if (at + nbytes > this.out.length) throw new ValueParseError(path, `runs past the ${this.out.length}-byte value`);
    for (let i = 0; i < bits; i++) {
      const bit = Number((v >> BigInt(i)) & 1n);
      // little endian: value bit i at bit (bitOff+i) from the lowest; big endian: counted from the highest
      const pos = this.le ? bitOff + i : bitOff + bits - 1 - i;
      const byte = at + (pos >> 3);
      const mask = this.le ? 1 << (pos & 7) : 0x80 >> (pos & 7);
      this.out[byte] = bit ? this.out[byte] | mask : this.out[byte] & ~mask;
    }
  }

  private float(size: number, node: Node, at: number, path: string): void {
    const v = node.kind === 'num' ? Number(node.text.replace(/^inf(inity)?$/i, 'Infinity')) : NaN;
    if (node.kind !== 'num' || (Number.isNaN(v) && !/nan/i.test(node.text))) {
      throw new ValueParseError(path, `expected a number, found ${describe(node)}`);
    }
    if (size !== 4 && size !== 8) throw new ValueParseError(path, `${size}-byte floats cannot be written`);
    const dv = new DataView(this.out.buffer, this.out.byteOffset + at, size);
    if (size === 4) dv.setFloat32(0, v, this.le);
    else dv.setFloat64(0, v, this.le);
  }

  private array(elem: TypeId, nelems: number, node: Node, at: number, path: string, depth: number): void {
    const size = resolveSize(this.btf, elem);
    if (size < 0) throw new ValueParseError(path, 'the element type has no size');
    if (node.kind === 'str') {
      const bytes = Uint8Array.from(node.text, (ch) => ch.charCodeAt(0));
      if (bytes.some((b, i) => b !== node.text.charCodeAt(i))) throw new ValueParseError(path, 'the string holds characters above \\xff');
      if (bytes.length > nelems) throw new ValueParseError(path, `a string of ${bytes.length} bytes does not fit in ${nelems}`);
      if (size !== 1) throw new ValueParseError(path, 'a string fills only a char array');
      this.out.set(bytes, at);
      return;
    }
    let next = 0;
    for (const e of this.listOf(node, path)) {
      if (e.name !== undefined) throw new ValueParseError(`${path}.${e.name}`, 'an array has no members');
      const i = e.index ?? next;
      if (i >= nelems) throw new ValueParseError(`${path}[${i}]`, `the array has ${nelems} elements`);
      this.encode(elem, e.value, at + i * size, 0, 0, `${path}[${i}]`, depth + 1);
      next = i + 1;
    }
  }

  private record(t: BtfComposite, entries: Entry[], at: number, path: string, depth: number): void {
    let next = 0;
    const anonUsed = new Set<number>();
    for (const e of entries) {
      if (e.index !== undefined) throw new ValueParseError(`${path}[${e.index}]`, `${t.kind.toLowerCase()} members are named, not indexed`);
      let idx: number;
      if (e.name === undefined) idx = next;
      else if (e.name === '') idx = t.members.findIndex((m, i) => m.name === '' && !anonUsed.has(i));
      else idx = t.members.findIndex((m) => m.name === e.name);
      if (idx >= 0 && idx < t.members.length) {
        if (e.name === '') anonUsed.add(idx);
        this.member(t, idx, e.value, at, path, depth);
        next = idx + 1;
        continue;
      }
      const name = e.name ?? '';
      if (e.name !== undefined && this.intoAnonymous(t, name, e.value, at, path, depth)) continue;
      const field = path ? `${path}.${name}` : name;
      throw new ValueParseError(e.name === undefined ? path : field, e.name === undefined ? 'too many values' : 'no such member');
    }
  }

  private member(t: BtfComposite, i: number, value: Node, at: number, path: string, depth: number): void {
    const m = t.members[i];
    const field = m.name ? (path ? `${path}.${m.name}` : m.name) : path;
    const bitfield = t.kindFlag ? m.bitfieldSize : 0;
    this.encode(m.type, value, at + (m.bitsOffset >> 3), m.bitsOffset & 7, bitfield, field, depth + 1);
  }

  /** A designator naming a field of an anonymous member, as C allows. */
  private intoAnonymous(t: BtfComposite, name: string, value: Node, at: number, path: string, depth: number): boolean {
    for (const m of t.members) {
      if (m.name) continue;
      const r = resolveType(this.btf, m.type);
      const mt = r < 0 ? undefined : this.btf.get(r);
      if (!mt || (mt.kind !== 'STRUCT' && mt.kind !== 'UNION')) continue;
      const off = at + (m.bitsOffset >> 3);
      const j = mt.members.findIndex((x) => x.name === name);
      if (j >= 0) {
        this.member(mt, j, value, off, path, depth + 1);
        return true;
      }
      if (this.intoAnonymous(mt, name, value, off, path, depth + 1)) return true;
    }
    return false;
  }

  private datasec(t: Extract<BtfType, { kind: 'DATASEC' }>, node: Node, at: number, path: string, depth: number): void {
    let entries = this.listOf(node, path);
    // bpftool's form: {".bss": [{"counter": 1}, …]}
    if (entries.length === 1 && entries[0].name === t.name && entries[0].value.kind === 'list') {
      entries = entries[0].value.entries.flatMap((e) => (e.value.kind === 'list' ? e.value.entries : [e]));
    }
    for (const e of entries) {
      const v = t.vars.find((x) => this.btf.nameOf(x.type) === e.name);
      if (!v) throw new ValueParseError(e.name ?? path, `no variable of that name in ${t.name}`);
      const vt = this.btf.get(v.type);
      const val = vt?.kind === 'VAR' ? vt.type : v.type;
      this.encode(val, e.value, at + v.offset, 0, 0, e.name ?? '', depth + 1);
    }
  }
}

function toBigInt(text: string): bigint | undefined {
  const m = /^(-)?(0[xX][0-9a-fA-F]+|0[bB][01]+|\d+)$/.exec(text);
  if (!m) return undefined;
  const v = BigInt(m[2]);
  return m[1] ? -v : v;
}

function expected(t: BtfType): string {
  if (t.kind === 'ENUM' || t.kind === 'ENUM64') return `one of ${t.values.map((e) => e.name).join(', ') || '(no names)'} or an integer`;
  if (t.kind === 'PTR') return 'an address';
  if (t.kind === 'INT' && t.encoding & BTF_INT_BOOL) return 'true or false';
  return 'an integer';
}

function describe(n: Node): string {
  switch (n.kind) {
    case 'list':
      return 'a list';
    case 'str':
      return `"${n.text}"`;
    case 'char':
      return `'${String.fromCodePoint(n.code)}'`;
    default:
      return `'${n.text}'`;
  }
}
