/**
 * Type layout from BTF: sizes, alignment, member offsets, holes and padding, as C and
 * pahole see them.
 *
 *   sizeOf(btf, id)        bytes, through typedefs and modifiers (libbpf's btf__resolve_size)
 *   alignOf(btf, id)       alignment as C computes it for the type (libbpf's btf__align_of):
 *                          scalars natural (up to 16), arrays by element, records by their
 *                          most aligned member, 1 for records BTF shows to be packed
 *   recordInfo(btf, id)    for a STRUCT/UNION: packed?, natural and emitted alignment, and
 *                          the `aligned(N)` a C definition needs to reach the BTF size
 *   structLayout(btf, id)  rows {name, typeName, offset, size, bitOffset/bitSize, holeBefore,
 *                          bitHoleBefore, inner layout of anonymous records}, tail padding,
 *                          hole totals: what a hover shows as "offset | size | field"
 *   formatLayout(btf, layout) the same as pahole-style text (`/* XXX 4 bytes hole, try to pack *\/`)
 *   typeName(btf, id)      C spelling of a type: `struct foo *`, `int [4][3]`, `void (*)(int)`
 *   memberDeclaration(btf, typeId, name, bitSize)  `int (*cb)(void *, long)`, `unsigned int a:3`
 *   memberBits(btf, rec, i) a member's bit offset and bitfield size, in either BTF encoding
 *   pointerSize(btf)       8, or 4 for BTF whose `long` is 4 bytes
 *
 * Everything is computed from BTF alone (BTF has no alignment) and cached per Btf.
 */
import { type Btf } from './btf';
import { declaration, plainLeaf } from './c-decl';
import { type BtfComposite, type BtfType, type TypeId } from './types';

/** Pointer size: the size of `long` in this BTF when it has one, else 8. */
export function pointerSize(btf: Btf): number {
  const c = cache(btf);
  if (c.ptrSize === 0) {
    c.ptrSize = 8;
    for (const n of ['long', 'long int', 'unsigned long', 'long unsigned int']) {
      const t = btf.find('INT', n);
      if (t && t.kind === 'INT' && (t.size === 4 || t.size === 8)) {
        c.ptrSize = t.size;
        break;
      }
    }
  }
  return c.ptrSize;
}

interface Cache {
  ptrSize: number;
  /** Nesting of recordInfo calls now running (records inside records). */
  depth: number;
  records: Map<TypeId, RecordInfo>;
}
const caches = new WeakMap<Btf, Cache>();
function newCache(): Cache {
  return { ptrSize: 0, depth: 0, records: new Map() };
}
function cache(btf: Btf): Cache {
  let c = caches.get(btf);
  if (!c) caches.set(btf, (c = newCache()));
  return c;
}

/** Size in bytes; 0 for void, functions and forward declarations. */
export function sizeOf(btf: Btf, id: TypeId): number {
  let mult = 1;
  // a chain longer than the number of types is a loop (valid chains run 2,900 arrays deep)
  for (let depth = 0; depth <= btf.length; depth++) {
    const t = btf.get(id);
    if (!t) return 0;
    switch (t.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'STRUCT':
      case 'UNION':
      case 'FLOAT':
      case 'DATASEC':
        return mult * t.size;
      case 'PTR':
        return mult * pointerSize(btf);
      case 'ARRAY':
        mult *= t.nelems;
        if (mult === 0) return 0;
        id = t.type;
        break;
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'VAR':
        id = t.type;
        break;
      default:
        return 0;
    }
  }
  throw new RangeError(`BTF type [${id}]: reference loop (a chain longer than the ${btf.length} types)`);
}

function scalarAlign(size: number): number {
  let a = 1;
  while (a * 2 <= size && a < 16) a *= 2;
  return a;
}

/** Alignment as a C compiler gives it to the type (1 for packed records). */
export function alignOf(btf: Btf, id: TypeId): number {
  for (let depth = 0; depth <= btf.length; depth++) {
    const t = btf.get(id);
    if (!t) return 1;
    switch (t.kind) {
      case 'INT':
      case 'FLOAT':
      case 'ENUM':
      case 'ENUM64':
        return scalarAlign(t.size);
      case 'PTR':
        return pointerSize(btf);
      case 'STRUCT':
      case 'UNION':
        return recordInfo(btf, id).align;
      case 'ARRAY':
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'VAR':
        id = t.type;
        break;
      default:
        return 1;
    }
  }
  throw new RangeError(`BTF type [${id}]: reference loop (a chain longer than the ${btf.length} types)`);
}

export interface MemberBits {
  /** Bit offset from the start of the record. */
  readonly bitOffset: number;
  /** Bitfield width; 0 for an ordinary member. */
  readonly bitSize: number;
}

