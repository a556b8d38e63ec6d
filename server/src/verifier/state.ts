/**
 * One verifier state as the kernel prints it: `R1=ctx() R6=pkt(r=0) fp-8=mmmm????` (6.4+),
 * `R1_w=ctx(off=0,imm=0) R2_w=invP0 R3_w=fp-8` (6.1 and older), `frame1: R1=...`, `refs=2`.
 * Pure text in, values out; anything unrecognised is kept as text.
 */

/** One register's value: its type (`scalar`, `ctx`, `map_value_or_null`, `fp`, …) and properties. */
export interface RegValue {
  /** The value as printed (`map_value_or_null(id=1,map=counts,ks=4,vs=8)`). */
  readonly text: string;
  /** `scalar` for numbers (including constants), `fp` for stack pointers, else the printed type. */
  readonly type: string;
  /** Properties inside the parentheses (`id`, `off`, `r`, `smin`, `var_off`, …); chained `smax=umax=5` gives both. */
  readonly props: Readonly<Record<string, string>>;
  /** The constant value of a known scalar (`5`, `0x1631d`, `-1`), or a stack pointer's offset (`fp-8` → '-8'). */
  readonly value?: string;
  /** `_w`/`_rw` suffix (older kernels): written on this instruction. */
  readonly written?: boolean;
  /** Older `invP` / `P` marks: the value is precise. */
  readonly precise?: boolean;
}

export interface VerifierState {
  /** The frame number (`frame1:`), 0 when not printed. */
  readonly frame: number;
  /** By register name: `R0` … `R10`. */
  readonly regs: Readonly<Record<string, RegValue>>;
  /** Stack slots by offset from the frame pointer (`fp-8` → -8): their printed contents. */
  readonly stack: Readonly<Record<number, string>>;
  /** Acquired references (`refs=2,4`). */
  readonly refs?: string;
  /** Tokens that were not understood, kept for display. */
  readonly other: readonly string[];
}

/** Splits on spaces outside parentheses (`var_off=(0x0; 0xff)` holds one). */
export function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(' || ch === '[') depth++;
    else if ((ch === ')' || ch === ']') && depth > 0) depth--;
    if (ch === sep && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

function parseProps(inner: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const part of splitTop(inner, ',')) {
    const keys = part.split('=');
    if (keys.length < 2) {
      props[part] = '';
      continue;
    }
    // `smax=umax=0xff` names two properties with one value; `var_off=(0x0; 0xff)` has no inner '='
    const val = keys[keys.length - 1];
    for (const k of keys.slice(0, -1)) props[k.trim()] = val;
  }
  return props;
}

const NUMBER = /^-?(0x[0-9a-f]+|\d+)$/i;

/** One printed register value. */
export function parseRegValue(text: string): RegValue {
  if (NUMBER.test(text)) return { text, type: 'scalar', props: {}, value: text };
  let m = /^fp(-?\d+)$/.exec(text);
  if (m) return { text, type: 'fp', props: { off: m[1] }, value: m[1] };
  // 6.1: invP0 / inv0 / P5 are scalars with a known value; `inv(...)` an unknown scalar
  m = /^(?:inv)?(P)?(-?(?:0x[0-9a-f]+|\d+))$/i.exec(text);
  if (m) return { text, type: 'scalar', props: {}, value: m[2], precise: !!m[1] };
  m = /^([A-Za-z_][A-Za-z0-9_]*?)(P)?(?:\[(\d+)\])?(?:\((.*)\))?$/s.exec(text);
  if (!m) return { text, type: 'unknown', props: {} };
  const type = m[1] === 'inv' ? 'scalar' : m[1];
  const props = m[4] !== undefined ? parseProps(m[4]) : {};
  if (m[3] !== undefined) props.frame = m[3];
  const value = type === 'scalar' && props.imm === undefined ? undefined : props.imm;
  return { text, type, props, ...(value !== undefined ? { value } : {}), ...(m[2] ? { precise: true } : {}) };
}

/** A state dump (the part after `N: `, after `; `, or after `from X to Y: `). */
export function parseState(text: string): VerifierState {
  let frame = 0;
  const regs: Record<string, RegValue> = {};
  const stack: Record<number, string> = {};
  const other: string[] = [];
  let refs: string | undefined;
  for (const tok of splitTop(text.trim(), ' ')) {
    const fm = /^frame(\d+):$/.exec(tok);
    if (fm) {
      frame = Number(fm[1]);
      continue;
    }
    const eq = tok.indexOf('=');
    if (eq <= 0) {
      other.push(tok);
      continue;
    }
    const name = tok.slice(0, eq);
    const val = tok.slice(eq + 1);
    const rm = /^R(\d+)(_[rw]+)?$/.exec(name);
    const sm = /^fp(-\d+)(_[rw]+)?$/.exec(name);
    if (rm) {
      const v = parseRegValue(val);
      regs[`R${rm[1]}`] = rm[2]?.includes('w') ? { ...v, written: true } : v;
    } else if (sm) stack[Number(sm[1])] = val;
    else if (name === 'refs') refs = val;
    else other.push(tok);
  }
  return { frame, regs, stack, ...(refs !== undefined ? { refs } : {}), other };
}

/** Does this text start like a state dump (a register, a stack slot, a frame)? */
export function looksLikeState(text: string): boolean {
  return /^(frame\d+: )?(R\d+(_[rw]+)?=|fp-\d+(_[rw]+)?=|refs=)/.test(text.trim());
}
