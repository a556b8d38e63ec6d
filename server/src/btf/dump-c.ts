/**
 * BTF → compilable C header, like `bpftool btf dump file X format c` (vmlinux.h).
 *
 *   dumpC(btf, { types?: TypeId[], guard?: string }): string
 *   dumpCDetailed(btf, opts): { text, names (id → written name), defined (records written) }
 *
 * Every type of `btf` (its base's too) or, with `types`, those types and everything they
 * need. Types come in dependency order: a record is defined after what it holds by value;
 * what it reaches only through pointers gets a forward declaration. Anonymous types are
 * written inline where used (unreferenced anonymous enums at top level, as bpftool does).
 * Types of the same name get bpftool's `___2`, `___3` suffixes, enumerators too. The
 * layout of every record is exactly the BTF's: explicit padding (`long: 64;`) where C's
 * natural placement would differ, `__attribute__((packed))` where members or size break
 * natural alignment, `aligned(N)` on unions whose size only alignment explains, and
 * `mode(..)` on enums whose size is not what C would pick. FUNC, VAR, DATASEC and DECL_TAG
 * are not written; TYPE_TAG becomes `__attribute__((btf_type_tag("x")))`.
 * Throws RangeError/TypeError only for BTF that the parser would have refused.
 */
import { type Btf } from './btf';
import { declaration, type LeafSpeller } from './c-decl';
import { CNames } from './dump-c-names';
import { recordInfo, memberBits, sizeOf, alignOf } from './layout';
import { BUSY, DONE, MAX_DEPTH, NOT, TypeChains, TypeOrder } from './dump-c-order';
import { type BtfComposite, type BtfEnum, type BtfEnum64, type BtfType, type TypeId } from './types';

export interface DumpCOptions {
  /** Dump only these types and their dependencies (default: all). */
  readonly types?: readonly TypeId[];
  /** Header guard macro (default `__VMLINUX_H__`, as bpftool). */
  readonly guard?: string;
  /**
   * Stop with a CLimitError once the text passes this many characters (counted while it
   * is written: hostile BTF whose anonymous records nest through reuse spells out 16^depth
   * copies of one record).
   */
  readonly maxChars?: number;
}

/** The C text reached `maxChars`; `partial` is what was written up to there. */
export class CLimitError extends RangeError {
  constructor(
    readonly maxChars: number,
    readonly partial: string,
  ) {
    super(`the C text of this BTF is larger than ${maxChars} characters`);
  }
}

export function dumpC(btf: Btf, opts: DumpCOptions = {}): string {
  const parts: string[] = [];
  new CDumper(btf, new CWriter((s) => parts.push(s), opts.maxChars, parts)).dump(opts);
  return parts.join('');
}

/**
 * Writes the C text in pieces of about 64 KB to `sink` as it is made (bpftool streams its
 * dump the same way): the text of hostile BTF can be far larger than memory.
 */
export function dumpCTo(btf: Btf, sink: (text: string) => void, opts: DumpCOptions = {}): void {
  new CDumper(btf, new CWriter(sink, opts.maxChars)).dump(opts);
}

/** Collects small strings and hands them over in chunks; counts against a limit. */
class CWriter {
  private pending: string[] = [];
  private size = 0;
  private total = 0;

  constructor(
    private readonly sink: (s: string) => void,
    private readonly max = Infinity,
    private readonly kept?: string[],
  ) {}

  write(s: string): void {
    this.total += s.length;
    if (this.total > this.max) {
      this.flush();
      const text = (this.kept ?? []).join('') + s;
      throw new CLimitError(this.max, text.slice(0, this.max));
    }
    this.pending.push(s);
    this.size += s.length;
    if (this.size >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.pending.length) this.sink(this.pending.join(''));
    this.pending = [];
    this.size = 0;
  }
}

export interface DumpCResult {
  readonly text: string;
  /** The name each written named type got (with its `___N` suffix if it had to take one). */
  readonly names: ReadonlyMap<TypeId, string>;
  /** STRUCT/UNION ids written with a full definition, in output order. */
  readonly defined: readonly TypeId[];
}

/** dumpC, and what a caller needs to refer to the written types (tests, hovers). */
export function dumpCDetailed(btf: Btf, opts: DumpCOptions = {}): DumpCResult {
  const parts: string[] = [];
  const d = new CDumper(btf, new CWriter((s) => parts.push(s), opts.maxChars, parts));
  d.dump(opts);
  return { text: parts.join(''), names: d.names.all(), defined: d.defined };
}

