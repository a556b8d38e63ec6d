/**
 * BPF instructions: the 8-byte `struct bpf_insn` (code, dst_reg:4, src_reg:4, off, imm) in
 * either byte order, and the opcode constants of include/uapi/linux/bpf.h and bpf_common.h.
 *
 * On big-endian objects the register nibbles are swapped (dst_reg is the high nibble), as
 * the C bitfields lay them out there. `ld_imm64` takes two slots; the second has code 0.
 */
import { FormatError } from '../common/errors';
import {
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
} from '../common/uapi';

/** Size of one instruction slot in bytes. */
export const BPF_INSN_SIZE = 8;

// Instruction classes (code & 0x07).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Load/store sizes (code & 0x18).
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Load/store modes (code & 0xe0).
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;
/** Old name of BPF_ATOMIC (add only). */
export const BPF_XADD = 0xc0;

// Source operand (code & 0x08).
export const BPF_K = 0x00;
export const BPF_X = 0x08;
/** ALU BPF_END: to little-endian (same bit as BPF_K). */
export const BPF_TO_LE = 0x00;
/** ALU BPF_END: to big-endian (same bit as BPF_X). */
export const BPF_TO_BE = 0x08;
export const BPF_FROM_LE = BPF_TO_LE;
export const BPF_FROM_BE = BPF_TO_BE;

// ALU operations (code & 0xf0).
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Jump operations (code & 0xf0).
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
export const BPF_JCOND = 0xe0;

// Atomic operations (imm of BPF_STX | BPF_ATOMIC).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

// src_reg of ld_imm64 and of BPF_JMP | BPF_CALL.
export {
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
};

/** Registers: r0 return value, r1-r5 arguments, r10 read-only frame pointer. */
export const BPF_REG_0 = 0,
  BPF_REG_1 = 1,
  BPF_REG_10 = 10;
export const MAX_BPF_REG = 11;

export const BPF_CLASS = (code: number): number => code & 0x07;
export const BPF_SIZE = (code: number): number => code & 0x18;
export const BPF_MODE = (code: number): number => code & 0xe0;
export const BPF_OP = (code: number): number => code & 0xf0;
export const BPF_SRC = (code: number): number => code & 0x08;

/** One instruction slot (the second half of an ld_imm64 is a slot of its own). */
export interface BpfInsn {
  readonly code: number;
  /** dst_reg, 0..15. */
  readonly dst: number;
  /** src_reg, 0..15. */
  readonly src: number;
  /** Signed 16-bit. */
  readonly off: number;
  /** Signed 32-bit. */
  readonly imm: number;
}

/** Number of instruction slots in `bytes` (which must be a multiple of 8). */
export function insnCount(bytes: Uint8Array): number {
  return Math.floor(bytes.length / BPF_INSN_SIZE);
}

/** Decodes slot `index` of `bytes`. Throws RangeError past the end (callers check counts). */
export function decodeInsn(bytes: Uint8Array, index: number, littleEndian: boolean): BpfInsn {
  const o = index * BPF_INSN_SIZE;
  if (index < 0 || o + BPF_INSN_SIZE > bytes.length) throw new RangeError(`instruction ${index} is past the end`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + o, BPF_INSN_SIZE);
  const regs = bytes[o + 1];
  return {
    code: bytes[o],
    dst: littleEndian ? regs & 0xf : regs >>> 4,
    src: littleEndian ? regs >>> 4 : regs & 0xf,
    off: dv.getInt16(2, littleEndian),
    imm: dv.getInt32(4, littleEndian),
  };
}

/**
 * Decodes every slot. A length that is not a multiple of 8 is a FormatError when `origin`
 * names the file and section; otherwise the tail is ignored.
 */