/**
 * Bit offset and bitfield size of member `i`. With kind_flag the size is in the member;
 * without it (older encoders) a bitfield is an INT whose `bits` is narrower than its size.
 */
export function memberBits(btf: Btf, rec: BtfComposite, i: number): MemberBits {
  const m = rec.members[i];
  if (rec.kindFlag) return { bitOffset: m.bitsOffset, bitSize: m.bitfieldSize };
  const t = btf.get(btf.skipTypedefs(m.type));
  if (t?.kind === 'INT' && (t.bits !== t.size * 8 || t.bitsOffset !== 0)) {
    return { bitOffset: m.bitsOffset + t.bitsOffset, bitSize: t.bits };
  }
  return { bitOffset: m.bitsOffset, bitSize: 0 };
}

export interface RecordInfo {
  /** A C definition must be `__attribute__((packed))` to reproduce the BTF offsets. */
  readonly packed: boolean;
  /** Alignment of the C definition (1 when packed, `alignedAttr` when set). */
  readonly align: number;
  /** Largest member alignment, ignoring packing. */
  readonly naturalAlign: number;
  /** N for `__attribute__((aligned(N)))` when the size is reachable no other way; else 0. */
  readonly alignedAttr: number;
}

function roundUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** Packing and alignment of a STRUCT or UNION (cached). */
export function recordInfo(btf: Btf, id: TypeId): RecordInfo {
  const c = cache(btf);
  const have = c.records.get(id);
  if (have) return have;
  const t = btf.type(id);
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') throw new TypeError(`BTF type [${id}] is ${t.kind}, not a STRUCT or UNION`);
  // Records contain records only by value, and the parser refuses such cycles, so this
  // recursion ends; the placeholder guards BTF built in memory without that check.
  c.records.set(id, { packed: false, align: 1, naturalAlign: 1, alignedAttr: 0 });
  if (c.depth > MAX_NESTING) throw new RangeError(`BTF type [${id}]: records nest deeper than ${MAX_NESTING}`);
  c.depth++;
  try {
    const info = computeRecordInfo(btf, t);
    c.records.set(id, info);
    return info;
  } finally {
    c.depth--;
  }
}

// Real records nest a few levels; hostile BTF could nest until the stack runs out.
const MAX_NESTING = 2000;

function computeRecordInfo(btf: Btf, t: BtfComposite): RecordInfo {
  let natural = 1;
  let misplaced = false;
  let maxEnd = 0;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i];
    const a = alignOf(btf, m.type);
    natural = Math.max(natural, a);
    const { bitOffset, bitSize } = memberBits(btf, t, i);
    if (bitSize === 0) {
      if (bitOffset % (a * 8) !== 0) misplaced = true;
      maxEnd = Math.max(maxEnd, Math.ceil(bitOffset / 8) + sizeOf(btf, m.type));
    } else {
      const unit = sizeOf(btf, m.type) * 8;
      // a bitfield that crosses a storage unit of its type only exists in packed records
      if (unit > 0 && Math.floor(bitOffset / unit) !== Math.floor((bitOffset + bitSize - 1) / unit)) misplaced = true;
      maxEnd = Math.max(maxEnd, Math.ceil((bitOffset + bitSize) / 8));
    }
  }
  let packed = misplaced || t.size % natural !== 0;
  let align = packed ? 1 : natural;
  let alignedAttr = 0;
  if (t.kind === 'UNION' && roundUp(maxEnd, align) !== t.size) {
    // A union cannot carry explicit padding members: reach its size by alignment.
    if (maxEnd === t.size) {
      packed = true;
      align = 1;
    } else {
      for (let a = align * 2; a <= 4096 && a <= t.size; a *= 2) {
        if (roundUp(maxEnd, a) === t.size) {
          alignedAttr = a;
          align = a;
          break;
        }
      }
    }
  }
  return { packed, align, naturalAlign: natural, alignedAttr };
}

/** C spelling of a type for humans: `struct foo *`, `int [4][3]`, `void (*)(int)`. */
export function typeName(btf: Btf, id: TypeId): string {
  return declaration(btf, id, '', plainLeaf);
}

/** A member declaration for hovers: `int (*cb)(void *, long)`, `unsigned int a:3`. */
export function memberDeclaration(btf: Btf, typeId: TypeId, name: string, bitSize = 0): string {
  const d = declaration(btf, typeId, name, plainLeaf);
  return bitSize ? `${d}:${bitSize}` : d;
}