class CDumper {
  private readonly n: number;
  private readonly emitState: Uint8Array;
  private readonly fwdDone: Uint8Array;
  private readonly chains: TypeChains;
  readonly names: CNames;
  readonly defined: TypeId[] = [];
  /** Anonymous records being written inline (guards loops through typedefs). */
  private readonly inlining = new Set<TypeId>();
  /** Anonymous records the leaf speller marked in the declaration being built. */
  private readonly marks: TypeId[] = [];
  private readonly walkedFor = new Set<number>();

  constructor(
    private readonly btf: Btf,
    private readonly w: CWriter,
  ) {
    this.n = btf.length;
    this.emitState = new Uint8Array(this.n);
    this.fwdDone = new Uint8Array(this.n);
    this.chains = new TypeChains(btf);
    this.names = new CNames(btf);
  }

  dump(opts: DumpCOptions): void {
    const guard = opts.guard ?? '__VMLINUX_H__';
    const order = new TypeOrder(this.btf, this.chains);
    for (const id of opts.types ?? range(1, this.n)) {
      if (!this.btf.has(id)) throw new RangeError(`BTF type id ${id} is out of range (${this.n} types)`);
      if (opts.types) order.force(id);
      order.order(id, false);
    }
    const o = this.w;
    o.write(`#ifndef ${guard}\n#define ${guard}\n\n`);
    o.write('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n');
    o.write('#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n');
    for (const id of order.queue) this.emit(id, 0);
    o.write('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n');
    o.write(`#endif /* ${guard} */\n`);
    o.flush();
  }

  /**
   * True when what anonymous record or prototype `id` needs was already written for
   * container `cont`: one record reused 16^depth times (through __typeof__) is walked once.
   */
  private walked(id: TypeId, cont: TypeId): boolean {
    const key = id * this.n + cont;
    if (this.walkedFor.has(key)) return true;
    this.walkedFor.add(key);
    return false;
  }

  /** Writes what `id` needs and, at top level (`cont` 0), `id` itself. */
  private emit(id: TypeId, cont: TypeId, depth = 0): void {
    if (depth > MAX_DEPTH) throw new RangeError(`BTF type [${id}]: types nest deeper than ${MAX_DEPTH}`);
    const btf = this.btf;
    if (id !== 0) this.chains.walk(id);
    id = id === 0 ? 0 : this.chains.ends[id];
    const t = btf.get(id);
    if (!t || this.emitState[id] === DONE) return;
    switch (t.kind) {
      case 'STRUCT':
      case 'UNION': {
        if (id === cont) return; // a record pointing at itself needs no forward
        if (this.emitState[id] === BUSY || (cont !== 0 && t.name)) {
          // reached from inside a definition: only through a pointer (the order saw to that)
          if (t.name && !this.fwdDone[id]) {
            this.w.write(`${this.tagName(id, t)};\n\n`);
            this.fwdDone[id] = 1;
          }
          return;
        }
        if (cont !== 0 && this.walked(id, cont)) return;
        this.emitState[id] = BUSY;
        for (const m of t.members) this.emit(m.type, t.name || cont === 0 ? id : cont, depth + 1);
        if (cont === 0) {
          this.recordDef(id, t, 0);
          this.w.write(';\n\n');
          this.emitState[id] = DONE;
          this.defined.push(id);
        } else {
          this.emitState[id] = NOT; // anonymous: written inline by its user
        }
        return;
      }
      case 'ENUM':
      case 'ENUM64':
        if (t.name || cont === 0) {
          this.w.write(`${this.enumDef(id, t, 0)};\n\n`);
          this.emitState[id] = DONE;
        }
        return;
      case 'FWD':
        this.w.write(`${this.tagName(id, t)};\n\n`);
        this.emitState[id] = DONE;
        return;
      case 'TYPEDEF':
        if (this.emitState[id] === BUSY) return;
        this.emitState[id] = BUSY;
        this.emit(t.type, id, depth + 1);
        if (!this.names.isBuiltin(id, t)) {
          this.writeDecl(`typedef ${declaration(btf, t.type, this.names.of(id, t), this.leaf(0))};\n\n`, 0);
        }
        this.emitState[id] = DONE;
        return;
      case 'FUNC_PROTO':
        if (this.emitState[id] === BUSY || this.walked(id, cont)) return;
        this.emitState[id] = BUSY;
        this.emit(t.type, cont, depth + 1);
        for (const p of t.params) this.emit(p.type, cont, depth + 1);
        this.emitState[id] = NOT;
        return;
      default:
        return;
    }
  }

  private tagName(id: TypeId, t: BtfType): string {
    const kw =
      t.kind === 'UNION' || (t.kind === 'FWD' && t.kindFlag) ? 'union' : t.kind === 'STRUCT' || t.kind === 'FWD' ? 'struct' : 'enum';
    const name = this.names.of(id, t);
    return name ? `${kw} ${name}` : kw;
  }

