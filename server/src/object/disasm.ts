/**
 * BPF instructions as text, close to `llvm-objdump -d --no-show-raw-insn` (LLVM's BPF
 * assembler syntax: `r1 = *(u64 *)(r10 - 8)`, `if w1 s> 3 goto +2`, `lock *(u32 *)(r1 + 0) &= w2`)
 * with what bpftool's xlated dump adds: helper names (`call bpf_map_lookup_elem#1`), map
 * and global-data references resolved through relocations (`r1 = map[events] ll`,
 * `r1 = map_value[.rodata]+16 ll`), kfunc and subprogram call targets, jump targets.
 *
 * Pure: instruction words in, lines out. Callers describe relocations and source lines
 * through DisasmContext; without one the text is what the bytes alone say.
 */
import { helperName } from './bpf-helpers';
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  type BpfInsn,
  decodeInsns,
  isLdImm64,
} from './insn';

/** One instruction slot (the second half of an ld_imm64 is a slot of its own). */
export type RawInsn = BpfInsn;

/** What a relocation at an instruction refers to. */
export interface InsnReference {
  /** Symbol or map name (`events`, `.rodata`, `bpf_task_acquire`, `my_subprog`). */
  readonly name: string;
  /** map: a map definition; data: a global-data section (value of an internal map);
   * func: a function (subprogram call or callback address); kfunc/ksym: kernel externs. */
  readonly kind: 'map' | 'data' | 'func' | 'kfunc' | 'ksym' | 'kconfig' | 'other';
}

export interface SourceLine {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly text: string;
}

export interface DisasmContext {
  /** The relocation at instruction index `i`, if any. */
  reference?(i: number): InsnReference | undefined;
  /** Source line that starts at instruction `i` (BTF line_info). */
  sourceLine?(i: number): SourceLine | undefined;
  /** A name for instruction index `i` as a jump or call target (function or label symbol). */
  label?(i: number): string | undefined;
}

export { decodeInsns, isLdImm64 };

const SIZE = ['u32', 'u16', 'u8', 'u64'];
const SSIZE = ['s32', 's16', 's8', 's64'];
const ALU_OPS: Record<number, string> = {
  0x00: '+=',
  0x10: '-=',
  0x20: '*=',
  0x30: '/=',
  0x40: '|=',
  0x50: '&=',
  0x60: '<<=',
  0x70: '>>=',
  0x90: '%=',
  0xa0: '^=',
  0xb0: '=',
  0xc0: 's>>=',
};
const JMP_OPS: Record<number, string> = {
  0x10: '==',
  0x20: '>',
  0x30: '>=',
  0x40: '&',
  0x50: '!=',
  0x60: 's>',
  0x70: 's>=',
  0xa0: '<',
  0xb0: '<=',
  0xc0: 's<',
  0xd0: 's<=',
};
const ATOMIC_OPS: Record<number, string> = { 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' };

/** One instruction as text (no index prefix). `next` is the second slot of an ld_imm64. */
export function formatInsn(insn: RawInsn, index: number, next?: RawInsn, ctx: DisasmContext = {}): string {
  const cls = insn.code & 0x07;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      return formatAlu(insn, cls === BPF_ALU64);
    case BPF_JMP:
    case BPF_JMP32:
      return formatJump(insn, index, cls === BPF_JMP32, ctx);
    case BPF_LDX:
      return formatLdx(insn);
    case BPF_ST:
    case BPF_STX:
      return formatStore(insn);
    case BPF_LD:
      return formatLd(insn, index, next, ctx);
  }
  return unknown(insn);
}

function unknown(insn: RawInsn): string {
  return `unknown opcode 0x${insn.code.toString(16).padStart(2, '0')}`;
}

function mem(base: number, off: number): string {
  return `r${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)}`;
}

function formatAlu(insn: RawInsn, is64: boolean): string {
  const r = is64 ? 'r' : 'w';
  const op = insn.code & 0xf0;
  const x = (insn.code & 0x08) !== 0;
  const dst = `${r}${insn.dst}`;
  const src = x ? `${r}${insn.src}` : String(insn.imm);
  if (op === 0x80) return `${dst} = -${dst}`;
  if (op === 0xd0) {
    // Byte swaps: ALU class TO_LE/TO_BE; ALU64 class is the unconditional bswap (cpu v4).
    const kind = is64 ? 'bswap' : x ? 'be' : 'le';
    return `r${insn.dst} = ${kind}${insn.imm} r${insn.dst}`;
  }
  // BPF_ADDR_SPACE_CAST (off 1, imm = dst_as << 16 | src_as): arena pointers, as the kernel prints it
  if (op === 0xb0 && x && is64 && insn.off === 1 && insn.imm !== 0)
    return `${dst} = addr_space_cast(r${insn.src}, ${insn.imm >>> 16}, ${insn.imm & 0xffff})`;
  if (op === 0xb0 && x && insn.off !== 0) return `${dst} = (s${insn.off})${r}${insn.src}`;
  let sym = ALU_OPS[op];
  if (sym === undefined) return unknown(insn);
  if ((op === 0x30 || op === 0x90) && insn.off === 1) sym = `s${sym}`;
  return `${dst} ${sym} ${src}`;
}