export interface LayoutRow {
  /** Member index in the record. */
  readonly index: number;
  /** '' for an anonymous struct/union member. */
  readonly name: string;
  readonly typeId: TypeId;
  /** C spelling of the member's type. */
  readonly typeName: string;
  /** Byte offset from the start of the outermost record (bitfields: offset of their first byte). */
  readonly offset: number;
  /** Size of the member's type in bytes (for a bitfield: of its declared type). */
  readonly size: number;
  /** Bit offset from the start of the outermost record. */
  readonly bitOffset: number;
  /** Bitfield width; 0 for ordinary members. */
  readonly bitSize: number;
  /** Whole bytes of hole between the previous member's end and this one. */
  readonly holeBefore: number;
  /** Bits of hole (0..7) beyond `holeBefore` bytes. */
  readonly bitHoleBefore: number;
  /** Layout of a member whose type is an anonymous struct/union, offsets from the outermost record. */
  readonly inner?: RecordLayout;
  /**
   * Set instead of `inner` when this anonymous record was already laid out at an earlier
   * member of the same layout (one record reused through `__typeof__`): that member's path,
   * like `m.m0`. Each record is expanded once, so a layout grows with the BTF, not 16^depth.
   */
  readonly sameAs?: string;
}

export interface RecordLayout {
  readonly id: TypeId;
  readonly kind: 'STRUCT' | 'UNION';
  /** '' when anonymous. */
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly packed: boolean;
  readonly rows: readonly LayoutRow[];
  /** Bytes after the end of the last member (bit padding separately). */
  readonly tailPadding: number;
  readonly tailBitPadding: number;
  readonly holes: number;
  readonly holeBytes: number;
  readonly bitHoles: number;
  readonly bitHoleBits: number;
  /** Bytes of non-bitfield members, as pahole's "sum members". */
  readonly sumMembers: number;
  readonly sumBitfieldBits: number;
  /** Rows of this record and those inside it left out to stay within `maxRows`. */
  readonly omitted: number;
}

export interface LayoutOptions {
  /** Rows (nested ones included) to build at most; the rest are counted in `omitted`. */
  readonly maxRows?: number;
}

/** State shared by one structLayout call and the records inside it. */
interface LayoutWalk {
  readonly maxRows: number;
  rows: number;
  /** Anonymous records laid out so far, by id: the path of the member that shows them. */
  readonly shown: Map<TypeId, string>;
}

/** The layout of a STRUCT or UNION (through typedefs and modifiers). */
export function structLayout(btf: Btf, id: TypeId, opts: LayoutOptions = {}): RecordLayout {
  return layoutOf(btf, id, 0, 0, '', { maxRows: opts.maxRows ?? Infinity, rows: 0, shown: new Map() });
}

function layoutOf(btf: Btf, id: TypeId, baseBits: number, depth: number, path: string, walk: LayoutWalk): RecordLayout {
  if (depth > MAX_NESTING) throw new RangeError(`BTF type [${id}]: records nest deeper than ${MAX_NESTING}`);
  const rid = btf.skipTypedefs(id);
  const t = btf.type(rid);
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') throw new TypeError(`BTF type [${id}] is ${t.kind}, not a STRUCT or UNION`);
  const info = recordInfo(btf, rid);
  const rows: LayoutRow[] = [];
  // Holes are counted as pahole counts them: the rest of a bitfield's storage unit before
  // the next member is a bit hole, whole bytes between members a byte hole.
  let seen = 0; // bits: where the previous member ended
  let unitEnd = 0; // bits: end of the storage unit of the previous bitfield
  let inBitfield = false;
  let end = 0; // bits: end of the furthest member (unions)
  let holes = 0,
    holeBytes = 0,
    bitHoles = 0,
    bitHoleBits = 0,
    sumMembers = 0,
    sumBits = 0,
    omitted = 0;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i];
    const { bitOffset, bitSize } = memberBits(btf, t, i);
    const size = sizeOf(btf, m.type);
    const memberEnd = bitSize ? bitOffset + bitSize : bitOffset + size * 8;
    let holeBefore = 0,
      bitHoleBefore = 0;
    if (t.kind === 'STRUCT') {
      if (inBitfield) {
        const stop = Math.min(bitOffset, unitEnd);
        bitHoleBefore = Math.max(0, stop - seen);
        seen = Math.max(seen, stop);
      }
      const unitStart = size ? Math.floor(bitOffset / (size * 8)) * size * 8 : bitOffset;
      if (bitSize) {
        if (seen < unitStart && unitStart <= bitOffset) {
          holeBefore = unitStart / 8 - Math.floor(seen / 8);
          seen = unitStart;
        }
        bitHoleBefore += Math.max(0, bitOffset - seen);
      } else {
        holeBefore = Math.max(0, Math.floor(bitOffset / 8) - Math.floor(seen / 8));
      }
      // a run of bitfields shares the widest storage unit seen in it
      if (bitSize) unitEnd = inBitfield ? Math.max(unitEnd, unitStart + size * 8) : unitStart + size * 8;
      inBitfield = bitSize !== 0;
      if (holeBefore) {
        holes++;
        holeBytes += holeBefore;
      }
      if (bitHoleBefore) {
        bitHoles++;
        bitHoleBits += bitHoleBefore;
      }
      seen = memberEnd;
    }
    if (bitSize) sumBits += bitSize;
    else sumMembers += size;
    end = Math.max(end, memberEnd);
    // past the budget the record's totals are still counted, its rows are not built
    if (walk.rows >= walk.maxRows) {
      omitted++;
      continue;
    }
    walk.rows++;
    const anon = isAnonRecord(btf, m.type) ? btf.skipModifiers(m.type) : 0;
    const here = `${path}${m.name || `(${i})`}`;
    const sameAs = anon ? walk.shown.get(anon) : undefined;
    if (anon && sameAs === undefined) walk.shown.set(anon, here);
    const inner =
      anon && sameAs === undefined ? layoutOf(btf, m.type, baseBits + bitOffset, depth + 1, m.name ? `${here}.` : path, walk) : undefined;
    if (inner) omitted += inner.omitted;
    rows.push({
      index: i,
      name: m.name,
      typeId: m.type,
      typeName: typeName(btf, m.type),
      offset: Math.floor((baseBits + bitOffset) / 8),
      size,
      bitOffset: baseBits + bitOffset,
      bitSize,
      holeBefore,
      bitHoleBefore,
      inner,
      sameAs,
    });
  }
  let tailBitPadding = 0;
  if (t.kind === 'STRUCT') {
    if (inBitfield) {
      const stop = Math.min(t.size * 8, unitEnd);
      tailBitPadding = Math.max(0, stop - seen);
      seen = Math.max(seen, stop);
    }
    end = seen;
  }
  const tailPadding = Math.max(0, t.size - Math.floor(end / 8));
  if (t.kind === 'UNION') tailBitPadding = 0;
  return {
    id: rid,
    kind: t.kind,
    name: t.name,
    size: t.size,
    align: info.align,
    packed: info.packed,
    rows,
    tailPadding,
    tailBitPadding,
    holes,
    holeBytes,
    bitHoles,
    bitHoleBits,
    sumMembers,
    sumBitfieldBits: sumBits,
    omitted,
  };
}

