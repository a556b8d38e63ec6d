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
import { Btf } from './btf';
import { declaration, LeafSpeller } from './c-decl';
import { CNames } from './dump-c-names';
import { recordInfo, memberBits, sizeOf, alignOf } from './layout';
import { BtfComposite, BtfEnum, BtfEnum64, BtfType, TypeId } from './types';

export interface DumpCOptions {
  /** Dump only these types and their dependencies (default: all). */
  readonly types?: readonly TypeId[];
  /** Header guard macro (default `__VMLINUX_H__`, as bpftool). */
  readonly guard?: string;
}

export function dumpC(btf: Btf, opts: DumpCOptions = {}): string {
  return new CDumper(btf).dump(opts);
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
  const d = new CDumper(btf);
  const text = d.dump(opts);
  return { text, names: d.names.all(), defined: d.defined };
}

const NOT = 0, BUSY = 1, DONE = 2;
// Far deeper than any real type graph (vmlinux needs a few dozen), well inside JS's stack.
const MAX_DEPTH = 3000;

class CDumper {
  private readonly n: number;
  private readonly orderState: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdDone: Uint8Array;
  private readonly referenced: Uint8Array;
  private readonly forced = new Set<TypeId>();
  private readonly queue: TypeId[] = [];
  private readonly out: string[] = [];
  readonly names: CNames;
  readonly defined: TypeId[] = [];
  /** Anonymous records being written inline (guards loops through typedefs). */
  private readonly inlining = new Set<TypeId>();

  constructor(private readonly btf: Btf) {
    this.n = btf.length;
    this.orderState = new Uint8Array(this.n);
    this.emitState = new Uint8Array(this.n);
    this.fwdDone = new Uint8Array(this.n);
    this.referenced = new Uint8Array(this.n);
    this.names = new CNames(btf);
  }

  dump(opts: DumpCOptions): string {
    const guard = opts.guard ?? '__VMLINUX_H__';
    this.markReferenced();
    const roots = opts.types ?? range(1, this.n);
    for (const id of roots) {
      if (!this.btf.has(id)) throw new RangeError(`BTF type id ${id} is out of range (${this.n} types)`);
      if (opts.types) this.forced.add(id);
      this.order(id, false);
    }
    const o = this.out;
    o.push(`#ifndef ${guard}\n#define ${guard}\n\n`);
    o.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n');
    o.push('#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n');
    for (const id of this.queue) this.emit(id, 0);
    o.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n');
    o.push(`#endif /* ${guard} */\n`);
    return o.join('');
  }

  /** Anonymous types used by another type are written inline there, not at top level. */
  private markReferenced(): void {
    const btf = this.btf;
    for (let id = 1; id < this.n; id++) {
      const t = btf.type(id);
      switch (t.kind) {
        case 'STRUCT': case 'UNION': for (const m of t.members) this.referenced[m.type] = 1; break;
        case 'FUNC_PROTO': this.referenced[t.type] = 1; for (const p of t.params) this.referenced[p.type] = 1; break;
        case 'DATASEC': for (const v of t.vars) this.referenced[v.type] = 1; break;
        case 'ARRAY': this.referenced[t.type] = 1; break;
        case 'PTR': case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG':
        case 'FUNC': case 'VAR': case 'DECL_TAG':
          this.referenced[t.type] = 1; break;
        default: break;
      }
    }
  }

  private topLevel(id: TypeId, t: BtfType): boolean {
    if (t.name !== '' || this.forced.has(id)) return true;
    // an enum nobody uses still defines constants; an unused anonymous record is noise
    return (t.kind === 'ENUM' || t.kind === 'ENUM64') && !this.referenced[id];
  }

