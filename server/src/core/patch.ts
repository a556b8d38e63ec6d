// Patching one relocated instruction in place, on raw 8-byte BPF instructions in the
// object's byte order (libbpf's bpf_core_patch_insn and bpf_core_poison_insn).
import { CoreReloError } from './btf-util';
import { type CoreReloResult } from './calc';

export const BPF_INSN_SIZE = 8;
const BPF_LD = 0x00,
  BPF_LDX = 0x01,
  BPF_ST = 0x02,
  BPF_STX = 0x03,
  BPF_ALU = 0x04,
  BPF_JMP = 0x05,
  BPF_ALU64 = 0x07;
const BPF_K = 0x00;
const BPF_CALL = 0x80;
const BPF_LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const BYTES_SIZE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const SHRT_MAX = 0x7fff;

/** The call libbpf substitutes for unresolvable relocations: `invalid func unknown#195896080`. */
export const BAD_RELO_CALL_IMM = 0xbad2310;
/** libbpf's poison for calls to unresolved weak kfuncs: `call 2002000000 + extern index`. */
export const POISON_CALL_KFUNC_BASE = 2002000000;
/** libbpf's poison for references to maps that were not created: `2001000000 + map index`. */
export const POISON_LDIMM64_MAP_BASE = 2001000000;

/** Reads and writes fields of raw instructions (code, regs, off, imm) in one byte order. */
export class RawInsns {
  private readonly dv: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get count(): number {
    return Math.floor(this.bytes.length / BPF_INSN_SIZE);
  }

  code(i: number): number {
    return this.bytes[i * 8];
  }
  dst(i: number): number {
    const b = this.bytes[i * 8 + 1];
    return this.littleEndian ? b & 0xf : b >> 4;
  }
  src(i: number): number {
    const b = this.bytes[i * 8 + 1];
    return this.littleEndian ? b >> 4 : b & 0xf;
  }
  off(i: number): number {
    return this.dv.getInt16(i * 8 + 2, this.littleEndian);
  }
  imm(i: number): number {
    return this.dv.getInt32(i * 8 + 4, this.littleEndian);
  }

  setCode(i: number, code: number): void {
    this.bytes[i * 8] = code;
  }
  setRegs(i: number, dst: number, src: number): void {
    this.bytes[i * 8 + 1] = this.littleEndian ? (src << 4) | dst : (dst << 4) | src;
  }
  setOff(i: number, off: number): void {
    this.dv.setInt16(i * 8 + 2, off, this.littleEndian);
  }
  setImm(i: number, imm: number): void {
    this.dv.setInt32(i * 8 + 4, imm | 0, this.littleEndian);
  }
}

function poisonOne(insns: RawInsns, i: number): void {
  insns.setCode(i, BPF_JMP | BPF_CALL);
  insns.setRegs(i, 0, 0);
  insns.setOff(i, 0);
  insns.setImm(i, BAD_RELO_CALL_IMM);
}

/** Makes instruction `i` (and the second half of an LD_IMM64) the bad-relo call. */
export function poisonInsn(insns: RawInsns, i: number): void {
  if (insns.code(i) === BPF_LD_IMM64 && i + 1 < insns.count) poisonOne(insns, i + 1);
  poisonOne(insns, i);
}

/** What a patch did, in libbpf's words (`LDX/ST/STX off 24 -> 40`). */
export interface PatchOutcome {
  readonly insnClass: 'ALU/ALU64' | 'LDX/ST/STX' | 'LDIMM64' | 'poison';
  /** The value the instruction held before. */
  readonly before?: bigint;
  readonly after?: bigint;
  /** New memory access size in bytes, when a load/store changed size. */
  readonly memSize?: { readonly from: number; readonly to: number };
  /** Poisoned because a load/store would have to change size unsafely. */
  readonly memszPoison?: boolean;
}

const u64 = (n: number | bigint) => BigInt.asUintN(64, BigInt(n));

/**
 * Applies `res` to instruction `i`. Throws CoreReloError when the instruction cannot carry
 * the relocation or does not hold the value the compiler should have put there.
 */
export function patchInsn(insns: RawInsns, i: number, res: CoreReloResult): PatchOutcome {
  if (i < 0 || i >= insns.count) throw new CoreReloError(`instruction #${i} is past the end (${insns.count} instructions)`);
  if (res.poison) {
    poisonInsn(insns, i);
    return { insnClass: 'poison' };
  }
  const code = insns.code(i);
  const cls = code & 0x07;
  const { origVal, newVal } = res;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((code & 0x08) !== BPF_K) throw new CoreReloError(`instruction #${i} (ALU/ALU64) takes a register, not an immediate`);
      const imm = insns.imm(i);
      if (res.validate && u64(imm) !== origVal) {
        throw new CoreReloError(`instruction #${i} (ALU/ALU64) holds imm ${imm >>> 0}, expected the local value ${origVal} (→ ${newVal})`);
      }
      insns.setImm(i, Number(BigInt.asIntN(32, newVal)));
      return { insnClass: 'ALU/ALU64', before: u64(imm), after: newVal };
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const off = insns.off(i);
      if (res.validate && u64(off) !== origVal) {
        throw new CoreReloError(`instruction #${i} (LDX/ST/STX) holds off ${off}, expected the local value ${origVal} (→ ${newVal})`);
      }
      if (newVal > BigInt(SHRT_MAX)) throw new CoreReloError(`instruction #${i} (LDX/ST/STX): offset ${newVal} does not fit in 16 bits`);
      if (res.failMemszAdjust) {
        poisonInsn(insns, i);
        return { insnClass: 'poison', memszPoison: true };
      }
      insns.setOff(i, Number(newVal));
      let memSize: PatchOutcome['memSize'];
      if (res.newSz !== res.origSz) {
        const have = SIZE_BYTES[code & 0x18];
        if (have !== res.origSz) throw new CoreReloError(`instruction #${i} (LDX/ST/STX) accesses ${have} bytes, expected ${res.origSz}`);
        const sz = BYTES_SIZE[res.newSz];
        if (sz === undefined) throw new CoreReloError(`instruction #${i} (LDX/ST/STX): no load/store of ${res.newSz} bytes`);
        insns.setCode(i, (code & 0xe0) | sz | cls);
        memSize = { from: res.origSz, to: res.newSz };
      }
      return { insnClass: 'LDX/ST/STX', before: u64(off), after: newVal, memSize };
    }
    case BPF_LD: {
      if (
        code !== BPF_LD_IMM64 ||
        i + 1 >= insns.count ||
        insns.src(i) !== 0 ||
        insns.off(i) !== 0 ||
        insns.code(i + 1) !== 0 ||
        insns.dst(i + 1) !== 0 ||
        insns.src(i + 1) !== 0 ||
        insns.off(i + 1) !== 0
      ) {
        throw new CoreReloError(`instruction #${i} (LDIMM64) has an unexpected form`);
      }
      const imm = (BigInt(insns.imm(i + 1) >>> 0) << 32n) | BigInt(insns.imm(i) >>> 0);
      if (res.validate && imm !== origVal) {
        throw new CoreReloError(`instruction #${i} (LDIMM64) holds ${imm}, expected the local value ${origVal} (→ ${newVal})`);
      }
      insns.setImm(i, Number(BigInt.asIntN(32, newVal)));
      insns.setImm(i + 1, Number(BigInt.asIntN(32, newVal >> 32n)));
      return { insnClass: 'LDIMM64', before: imm, after: newVal };
    }
    default:
      throw new CoreReloError(`instruction #${i} (code 0x${code.toString(16)}) cannot carry a CO-RE relocation`);
  }
}