export function decodeInsns(bytes: Uint8Array, littleEndian: boolean, origin?: { file: string; section: string }): BpfInsn[] {
  if (origin && bytes.length % BPF_INSN_SIZE !== 0) {
    throw new FormatError(
      origin.file,
      origin.section,
      bytes.length - (bytes.length % BPF_INSN_SIZE),
      `size ${bytes.length} is not a multiple of the instruction size (8)`,
    );
  }
  const n = insnCount(bytes);
  const out: BpfInsn[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = decodeInsn(bytes, i, littleEndian);
  return out;
}

/** Writes `insn` into slot `index` of `bytes` (in place). */
export function encodeInsnInto(bytes: Uint8Array, index: number, insn: BpfInsn, littleEndian: boolean): void {
  const o = index * BPF_INSN_SIZE;
  if (index < 0 || o + BPF_INSN_SIZE > bytes.length) throw new RangeError(`instruction ${index} is past the end`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + o, BPF_INSN_SIZE);
  bytes[o] = insn.code & 0xff;
  bytes[o + 1] = littleEndian ? ((insn.src & 0xf) << 4) | (insn.dst & 0xf) : ((insn.dst & 0xf) << 4) | (insn.src & 0xf);
  dv.setInt16(2, insn.off, littleEndian);
  dv.setInt32(4, insn.imm | 0, littleEndian);
}

/** Encodes instructions into a fresh buffer. */
export function encodeInsns(insns: readonly BpfInsn[], littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(insns.length * BPF_INSN_SIZE);
  insns.forEach((insn, i) => encodeInsnInto(out, i, insn, littleEndian));
  return out;
}

/** True for the first slot of a 16-byte `ld_imm64` (BPF_LD | BPF_IMM | BPF_DW). */
export function isLdImm64(insn: BpfInsn): boolean {
  return insn.code === (BPF_LD | BPF_IMM | BPF_DW);
}

/** The 64-bit immediate of an ld_imm64 from its two slots. */
export function ldImm64Value(first: BpfInsn, second: BpfInsn): bigint {
  return (BigInt(second.imm >>> 0) << 32n) | BigInt(first.imm >>> 0);
}

/** Splits a 64-bit value into the imm fields of an ld_imm64's two slots. */
export function ldImm64Imms(value: bigint): [number, number] {
  const v = BigInt.asUintN(64, value);
  return [Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0];
}

/** Any `call` (helper, subprogram or kfunc). */
export function isCall(insn: BpfInsn): boolean {
  return insn.code === (BPF_JMP | BPF_CALL);
}

/** A helper call (`call bpf_map_lookup_elem#1`): imm is the helper id. */
export function isHelperCall(insn: BpfInsn): boolean {
  return isCall(insn) && insn.src === 0;
}

/** A BPF-to-BPF call: imm is the relative target minus one (pc + imm + 1). */
export function isSubprogCall(insn: BpfInsn): boolean {
  return isCall(insn) && insn.src === BPF_PSEUDO_CALL;
}

/** A kfunc call: imm is the kernel BTF id of the FUNC (0 until relocated). */
export function isKfuncCall(insn: BpfInsn): boolean {
  return isCall(insn) && insn.src === BPF_PSEUDO_KFUNC_CALL;
}

/** An ld_imm64 that loads a function address (callback: bpf_loop, timers). */
export function isPseudoFunc(insn: BpfInsn): boolean {
  return isLdImm64(insn) && insn.src === BPF_PSEUDO_FUNC;
}

/** An ld_imm64 that refers to a map (fd/idx) or a map value (global data). */
export function isMapLoad(insn: BpfInsn): boolean {
  return (
    isLdImm64(insn) &&
    (insn.src === BPF_PSEUDO_MAP_FD ||
      insn.src === BPF_PSEUDO_MAP_VALUE ||
      insn.src === BPF_PSEUDO_MAP_IDX ||
      insn.src === BPF_PSEUDO_MAP_IDX_VALUE)
  );
}

export function isExit(insn: BpfInsn): boolean {
  return insn.code === (BPF_JMP | BPF_EXIT);
}

/** Conditional or unconditional jump (not call/exit), in JMP or JMP32. */
export function isJump(insn: BpfInsn): boolean {
  const cls = BPF_CLASS(insn.code);
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return false;
  const op = BPF_OP(insn.code);
  return op !== BPF_CALL && op !== BPF_EXIT;
}

/** Memory load/store classes whose `off` is a field offset (CO-RE patches these). */
export function isMemAccess(insn: BpfInsn): boolean {
  const cls = BPF_CLASS(insn.code);
  const mode = BPF_MODE(insn.code);
  return (cls === BPF_LDX && (mode === BPF_MEM || mode === BPF_MEMSX)) || ((cls === BPF_ST || cls === BPF_STX) && mode === BPF_MEM);
}

/** Bytes accessed by a load/store of this size code. */
export function accessSize(code: number): number {
  switch (BPF_SIZE(code)) {
    case BPF_B:
      return 1;
    case BPF_H:
      return 2;
    case BPF_W:
      return 4;
    default:
      return 8;
  }
}