  /**
   * Puts the types `id` needs, then `id` itself if it is written at top level, on the
   * queue. Returns true when a later user needs the full definition (not a forward).
   */
  private order(id: TypeId, throughPtr: boolean, depth = 0): boolean {
    if (id === 0) return true;
    if (depth > MAX_DEPTH) throw new RangeError(`BTF type [${id}]: types nest deeper than ${MAX_DEPTH}`);
    const t = this.btf.type(id);
    const st = this.orderState[id];
    if (st === DONE) return true;
    if (st === BUSY) return false; // a loop through a pointer: a forward declaration breaks it
    switch (t.kind) {
      case 'INT': case 'FLOAT':
        this.orderState[id] = DONE;
        return true;
      case 'PTR':
        return this.order(t.type, true, depth + 1);
      case 'ARRAY':
        // an array needs complete elements even behind a pointer
        return this.order(t.type, false, depth + 1);
      case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG':
        return this.order(t.type, throughPtr, depth + 1);
      case 'STRUCT': case 'UNION': {
        if (throughPtr && t.name) return false;
        this.orderState[id] = BUSY;
        for (const m of t.members) this.order(m.type, false, depth + 1);
        if (this.topLevel(id, t)) this.queue.push(id);
        this.orderState[id] = DONE;
        return true;
      }
      case 'ENUM': case 'ENUM64': case 'FWD':
        if (this.topLevel(id, t)) this.queue.push(id);
        this.orderState[id] = DONE;
        return true;
      case 'TYPEDEF': {
        this.orderState[id] = BUSY;
        const strong = this.order(t.type, throughPtr, depth + 1);
        if (throughPtr && !strong) {
          this.orderState[id] = NOT; // written when first used, after a forward of its target
          return false;
        }
        this.queue.push(id);
        this.orderState[id] = DONE;
        return true;
      }
      case 'FUNC_PROTO': {
        this.orderState[id] = BUSY;
        this.order(t.type, throughPtr, depth + 1);
        for (const p of t.params) this.order(p.type, throughPtr, depth + 1);
        this.orderState[id] = DONE;
        return true;
      }
      default: // FUNC, VAR, DATASEC, DECL_TAG: not written
        this.orderState[id] = DONE;
        return true;
    }
  }