/** Anonymous records are shown inside their user, as C writes them (and pahole). */
function isAnonRecord(btf: Btf, id: TypeId): boolean {
  const t: BtfType | undefined = btf.get(btf.skipModifiers(id));
  return (t?.kind === 'STRUCT' || t?.kind === 'UNION') && t.name === '';
}

/** pahole-style text of a layout: one line per member with offset and size, holes marked. */
export function formatLayout(btf: Btf, layout: RecordLayout, indent = '', nested = false): string {
  const out: string[] = [];
  const head = `${layout.kind === 'STRUCT' ? 'struct' : 'union'}${layout.name ? ` ${layout.name}` : ''} {`;
  out.push(indent + head);
  const pad = indent + '\t';
  for (const r of layout.rows) {
    if (r.holeBefore) out.push(`${pad}/* XXX ${r.holeBefore} byte${r.holeBefore > 1 ? 's' : ''} hole, try to pack */`);
    if (r.bitHoleBefore) out.push(`${pad}/* XXX ${r.bitHoleBefore} bit${r.bitHoleBefore > 1 ? 's' : ''} hole, try to pack */`);
    const where = r.bitSize ? `${r.offset}:${r.bitOffset % 8}` : `${r.offset}`;
    if (r.inner) {
      out.push(formatLayout(btf, r.inner, pad, true));
      out.push(`${pad}}${r.name ? ` ${r.name}` : ''};`.padEnd(48) + `/* ${where.padStart(5)} ${String(r.size).padStart(5)} */`);
    } else {
      const decl = memberDeclaration(btf, r.typeId, r.name, r.bitSize);
      out.push(
        `${pad}${decl};`.padEnd(48) + `/* ${where.padStart(5)} ${String(r.size).padStart(5)} */${r.sameAs ? ` /* as ${r.sameAs} */` : ''}`,
      );
    }
  }
  if (layout.omitted && !nested) out.push(`${pad}/* … ${layout.omitted} more members not shown */`);
  if (nested) return out.join('\n');
  const sum: string[] = [`size: ${layout.size}, members: ${layout.rows.length}`];
  if (layout.holes) sum.push(`sum members: ${layout.sumMembers}, holes: ${layout.holes}, sum holes: ${layout.holeBytes}`);
  if (layout.bitHoles) sum.push(`bit holes: ${layout.bitHoles}, sum bit holes: ${layout.bitHoleBits} bits`);
  if (layout.tailPadding) sum.push(`padding: ${layout.tailPadding}`);
  if (layout.tailBitPadding) sum.push(`bit_padding: ${layout.tailBitPadding} bits`);
  if (layout.packed) sum.push('packed');
  out.push('');
  for (const s of sum) out.push(`${pad}/* ${s} */`);
  out.push(`${indent}};`);
  return out.join('\n');
}
