/**
 * USDT argument specs (the third string of a `.note.stapsdt` note, e.g. `-4@%eax 8@-8(%rbp)
 * -4@$5`) read as libbpf's usdt.c reads them: each argument's size and signedness, and where
 * its value is — a constant, a register, or memory at a register plus an offset (x86-64 also
 * base+index*scale) — with registers named by their offset in the kernel's `struct pt_regs`,
 * which is what `usdt.bpf.h`'s bpf_usdt_arg() reads. Pure: text in, specs out.
 */

/** enum __bpf_usdt_arg_type (usdt.bpf.h). */
export const USDT_ARG = { CONST: 0, REG: 1, REG_DEREF: 2, SIB: 3 } as const;

export type UsdtArch = 'x86_64' | 'arm64';

export interface UsdtArg {
  readonly type: (typeof USDT_ARG)[keyof typeof USDT_ARG];
  /** The constant (CONST) or the memory offset (REG_DEREF, SIB), as a u64. */
  readonly valOff: bigint;
  /** offsetof(struct pt_regs, reg) of the (base) register; 0 for constants. */
  readonly regOff: number;
  /** SIB: the index register's pt_regs offset and log2(scale). */
  readonly idxRegOff?: number;
  readonly scaleBitshift?: number;
  readonly signed: boolean;
  /** 64 − size·8: the bits bpf_usdt_arg() clears (or sign-extends) above the value. */
  readonly bitshift: number;
}

/** libbpf's limit (BPF_USDT_MAX_ARG_CNT). */
export const USDT_MAX_ARGS = 12;

/** x86-64 struct pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss. */
const X86_PT_REGS: Record<string, number> = { r15: 0, r14: 8, r13: 16, r12: 24, bp: 32, bx: 40, r11: 48, r10: 56, r9: 64, r8: 72 };
Object.assign(X86_PT_REGS, { ax: 80, cx: 88, dx: 96, si: 104, di: 112, ip: 128, sp: 152 });

/** Every name of an x86-64 register at each width (libbpf's table: rax eax ax al ...). */
function x86RegOff(name: string): number | undefined {
  const legacy: Record<string, string> = {
    rip: 'ip',
    eip: 'ip',
    al: 'ax',
    bl: 'bx',
    cl: 'cx',
    dl: 'dx',
    sil: 'si',
    dil: 'di',
    bpl: 'bp',
    spl: 'sp',
  };
  let m: RegExpExecArray | null;
  if (legacy[name]) return X86_PT_REGS[legacy[name]];
  if ((m = /^[re]?(ax|bx|cx|dx|si|di|bp|sp)$/.exec(name))) return X86_PT_REGS[m[1]];
  if ((m = /^(r(?:8|9|1[0-5]))[dwb]?$/.exec(name))) return X86_PT_REGS[m[1]];
  return undefined;
}

/** arm64 struct user_pt_regs: regs[31], sp, pc, pstate. x0..x30 and their w views; sp. */
function arm64RegOff(name: string): number | undefined {
  const m = /^[xw](\d+)$/.exec(name);
  if (m && Number(m[1]) <= 30) return Number(m[1]) * 8;
  return name === 'sp' ? 31 * 8 : undefined;
}

const INT = '([-+]?\\d+)';
const S = '\\s*';

/** One pattern per operand form, each read at the current position (like libbpf's sscanf list). */
interface Form {
  readonly re: RegExp;
  readonly build: (m: RegExpExecArray, reg: (n: string) => number) => Omit<UsdtArg, 'signed' | 'bitshift'>;
}