function target(index: number, delta: number, ctx: DisasmContext): string {
  const t = index + 1 + delta;
  return `${delta < 0 ? '' : '+'}${delta} <${ctx.label?.(t) ?? t}>`;
}

function formatJump(insn: RawInsn, index: number, is32: boolean, ctx: DisasmContext): string {
  const op = insn.code & 0xf0;
  const x = (insn.code & 0x08) !== 0;
  if (op === 0x00) return is32 ? `gotol ${target(index, insn.imm, ctx)}` : `goto ${target(index, insn.off, ctx)}`;
  if (op === 0x90 && !is32) return 'exit';
  if (op === 0xe0 && !is32) return `may_goto ${target(index, insn.off, ctx)}`;
  if (op === 0x80 && !is32) return formatCall(insn, index, x, ctx);
  const cmp = JMP_OPS[op];
  if (cmp === undefined) return unknown(insn);
  const r = is32 ? 'w' : 'r';
  return `if ${r}${insn.dst} ${cmp} ${x ? `${r}${insn.src}` : insn.imm} goto ${target(index, insn.off, ctx)}`;
}

function formatCall(insn: RawInsn, index: number, x: boolean, ctx: DisasmContext): string {
  if (x) return `callx r${insn.dst}`;
  const ref = ctx.reference?.(index);
  if (insn.src === BPF_PSEUDO_CALL) {
    // In an object the target comes from the relocation (imm is -1 against a FUNC symbol);
    // after linking, from imm alone.
    if (ref && ref.kind === 'func') return `call ${ref.name}`;
    const t = index + 1 + insn.imm;
    return `call pc${insn.imm < 0 ? '' : '+'}${insn.imm} <${ctx.label?.(t) ?? t}>`;
  }
  if (insn.src === BPF_PSEUDO_KFUNC_CALL) return `call kfunc ${ref?.name ?? `btf_id[${insn.imm}]`}`;
  const name = helperName(insn.imm);
  return name ? `call ${name}#${insn.imm}` : `call ${insn.imm}`;
}

function formatLdx(insn: RawInsn): string {
  const mode = insn.code & 0xe0;
  const size = (insn.code & 0x18) >>> 3;
  if (mode === 0x60) return `r${insn.dst} = *(${SIZE[size]} *)(${mem(insn.src, insn.off)})`;
  if (mode === 0x80) return `r${insn.dst} = *(${SSIZE[size]} *)(${mem(insn.src, insn.off)})`;
  return unknown(insn);
}