  /** Writes what `id` needs and, at top level (`cont` 0), `id` itself. */
  private emit(id: TypeId, cont: TypeId, depth = 0): void {
    if (id === 0 || this.emitState[id] === DONE) return;
    if (depth > MAX_DEPTH) throw new RangeError(`BTF type [${id}]: types nest deeper than ${MAX_DEPTH}`);
    const btf = this.btf;
    const t = btf.type(id);
    switch (t.kind) {
      case 'STRUCT': case 'UNION': {
        if (id === cont) return; // a record pointing at itself needs no forward
        if (this.emitState[id] === BUSY || (cont !== 0 && t.name)) {
          // reached from inside a definition: only through a pointer (the order saw to that)
          if (t.name && !this.fwdDone[id]) {
            this.out.push(`${this.tagName(id, t)};\n\n`);
            this.fwdDone[id] = 1;
          }
          return;
        }
        this.emitState[id] = BUSY;
        for (const m of t.members) this.emit(m.type, t.name || cont === 0 ? id : cont, depth + 1);
        if (cont === 0) {
          this.out.push(`${this.recordDef(id, t, 0)};\n\n`);
          this.emitState[id] = DONE;
          this.defined.push(id);
        } else {
          this.emitState[id] = NOT; // anonymous: written inline by its user
        }
        return;
      }
      case 'ENUM': case 'ENUM64':
        if (t.name || cont === 0) {
          this.out.push(`${this.enumDef(id, t, 0)};\n\n`);
          this.emitState[id] = DONE;
        }
        return;
      case 'FWD':
        this.out.push(`${this.tagName(id, t)};\n\n`);
        this.emitState[id] = DONE;
        return;
      case 'TYPEDEF':
        if (this.emitState[id] === BUSY) return;
        this.emitState[id] = BUSY;
        this.emit(t.type, id, depth + 1);
        if (!this.names.isBuiltin(id, t)) {
          this.out.push(`typedef ${declaration(btf, t.type, this.names.of(id, t), this.leaf(0))};\n\n`);
        }
        this.emitState[id] = DONE;
        return;
      case 'PTR': case 'ARRAY': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG':
        this.emit(t.type, cont, depth + 1);
        return;
      case 'FUNC_PROTO':
        if (this.emitState[id] === BUSY) return;
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
    const kw = t.kind === 'UNION' || (t.kind === 'FWD' && t.kindFlag) ? 'union' : t.kind === 'STRUCT' || t.kind === 'FWD' ? 'struct' : 'enum';
    const name = this.names.of(id, t);
    return name ? `${kw} ${name}` : kw;
  }

  /** Spells leaf types at indentation `lvl`: anonymous records and enums inline. */
  private leaf(lvl: number): LeafSpeller {
    return (id, t) => {
      if (!t) return 'void';
      switch (t.kind) {
        case 'STRUCT': case 'UNION':
          if (!t.name) {
            if (this.inlining.has(id)) return 'void'; // a loop C cannot spell
            return this.recordDef(id, t, lvl);
          }
          return this.tagName(id, t);
        case 'ENUM': case 'ENUM64':
          return t.name ? this.tagName(id, t) : this.enumDef(id, t, lvl);
        case 'FWD':
          return this.tagName(id, t);
        default:
          return this.names.of(id, t) || 'void';
      }
    };
  }

  private recordDef(id: TypeId, t: BtfComposite, lvl: number): string {
    if (lvl > MAX_DEPTH / 10) throw new RangeError(`BTF type [${id}]: anonymous records nest deeper than ${MAX_DEPTH / 10}`);
    this.inlining.add(id);
    const btf = this.btf;
    const info = recordInfo(btf, id);
    const ind = '\t'.repeat(lvl + 1);
    const lines: string[] = [];
    const leaf = this.leaf(lvl + 1);
    let cur = 0; // bits placed so far, as the C compiler will see our definition
    for (let i = 0; i < t.members.length; i++) {
      const m = t.members[i];
      const { bitOffset, bitSize } = memberBits(btf, t, i);
      const name = this.names.member(m.name);
      if (t.kind === 'STRUCT') {
        const natural = bitSize ? bitfieldPlace(cur, bitSize, sizeOf(btf, m.type) * 8, info.packed)
          : roundUp(cur, (info.packed ? 1 : alignOf(btf, m.type)) * 8);
        if (bitOffset !== natural && bitOffset > cur) padding(lines, ind, cur, bitOffset);
        cur = bitOffset + (bitSize || sizeOf(btf, m.type) * 8);
      }
      const decl = declaration(btf, m.type, name, leaf);
      lines.push(`${ind}${decl}${bitSize ? `: ${bitSize}` : ''};\n`);
    }
    if (t.kind === 'STRUCT' && roundUp(cur, info.align * 8) !== t.size * 8 && t.size * 8 > cur) {
      padding(lines, ind, cur, t.size * 8);
    }
    if (t.kind === 'UNION' && !info.packed && !info.alignedAttr && needsUnionPad(btf, t, info.align)) {
      lines.push(`${ind}char __bpf_lens_pad_${t.size}[${t.size}];\n`);
    }
    this.inlining.delete(id);
    const head = this.tagName(id, t);
    const attrs = (info.packed ? ' __attribute__((packed))' : '') + (info.alignedAttr ? ` __attribute__((aligned(${info.alignedAttr})))` : '');
    if (lines.length === 0) return `${head} {}${attrs}`;
    return `${head} {\n${lines.join('')}${'\t'.repeat(lvl)}}${attrs}`;
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

const INT_MIN = -(1n << 31n), INT_MAX = (1n << 31n) - 1n, UINT_MAX = (1n << 32n) - 1n;
const LLONG_MIN = -(1n << 63n), LLONG_MAX = (1n << 63n) - 1n;

/** The size clang gives an enum with these values (int, unsigned int, or 64-bit). */
function enumNaturalSize(vals: readonly bigint[]): number {
  let neg = false, big = false;
  for (const v of vals) {
    if (v < 0n) { neg = true; if (v < INT_MIN) big = true; }
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

const PAD_TYPES: readonly [number, string][] = [[64, 'long'], [32, 'int'], [16, 'short'], [8, 'char']];

/**
 * Unnamed bitfields that fill bits [from, to). Each stays inside one aligned unit of its
 * type, so C places it exactly there; unnamed bitfields do not change alignment.
 */
function padding(lines: string[], ind: string, from: number, to: number): void {
  // A huge gap (hostile or odd BTF) as one char array: a line per long would be millions.
  if (to - from > PAD_ARRAY_BITS) {
    const start = Math.ceil(from / 8) * 8, end = Math.floor(to / 8) * 8;
    padding(lines, ind, from, start);
    lines.push(`${ind}char __bpf_lens_pad_${start / 8}[${(end - start) / 8}];\n`);
    from = end;
  }
  while (from < to) {
    let bits = 0, type = 'char';
    for (const [w, name] of PAD_TYPES) {
      const unitEnd = Math.floor(from / w) * w + w;
      if (unitEnd <= to || w === 8) { bits = Math.min(unitEnd, to) - from; type = name; break; }
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
