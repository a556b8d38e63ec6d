// A small eBPF interpreter for tests: runs self-checking programs (such as cilium/ebpf's
// CO-RE test objects, which return 0 when every relocation is right) without a kernel.
// Covers ALU/ALU64, JMP/JMP32, LDX/STX/ST on the stack, LD_IMM64 and bpf-to-bpf calls;
// helper calls throw (including the CO-RE "bad relo" call, 0xbad2310).

const STACK = 512;
const MAX_FRAMES = 8;
const MEM_BASE = 0x10000n;

export class BpfTrap extends Error {}

export interface RunOptions {
  readonly littleEndian: boolean;
  readonly maxSteps?: number;
}

const sx = (v: bigint, bits: number) => BigInt.asIntN(bits, v);
const zx = (v: bigint, bits: number) => BigInt.asUintN(bits, v);

/** Runs `insns` (8-byte instructions) from instruction `entry`; returns r0. */
export function runBpf(code: Uint8Array, entry: number, opts: RunOptions): bigint {
  const le = opts.littleEndian;
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const mem = new Uint8Array(STACK * MAX_FRAMES);
  const mdv = new DataView(mem.buffer);
  const n = Math.floor(code.length / 8);
  const regs = new Array<bigint>(11).fill(0n);
  const frames: { ret: number; saved: bigint[] }[] = [];
  regs[10] = MEM_BASE + BigInt(STACK);
  let pc = entry;
  for (let steps = 0; steps < (opts.maxSteps ?? 100_000); steps++) {
    if (pc < 0 || pc >= n) throw new BpfTrap(`pc ${pc} out of range`);
    const op = code[pc * 8];
    const regByte = code[pc * 8 + 1];
    const dst = le ? regByte & 0xf : regByte >> 4;
    const src = le ? regByte >> 4 : regByte & 0xf;
    const off = dv.getInt16(pc * 8 + 2, le);
    const imm = dv.getInt32(pc * 8 + 4, le);
    const cls = op & 7;
    const addr = (base: bigint, size: number): number => {
      const a = Number(base - MEM_BASE) + off;
      if (a < 0 || a + size > mem.length) throw new BpfTrap(`insn ${pc}: memory access at ${a} outside the stack`);
      return a;
    };
    const sizeOf = (sz: number) => (({ 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 }) as Record<number, number>)[sz];
    switch (cls) {
      case 0: {
        // LD
        if (op !== 0x18 || src !== 0) throw new BpfTrap(`insn ${pc}: unsupported LD 0x${op.toString(16)}`);
        const hi = dv.getInt32(pc * 8 + 12, le);
        regs[dst] = (zx(BigInt(hi), 32) << 32n) | zx(BigInt(imm), 32);
        pc += 2;
        continue;
      }
      case 1: {
        // LDX
        const size = sizeOf(op & 0x18);
        const a = addr(regs[src], size);
        regs[dst] =
          size === 8 ? mdv.getBigUint64(a, le) : BigInt(size === 4 ? mdv.getUint32(a, le) : size === 2 ? mdv.getUint16(a, le) : mem[a]);
        break;
      }
      case 2:
      case 3: {
        // ST, STX
        const size = sizeOf(op & 0x18);
        const v = cls === 2 ? zx(BigInt(imm), 64) : regs[src];
        const a = addr(regs[dst], size);
        if (size === 8) mdv.setBigUint64(a, zx(v, 64), le);
        else if (size === 4) mdv.setUint32(a, Number(zx(v, 32)), le);
        else if (size === 2) mdv.setUint16(a, Number(zx(v, 16)), le);
        else mem[a] = Number(zx(v, 8));
        break;
      }
      case 4:
      case 7: {
        // ALU, ALU64
        const is64 = cls === 7;
        const bits = is64 ? 64 : 32;
        const b = op & 8 ? regs[src] : zx(BigInt(imm), 64);
        const bv = is64 ? zx(b, 64) : zx(b, 32);
        const a = is64 ? regs[dst] : zx(regs[dst], 32);
        let r: bigint;
        switch (op & 0xf0) {
          case 0x00:
            r = a + bv;
            break;
          case 0x10:
            r = a - bv;
            break;
          case 0x20:
            r = a * bv;
            break;
          case 0x30:
            r = bv === 0n ? 0n : a / bv;
            break;
          case 0x40:
            r = a | bv;
            break;
          case 0x50:
            r = a & bv;
            break;
          case 0x60:
            r = a << (bv & BigInt(bits - 1));
            break;
          case 0x70:
            r = a >> (bv & BigInt(bits - 1));
            break;
          case 0x80:
            r = -a;
            break;
          case 0x90:
            r = bv === 0n ? a : a % bv;
            break;
          case 0xa0:
            r = a ^ bv;
            break;
          case 0xb0:
            r = op & 8 ? regs[src] : sx(BigInt(imm), 64);
            break;
          case 0xc0:
            r = sx(a, bits) >> (bv & BigInt(bits - 1));
            break;
          default:
            throw new BpfTrap(`insn ${pc}: unsupported ALU op 0x${op.toString(16)}`);
        }
        regs[dst] = is64 ? zx(r, 64) : zx(r, 32);
        break;
      }
      case 5:
      case 6: {
        // JMP, JMP32
        const jop = op & 0xf0;
        if (cls === 5 && jop === 0x00) {
          pc += off + 1;
          continue;
        }
        if (cls === 5 && jop === 0x80) {
          if (src !== 1)
            throw new BpfTrap(`insn ${pc}: helper call ${imm >>> 0}${imm === 0xbad2310 ? ' (CO-RE poisoned instruction)' : ''}`);
          if (frames.length + 1 >= MAX_FRAMES) throw new BpfTrap('call stack too deep');
          frames.push({ ret: pc + 1, saved: regs.slice(6, 11) });
          regs[10] += BigInt(STACK);
          pc += imm + 1;
          continue;
        }
        if (cls === 5 && jop === 0x90) {
          // exit
          const f = frames.pop();
          if (!f) return regs[0];
          for (let i = 0; i < 5; i++) regs[6 + i] = f.saved[i];
          pc = f.ret;
          continue;
        }
        const bits = cls === 5 ? 64 : 32;
        const a = zx(regs[dst], bits);
        const b = zx(op & 8 ? regs[src] : sx(BigInt(imm), 64), bits);
        const sa = sx(a, bits),
          sb = sx(b, bits);
        let t: boolean;
        switch (jop) {
          case 0x10:
            t = a === b;
            break;
          case 0x20:
            t = a > b;
            break;
          case 0x30:
            t = a >= b;
            break;
          case 0x40:
            t = (a & b) !== 0n;
            break;
          case 0x50:
            t = a !== b;
            break;
          case 0x60:
            t = sa > sb;
            break;
          case 0x70:
            t = sa >= sb;
            break;
          case 0xa0:
            t = a < b;
            break;
          case 0xb0:
            t = a <= b;
            break;
          case 0xc0:
            t = sa < sb;
            break;
          case 0xd0:
            t = sa <= sb;
            break;
          default:
            throw new BpfTrap(`insn ${pc}: unsupported JMP op 0x${op.toString(16)}`);
        }
        pc += t ? off + 1 : 1;
        continue;
      }
      default:
        throw new BpfTrap(`insn ${pc}: unsupported class ${cls}`);
    }
    pc++;
  }
  throw new BpfTrap('step limit reached');
}