function formatStore(insn: RawInsn): string {
  const mode = insn.code & 0xe0;
  const size = (insn.code & 0x18) >>> 3;
  const ty = SIZE[size];
  const is64 = size === 3;
  const r = is64 ? 'r' : 'w';
  const where = `*(${ty} *)(${mem(insn.dst, insn.off)})`;
  if ((insn.code & 0x07) === BPF_ST) return mode === 0x60 ? `${where} = ${insn.imm}` : unknown(insn);
  if (mode === 0x60) return `${where} = r${insn.src}`;
  if (mode !== 0xc0) return unknown(insn);
  // BPF_ATOMIC: imm selects the operation.
  const imm = insn.imm;
  const at = `${mem(insn.dst, insn.off)}`;
  if (imm === 0xe1) return `${r}${insn.src} = ${is64 ? 'xchg_64' : 'xchg32_32'}(${at}, ${r}${insn.src})`;
  if (imm === 0xf1) return `${r}0 = ${is64 ? 'cmpxchg_64' : 'cmpxchg32_32'}(${at}, ${r}0, ${r}${insn.src})`;
  if (imm === 0x100) return `${r}${insn.src} = load_acquire((${ty} *)(${at}))`;
  if (imm === 0x110) return `store_release((${ty} *)(${at}), ${r}${insn.src})`;
  const name = ATOMIC_OPS[imm & ~1];
  if (name === undefined || (imm & ~0xf1) !== 0) return unknown(insn);
  if (imm & 1) return `${r}${insn.src} = atomic_fetch_${name}((${ty} *)(${at}), ${r}${insn.src})`;
  const sym = { add: '+=', or: '|=', and: '&=', xor: '^=' }[name];
  // The legacy XADD (imm 0) predates alu32: llvm-objdump and the kernel print its source as rN
  // even for a u32 target, so a user comparing with either sees the same text.
  return `lock ${where} ${sym} ${imm === 0 ? 'r' : r}${insn.src}`;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function formatLd(insn: RawInsn, index: number, next: RawInsn | undefined, ctx: DisasmContext): string {
  const mode = insn.code & 0xe0;
  const size = (insn.code & 0x18) >>> 3;
  if (mode === 0x20) return `r0 = *(${SIZE[size]} *)skb[${insn.imm}]`;
  if (mode === 0x40) return `r0 = *(${SIZE[size]} *)skb[r${insn.src} + ${insn.imm}]`;
  if (insn.code !== 0x18) return unknown(insn);
  const lo = BigInt(insn.imm >>> 0);
  const hi = BigInt((next?.imm ?? 0) >>> 0);
  const value = (hi << 32n) | lo;
  const d = `r${insn.dst}`;
  const ref = ctx.reference?.(index);
  const plus = (v: bigint | number) => (BigInt(v) ? `+${v}` : '');
  switch (insn.src) {
    case BPF_PSEUDO_MAP_FD:
      return `${d} = map[${ref?.name ?? `fd:${insn.imm}`}] ll`;
    case BPF_PSEUDO_MAP_IDX:
      return `${d} = map[${ref?.name ?? `idx:${insn.imm}`}] ll`;
    case BPF_PSEUDO_MAP_VALUE:
      return `${d} = map_value[${ref?.name ?? `fd:${insn.imm}`}]${plus(next?.imm ?? 0)} ll`;
    case BPF_PSEUDO_MAP_IDX_VALUE:
      return `${d} = map_value[${ref?.name ?? `idx:${insn.imm}`}]${plus(next?.imm ?? 0)} ll`;
    case BPF_PSEUDO_BTF_ID:
      return `${d} = btf_id[${ref?.name ?? insn.imm}] ll`;
    case BPF_PSEUDO_FUNC:
      return `${d} = func[${ref?.name ?? `pc${insn.imm < 0 ? '' : '+'}${insn.imm}`}] ll`;
  }
  if (ref) {
    // An object before relocation: the address comes from the relocation's symbol.
    switch (ref.kind) {
      case 'map':
        return `${d} = map[${ref.name}] ll`;
      case 'data':
        return `${d} = map_value[${ref.name}]${plus(value)} ll`;
      case 'func':
        return `${d} = func[${ref.name}] ll`;
      case 'ksym':
        return `${d} = btf_id[${ref.name}] ll`;
      case 'kconfig':
        return `${d} = kconfig[${ref.name}]${plus(value)} ll`;
      default:
        return `${d} = ${ref.name}${plus(value)} ll`;
    }
  }
  // Signed, as llvm-objdump prints it; hex once it is easier to read that way.
  const signed = BigInt.asIntN(64, value);
  const mag = signed < 0n ? -signed : signed;
  return `${d} = ${mag < 0x10000n ? signed.toString() : `${signed < 0n ? '-' : ''}${hex(mag)}`} ll`;
}

/** A disassembled instruction with its index (ld_imm64 takes two indexes). */
export interface DisasmLine {
  readonly index: number;
  readonly text: string;
  readonly source?: SourceLine;
}

/** Every instruction of a program or section. */
export function disassemble(insns: readonly RawInsn[], ctx: DisasmContext = {}): DisasmLine[] {
  const out: DisasmLine[] = [];
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i];
    const wide = isLdImm64(insn);
    const text = formatInsn(insn, i, wide ? insns[i + 1] : undefined, ctx);
    out.push({ index: i, text, source: ctx.sourceLine?.(i) });
    if (wide) i++;
  }
  return out;
}

/**
 * The text llvm-objdump prints (`      12:\tr1 = ...`), with `; source` lines before the
 * instructions where line_info starts a new line, and `name:` labels where ctx has one.
 */
export function formatListing(lines: readonly DisasmLine[], ctx: DisasmContext = {}): string {
  const out: string[] = [];
  let last: SourceLine | undefined;
  for (const l of lines) {
    const label = ctx.label?.(l.index);
    if (label && l.index !== 0) out.push('', `${label}:`);
    const s = l.source;
    // line 0: compiler-generated code that belongs to no line.
    if (s && s.line > 0 && (!last || s.line !== last.line || s.file !== last.file)) {
      const base = s.file.slice(s.file.lastIndexOf('/') + 1);
      out.push(`; ${s.text.trim()}${s.text.trim() ? '  ' : ''}[${base}:${s.line}]`);
      last = s;
    }
    out.push(`${String(l.index).padStart(8)}:\t${l.text}`);
  }
  return out.join('\n') + '\n';
}
