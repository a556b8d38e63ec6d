// A few BPF instructions by hand, for feature probes and kernel tests (the loader uses the
// object's own instructions). Encoded little-endian, as on every architecture bpf(2) runs here.
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_CALL,
  BPF_DW,
  BPF_EXIT,
  BPF_IMM,
  BPF_JEQ,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MOV,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_X,
} from '../object/insn';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../common/uapi';

/** One `struct bpf_insn`: opcode, dst_reg:4 | src_reg:4, s16 off, s32 imm. */
export interface Insn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

export const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  R10 = 10;

/** src_reg values of ld_imm64 and call. */
export { BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE };

const i = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

export const movImm = (dst: number, imm: number) => i(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
export const movReg = (dst: number, src: number) => i(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
export const addImm = (dst: number, imm: number) => i(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
export const exit = () => i(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
/** Call helper number `helper` (BPF_FUNC_*). */
export const callHelper = (helper: number) => i(BPF_JMP | BPF_CALL, 0, 0, 0, helper);
/** Call the subprogram `rel` instructions after the next one. */
export const callRel = (rel: number) => i(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, rel);
export const jeqImm = (dst: number, imm: number, off: number) => i(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm);
export const stMemW = (dst: number, off: number, imm: number) => i(BPF_ST | BPF_MEM | BPF_W, dst, 0, off, imm);
export const stMemDW = (dst: number, off: number, imm: number) => i(BPF_ST | BPF_MEM | BPF_DW, dst, 0, off, imm);
export const ldxMemW = (dst: number, src: number, off: number) => i(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
export const stxMemW = (dst: number, src: number, off: number) => i(BPF_STX | BPF_MEM | BPF_W, dst, src, off, 0);

/** ld_imm64 (two instructions): a 64-bit constant, or with `src` a map FD / map value reference. */
export function ldImm64(dst: number, lo: number, hi = 0, src = 0): Insn[] {
  return [i(BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, lo), i(0, 0, 0, 0, hi)];
}

/** dst = &map (the verifier turns the FD into the map's address). */
export const ldMapFd = (dst: number, fd: number) => ldImm64(dst, fd, 0, BPF_PSEUDO_MAP_FD);
/** dst = &map's value + offset (global data). */
export const ldMapValue = (dst: number, fd: number, offset: number) => ldImm64(dst, fd, offset, BPF_PSEUDO_MAP_VALUE);

/** Instructions as the bytes PROG_LOAD takes. */
export function assemble(insns: readonly (Insn | readonly Insn[])[]): Uint8Array {
  const flat = insns.flat();
  const buf = Buffer.alloc(flat.length * 8);
  flat.forEach((x, n) => {
    buf.writeUInt8(x.code, n * 8);
    buf.writeUInt8(((x.src & 0xf) << 4) | (x.dst & 0xf), n * 8 + 1);
    buf.writeInt16LE(x.off, n * 8 + 2);
    buf.writeInt32LE(x.imm | 0, n * 8 + 4);
  });
  return new Uint8Array(buf);
}

/** Helper ids the probes and tests use (enum bpf_func_id). */
export const BPF_FUNC = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  ktime_get_ns: 5,
  probe_read_kernel: 113,
  ktime_get_coarse_ns: 160,
  get_func_ip: 173,
  get_attach_cookie: 174,
} as const;