  /**
   * Spells leaf types at indentation `lvl`: anonymous enums inline; an anonymous record as a
   * marker that writeDecl() replaces by its definition, written piece by piece.
   */
  private leaf(lvl: number): LeafSpeller {
    return (id, t) => {
      if (!t) return 'void';
      switch (t.kind) {
        case 'STRUCT':
        case 'UNION':
          if (!t.name) {
            if (this.inlining.has(id)) return 'void'; // a loop C cannot spell
            this.marks.push(id);
            return `\u0001${id}\u0002`;
          }
          return this.tagName(id, t);
        case 'ENUM':
        case 'ENUM64':
          return t.name ? this.tagName(id, t) : this.enumDef(id, t, lvl);
        case 'FWD':
          return this.tagName(id, t);
        default:
          return this.names.of(id, t) || 'void';
      }
    };
  }

  /** Writes a declaration, each anonymous record marked in it defined in place at `lvl`. */
  private writeDecl(decl: string, lvl: number): void {
    const marks = this.marks.splice(0);
    // eslint-disable-next-line no-control-regex -- \x01 and \x02 are the marks this file puts in declarations
    const parts = decl.split(/\u0001(\d+)\u0002/);
    for (let i = 0, k = 0; i < parts.length; i++) {
      if (i % 2 === 0) {
        if (parts[i]) this.w.write(parts[i]);
      } else if (Number(parts[i]) === marks[k]) {
        this.recordDef(marks[k], this.btf.type(marks[k++]) as BtfComposite, lvl);
      } else {
        this.w.write(`\u0001${parts[i]}\u0002`); // those bytes were in a name, not a marker
      }
    }
  }

  private recordDef(id: TypeId, t: BtfComposite, lvl: number): void {
    if (lvl > MAX_DEPTH / 10) throw new RangeError(`BTF type [${id}]: anonymous records nest deeper than ${MAX_DEPTH / 10}`);
    this.inlining.add(id);
    const btf = this.btf;
    const info = recordInfo(btf, id);
    const ind = '\t'.repeat(lvl + 1);
    const leaf = this.leaf(lvl + 1);
    const w = this.w;
    const head = this.tagName(id, t);
    const attrs =
      (info.packed ? ' __attribute__((packed))' : '') + (info.alignedAttr ? ` __attribute__((aligned(${info.alignedAttr})))` : '');
    const lines: string[] = []; // padding lines, written as they come
    const unionPad = t.kind === 'UNION' && !info.packed && !info.alignedAttr && needsUnionPad(btf, t, info.align);
    let opened = false;
    const open = () => {
      if (!opened) w.write(`${head} {\n`);
      opened = true;
    };
    let cur = 0; // bits placed so far, as the C compiler will see our definition
    for (let i = 0; i < t.members.length; i++) {
      const m = t.members[i];
      const { bitOffset, bitSize } = memberBits(btf, t, i);
      const name = this.names.member(m.name);
      if (t.kind === 'STRUCT') {
        const natural = bitSize
          ? bitfieldPlace(cur, bitSize, sizeOf(btf, m.type) * 8, info.packed)
          : roundUp(cur, (info.packed ? 1 : alignOf(btf, m.type)) * 8);
        if (bitOffset !== natural && bitOffset > cur) padding(lines, ind, cur, bitOffset);
        cur = bitOffset + (bitSize || sizeOf(btf, m.type) * 8);
      }
      open();
      if (lines.length) w.write(lines.splice(0).join(''));
      this.writeDecl(`${ind}${declaration(btf, m.type, name, leaf)}${bitSize ? `: ${bitSize}` : ''};\n`, lvl + 1);
    }
    if (t.kind === 'STRUCT' && roundUp(cur, info.align * 8) !== t.size * 8 && t.size * 8 > cur) {
      padding(lines, ind, cur, t.size * 8);
    }
    if (unionPad) lines.push(`${ind}char __bpf_lens_pad_${t.size}[${t.size}];\n`);
    this.inlining.delete(id);
    if (!opened && lines.length === 0) {
      w.write(`${head} {}${attrs}`);
      return;
    }
    open();
    w.write(`${lines.join('')}${'\t'.repeat(lvl)}}${attrs}`);
  }