const X86_FORMS: Form[] = [
  {
    // 1@-96(%rbp,%rax,8), 1@(%rbp,%rax): base + index*scale + offset
    re: new RegExp(`${S}${INT}${S}@${S}${INT}?${S}\\(${S}%([a-z0-9]+)${S},${S}%([a-z0-9]+)${S}(?:,${S}(\\d+)${S})?\\)${S}`, 'y'),
    build: (m, reg) => {
      const scale = m[5] === undefined ? 1 : Number(m[5]);
      const shift = [1, 2, 4, 8].indexOf(scale);
      if (shift < 0) throw new Error(`scale ${scale} is not 1, 2, 4 or 8`);
      return { type: USDT_ARG.SIB, valOff: num(m[2] ?? '0'), regOff: reg(m[3]), idxRegOff: reg(m[4]), scaleBitshift: shift };
    },
  },
  {
    // -4@-20(%rbp), 8@(%rsp)
    re: new RegExp(`${S}${INT}${S}@${S}${INT}?${S}\\(${S}%([a-z0-9]+)${S}\\)${S}`, 'y'),
    build: (m, reg) => ({ type: USDT_ARG.REG_DEREF, valOff: num(m[2] ?? '0'), regOff: reg(m[3]) }),
  },
  {
    // -4@%eax
    re: new RegExp(`${S}${INT}${S}@${S}%([a-z0-9]+)(?=\\s|$)${S}`, 'y'),
    build: (m, reg) => ({ type: USDT_ARG.REG, valOff: 0n, regOff: reg(m[2]) }),
  },
  {
    // 4@$71
    re: new RegExp(`${S}${INT}${S}@${S}\\$${INT}(?=\\s|$)${S}`, 'y'),
    build: (m) => ({ type: USDT_ARG.CONST, valOff: num(m[2]), regOff: 0 }),
  },
];

const ARM64_FORMS: Form[] = [
  {
    // -4@[sp, 96]
    re: new RegExp(`${S}${INT}${S}@${S}\\[${S}([a-z0-9]+)${S},${S}${INT}${S}\\]${S}`, 'y'),
    build: (m, reg) => ({ type: USDT_ARG.REG_DEREF, valOff: num(m[3]), regOff: reg(m[2]) }),
  },
  {
    // -4@[sp]
    re: new RegExp(`${S}${INT}${S}@${S}\\[${S}([a-z0-9]+)${S}\\]${S}`, 'y'),
    build: (m, reg) => ({ type: USDT_ARG.REG_DEREF, valOff: 0n, regOff: reg(m[2]) }),
  },
  {
    // 4@5
    re: new RegExp(`${S}${INT}${S}@${S}${INT}(?=\\s|$)${S}`, 'y'),
    build: (m) => ({ type: USDT_ARG.CONST, valOff: num(m[2]), regOff: 0 }),
  },
  {
    // -8@x4
    re: new RegExp(`${S}${INT}${S}@${S}([a-z0-9]+)(?=\\s|$)${S}`, 'y'),
    build: (m, reg) => ({ type: USDT_ARG.REG, valOff: 0n, regOff: reg(m[2]) }),
  },
];

/** A decimal that must fit 64 bits (signed or not), as the u64 libbpf stores. */
function num(text: string): bigint {
  const v = BigInt(text);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new Error(`${text} does not fit 64 bits`);
  return BigInt.asUintN(64, v);
}

/** The arguments of one probe; throws naming the argument and what is wrong with it. */
export function parseUsdtArgs(text: string, arch: UsdtArch): UsdtArg[] {
  const forms = arch === 'x86_64' ? X86_FORMS : ARM64_FORMS;
  const regOf = arch === 'x86_64' ? x86RegOff : arm64RegOff;
  const args: UsdtArg[] = [];
  let pos = 0;
  while (pos < text.length && text.slice(pos).trim()) {
    const n = args.length;
    const bad = (why: string): never => {
      throw new Error(`USDT argument #${n} '${text.slice(pos).trim().split(/\s+/)[0]}' (spec '${text}'): ${why}`);
    };
    if (n >= USDT_MAX_ARGS) bad(`more than ${USDT_MAX_ARGS} arguments (libbpf's limit)`);
    let found: { arg: Omit<UsdtArg, 'signed' | 'bitshift'>; size: number; end: number } | undefined;
    for (const f of forms) {
      f.re.lastIndex = pos;
      const m = f.re.exec(text);
      if (!m) continue;
      const reg = (name: string): number => {
        const off = regOf(name);
        if (off === undefined) throw new Error(`unknown ${arch} register '${name}'`);
        return off;
      };
      try {
        found = { arg: f.build(m, reg), size: Number(m[1]), end: f.re.lastIndex };
      } catch (e) {
        bad((e as Error).message);
      }
      break;
    }
    if (!found) return bad(`not an ${arch} operand libbpf reads`);
    const width = Math.abs(found.size);
    if (![1, 2, 4, 8].includes(width)) bad(`size ${found.size} is not 1, 2, 4 or 8 bytes`);
    args.push({ ...found.arg, signed: found.size < 0, bitshift: 64 - width * 8 });
    pos = found.end;
  }
  return args;
}