  private enumDef(id: TypeId, t: BtfEnum | BtfEnum64, lvl: number): string {
    const head = this.tagName(id, t);
    if (t.values.length === 0) return head;
    const ind = '\t'.repeat(lvl + 1);
    const width = t.kind === 'ENUM' ? 32 : 64;
    const vals: bigint[] = t.values.map((v) => {
      const b = BigInt(v.value);
      if (t.kindFlag) return BigInt.asIntN(width, b);
      const u = BigInt.asUintN(width, b);
      // encoders without signed enums (clang < 15) store a negative value of a 1- or
      // 2-byte enum sign-extended: only a negative reading fits the enum's size
      if (t.size < 4 && u >> BigInt(t.size * 8) !== 0n) return BigInt.asIntN(width, b);
      return u;
    });
    const lines = t.values.map((v, i) => `${ind}${this.names.enumerator(v.name)} = ${enumLiteral(vals[i])},\n`);
    const want = enumNaturalSize(vals);
    const mode = want === t.size ? '' : MODES[t.size];
    return `${head} {\n${lines.join('')}${'\t'.repeat(lvl)}}${mode ? ` __attribute__((mode(${mode})))` : ''}`;
  }
}

const MODES: Record<number, string> = { 1: 'QI', 2: 'HI', 4: 'SI', 8: 'DI' };

const INT_MIN = -(1n << 31n),
  INT_MAX = (1n << 31n) - 1n,
  UINT_MAX = (1n << 32n) - 1n;
const LLONG_MIN = -(1n << 63n),
  LLONG_MAX = (1n << 63n) - 1n;

/** The size clang gives an enum with these values (int, unsigned int, or 64-bit). */
function enumNaturalSize(vals: readonly bigint[]): number {
  let neg = false,
    big = false;
  for (const v of vals) {
    if (v < 0n) {
      neg = true;
      if (v < INT_MIN) big = true;
    }
    if (v > UINT_MAX) big = true;
  }
  if (!big && neg) for (const v of vals) if (v > INT_MAX) big = true;
  return big ? 8 : 4;
}

/** A C literal with the suffix its value needs. */
function enumLiteral(v: bigint): string {
  if (v >= INT_MIN && v <= INT_MAX) return v.toString();
  if (v > 0n && v <= UINT_MAX) return `${v}U`;
  if (v > LLONG_MAX) return `${v}ULL`;
  if (v === LLONG_MIN) return '(-9223372036854775807LL - 1)';
  return `${v}LL`;
}

function needsUnionPad(btf: Btf, t: BtfComposite, align: number): boolean {
  let maxEnd = 0;
  for (let i = 0; i < t.members.length; i++) {
    const { bitOffset, bitSize } = memberBits(btf, t, i);
    maxEnd = Math.max(maxEnd, bitSize ? Math.ceil((bitOffset + bitSize) / 8) : Math.ceil(bitOffset / 8) + sizeOf(btf, t.members[i].type));
  }
  return roundUp(maxEnd, align) !== t.size;
}

function roundUp(v: number, a: number): number {
  return a <= 1 ? v : Math.ceil(v / a) * a;
}

/** Where C puts a bitfield of `bits` after `cur` bits: the next unit if it would straddle one. */
function bitfieldPlace(cur: number, bits: number, unit: number, packed: boolean): number {
  if (packed || unit === 0) return cur;
  return Math.floor(cur / unit) === Math.floor((cur + bits - 1) / unit) ? cur : roundUp(cur, unit);
}

/** Gaps wider than this (4 KiB) are padded with a char array instead of `long: 64;` lines. */
const PAD_ARRAY_BITS = 4096 * 8;

const PAD_TYPES: readonly [number, string][] = [
  [64, 'long'],
  [32, 'int'],
  [16, 'short'],
  [8, 'char'],
];

/**
 * Unnamed bitfields that fill bits [from, to). Each stays inside one aligned unit of its
 * type, so C places it exactly there; unnamed bitfields do not change alignment.
 */
function padding(lines: string[], ind: string, from: number, to: number): void {
  // A huge gap (hostile or odd BTF) as one char array: a line per long would be millions.
  if (to - from > PAD_ARRAY_BITS) {
    const start = Math.ceil(from / 8) * 8,
      end = Math.floor(to / 8) * 8;
    padding(lines, ind, from, start);
    lines.push(`${ind}char __bpf_lens_pad_${start / 8}[${(end - start) / 8}];\n`);
    from = end;
  }
  while (from < to) {
    let bits = 0,
      type = 'char';
    for (const [w, name] of PAD_TYPES) {
      const unitEnd = Math.floor(from / w) * w + w;
      if (unitEnd <= to || w === 8) {
        bits = Math.min(unitEnd, to) - from;
        type = name;
        break;
      }
    }
    lines.push(`${ind}${type}: ${bits};\n`);
    from += bits;
  }
}

function range(from: number, to: number): TypeId[] {
  const r = new Array<TypeId>(Math.max(0, to - from));
  for (let i = from; i < to; i++) r[i - from] = i;
  return r;
}
