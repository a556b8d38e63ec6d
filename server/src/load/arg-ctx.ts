/**
 * The `__arg_ctx` fallback for kernels without native `arg:ctx` support (before 6.8): per
 * entry program, each tagged global subprogram its func_info names gets its own FUNC →
 * FUNC_PROTO clone whose tagged parameter points at the program type's context struct, and
 * that program's func_info names the clone. Other programs keep the original (or their own
 * clone). Types are only appended, so every id and string offset the object already uses
 * (func_info, line_info, CO-RE) stays valid. Pure: BTF and records in, BTF and records out.
 */
import { Btf } from '../btf/btf';
import type { BtfFuncProto, BtfType, NewType, TypeId } from '../btf/types';
import { BTF_FUNC_GLOBAL } from '../btf/types';
import { ARG_CTX_TAG, type ArgCtxAction, argCtxAction, ctxPointerC, progCtxType } from '../object/arg-ctx';
import { LoadError } from './types';

export type ArgCtxFallbackMode = 'auto' | 'always' | 'never';

export const ARG_CTX_FALLBACK_MODES: readonly ArgCtxFallbackMode[] = ['auto', 'always', 'never'];

/** For option parsers (`--arg-ctx-fallback`, the setting): is `v` one of the modes? */
export function isArgCtxFallbackMode(v: unknown): v is ArgCtxFallbackMode {
  return typeof v === 'string' && (ARG_CTX_FALLBACK_MODES as readonly string[]).includes(v);
}

/** Whether to rewrite: `auto` only when the target lacks native support, `always` regardless. */
export function argCtxFallbackWanted(mode: ArgCtxFallbackMode | undefined, nativeSupported: boolean): boolean {
  return mode === 'always' || ((mode ?? 'auto') === 'auto' && !nativeSupported);
}

/** A func_info record: only `typeId` is touched; `insnOff` is passed through in its unit. */
export interface FuncInfoRecord {
  readonly insnOff: number;
  readonly typeId: TypeId;
}

/** One clone made for one program. */
export interface ArgCtxClone {
  readonly program: string;
  readonly subprog: string;
  /** The original FUNC and its clone (and the clone's FUNC_PROTO). */
  readonly funcId: TypeId;
  readonly cloneFuncId: TypeId;
  readonly cloneProtoId: TypeId;
  /** Rewritten parameters: index, name, context type and the PTR id they now have. */
  readonly args: readonly { readonly index: number; readonly name: string; readonly ctxType: string; readonly ptrId: TypeId }[];
}

/** A tagged parameter the fallback cannot turn into a context: the load must stop. */
export interface ArgCtxProblem {
  readonly program: string;
  readonly progType: string;
  readonly subprog: string;
  readonly arg: string;
  readonly argIndex: number;
}

export interface ArgCtxRewriterOptions {
  /** The target's `uname -m` (perf_event accepts the arch's regs struct). */
  readonly machine?: string;
}

/**
 * The struct name the clone's parameter points at. libbpf's table name everywhere except
 * kprobe on x86_64: kernels with native support (6.8+) insist on `struct pt_regs *` there
 * (`--arg-ctx-fallback always` on them fails with libbpf's `struct bpf_user_pt_regs_t`),
 * and older ones resolve their `bpf_user_pt_regs_t` typedef to `pt_regs` before comparing,
 * so `pt_regs` works on both. Other arches keep libbpf's name (their regs struct differs
 * between the kernel's typedef and what 6.8+ asks for).
 */
export function emittedCtxStruct(progType: string, ctxType: string, machine = 'x86_64'): string {
  return progType === 'kprobe' && machine === 'x86_64' ? 'pt_regs' : ctxType;
}

/** Appends types to a copy of a BTF blob, keeping its ids and string offsets. */
class BtfAppender {
  private readonly added: BtfType[] = [];
  private readonly newStrings: Buffer[] = [];
  private newLen = 0;
  private strIndex?: Map<string, number>;

  constructor(readonly btf: Btf) {}

  get nextId(): TypeId {
    return this.btf.length + this.added.length;
  }

  /** The type with this id, among the original's and the added ones. */
  get(id: TypeId): BtfType | undefined {
    return id >= this.btf.length ? this.added[id - this.btf.length] : this.btf.get(id);
  }

  string(s: string): number {
    if (s === '') return 0;
    if (!this.strIndex) {
      this.strIndex = new Map();
      const b = this.btf.strings;
      for (let start = 0; start < b.length;) {
        let end = b.indexOf(0, start);
        if (end < 0) end = b.length;
        const str = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
        if (!this.strIndex.has(str)) this.strIndex.set(str, this.btf.startStrOff + start);
        start = end + 1;
      }
    }
    const have = this.strIndex.get(s);
    if (have !== undefined) return have;
    const off = this.btf.stringsEnd + this.newLen;
    const buf = Buffer.from(s + '\0', 'latin1');
    this.newStrings.push(buf);
    this.newLen += buf.length;
    this.strIndex.set(s, off);
    return off;
  }

  /** Adds `t`; its nameOff is used as given when `keepNameOff`, else interned from its name. */
  add(t: NewType, keepNameOff = false): TypeId {
    const id = this.nextId;
    this.added.push({ ...t, id, nameOff: keepNameOff ? t.nameOff : this.string(t.name) });
    return id;
  }

  /** Replaces an added type's parameter type (clones are made first, then pointed). */
  setParamType(protoId: TypeId, index: number, type: TypeId): void {
    const p = this.added[protoId - this.btf.length] as BtfFuncProto;
    this.added[protoId - this.btf.length] = { ...p, params: p.params.map((x, i) => (i === index ? { ...x, type } : x)) };
  }

  get changed(): boolean {
    return this.added.length > 0;
  }

  build(): Btf {
    if (!this.changed) return this.btf;
    const strings = Buffer.concat([Buffer.from(this.btf.strings), ...this.newStrings]);
    return new Btf([...this.btf.types, ...this.added], strings, this.btf.littleEndian, this.btf.base);
  }
}

interface TaggedArg {
  readonly index: number;
  readonly name: string;
  readonly type: TypeId;
}

/**
 * Rewrites func_info program by program over one shared BTF: call `program()` for each
 * entry program as its func_info is built, then `finish()` once for the BTF to load (and any
 * problems, which `throwIfImpossible` turns into one LoadError naming them all).
 */
export class ArgCtxRewriter {
  private readonly out: BtfAppender;
  /** FUNC id → its tagged parameters (global FUNCs with a valid FUNC_PROTO only). */
  private readonly tagged = new Map<TypeId, TaggedArg[]>();
  private readonly ctxPtr = new Map<string, TypeId>();
  readonly clones: ArgCtxClone[] = [];
  readonly problems: ArgCtxProblem[] = [];
  /** libbpf's warnings: tagged parameters declared as something else than the context. */
  readonly warnings: string[] = [];

  constructor(
    btf: Btf,
    private readonly opts: ArgCtxRewriterOptions = {},
  ) {
    this.out = new BtfAppender(btf);
    for (const t of btf.types) {
      if (t.kind !== 'DECL_TAG' || t.name !== ARG_CTX_TAG || t.componentIdx < 0) continue;
      const fn = btf.has(t.type) ? btf.get(t.type) : undefined;
      if (fn?.kind !== 'FUNC' || fn.linkage !== BTF_FUNC_GLOBAL) continue;
      const proto = btf.has(fn.type) ? btf.get(fn.type) : undefined;
      if (proto?.kind !== 'FUNC_PROTO' || t.componentIdx >= proto.params.length) continue;
      const list = this.tagged.get(fn.id) ?? [];
      if (!list.some((a) => a.index === t.componentIdx)) {
        const p = proto.params[t.componentIdx];
        list.push({ index: t.componentIdx, name: p.name, type: p.type });
      }
      this.tagged.set(fn.id, list);
    }
  }

  /** True when the object has any tagged global subprogram (else nothing will change). */
  get hasTags(): boolean {
    return this.tagged.size > 0;
  }

  /** The func_info records `program` should be loaded with (the same array when unchanged). */
  program<R extends FuncInfoRecord>(program: string, progType: string, records: readonly R[]): readonly R[] {
    if (!this.hasTags) return records;
    const btf = this.out.btf;
    const ctxType = progCtxType(progType);
    let changed = false;
    const outRecs = records.map((rec) => {
      const args = this.tagged.get(rec.typeId);
      if (!args) return rec;
      const subprog = btf.nameOf(rec.typeId);
      const todo: TaggedArg[] = [];
      for (const a of args) {
        const action: ArgCtxAction = argCtxAction(btf, a.type, progType, { machine: this.opts.machine });
        if (action === 'no-ctx') this.problems.push({ program, progType, subprog, arg: a.name, argIndex: a.index });
        else if (action === 'mismatch')
          this.warnings.push(
            `program '${program}': subprogram '${subprog}' argument #${a.index} '${a.name}' is expected to be of \`${ctxPointerC(ctxType!)}\` type; left as declared`,
          );
        else if (action === 'rewrite') todo.push(a);
      }
      if (!todo.length || !ctxType) return rec;
      changed = true;
      return { ...rec, typeId: this.clone(program, subprog, rec.typeId, todo, emittedCtxStruct(progType, ctxType, this.opts.machine)) };
    });
    return changed ? outRecs : records;
  }

  private clone(program: string, subprog: string, funcId: TypeId, args: readonly TaggedArg[], ctxType: string): TypeId {
    const fn = this.out.get(funcId)!;
    if (fn.kind !== 'FUNC') throw new Error('internal: tagged id is not a FUNC');
    const proto = this.out.get(fn.type) as BtfFuncProto;
    // Names are reused by offset, as the originals' strings stay where they are.
    const protoId = this.out.add(
      { kind: 'FUNC_PROTO', name: '', nameOff: 0, kindFlag: false, type: proto.type, params: proto.params.map((p) => ({ ...p })) },
      true,
    );
    const cloneId = this.out.add(
      { kind: 'FUNC', name: fn.name, nameOff: fn.nameOff, kindFlag: false, type: protoId, linkage: fn.linkage },
      true,
    );
    const ptrId = this.ctxPointer(ctxType);
    for (const a of args) {
      this.out.setParamType(protoId, a.index, ptrId);
      this.out.add({ kind: 'DECL_TAG', name: ARG_CTX_TAG, nameOff: 0, kindFlag: false, type: cloneId, componentIdx: a.index });
    }
    this.clones.push({
      program,
      subprog,
      funcId,
      cloneFuncId: cloneId,
      cloneProtoId: protoId,
      args: args.map((a) => ({ index: a.index, name: a.name, ctxType, ptrId })),
    });
    return cloneId;
  }

  /** A PTR to a STRUCT named `ctxType`: an existing one when the object has both, else added (an empty struct, as libbpf). */
  private ctxPointer(ctxType: string): TypeId {
    const have = this.ctxPtr.get(ctxType);
    if (have !== undefined) return have;
    const btf = this.out.btf;
    const struct = btf.byName(ctxType).find((id) => btf.get(id)?.kind === 'STRUCT');
    let ptr: TypeId | undefined;
    if (struct !== undefined) {
      for (const t of btf.types)
        if (t.kind === 'PTR' && t.type === struct && t.name === '') {
          ptr = t.id;
          break;
        }
    }
    const structId = struct ?? this.out.add({ kind: 'STRUCT', name: ctxType, nameOff: 0, kindFlag: false, size: 0, members: [] });
    ptr ??= this.out.add({ kind: 'PTR', name: '', nameOff: 0, kindFlag: false, type: structId });
    this.ctxPtr.set(ctxType, ptr);
    return ptr;
  }

  /** The BTF to load: the original with the clones appended (the same object when none were made). */
  finish(): Btf {
    return this.out.build();
  }

  /** Throws one LoadError naming every tagged argument that cannot be emulated; `why` says why emulation was asked for. */
  throwIfImpossible(why: string): void {
    if (!this.problems.length) return;
    const lines = this.problems.map(
      (p) =>
        `subprogram '${p.subprog}' argument #${p.argIndex} '${p.arg}' (__arg_ctx) is called from program '${p.program}' of type ${p.progType}, which has no named context type to emulate it with`,
    );
    const first = this.problems[0];
    throw new LoadError(
      `__arg_ctx cannot be emulated (${why}):\n  ${lines.join('\n  ')}\n  (native support needs Linux 6.8 or later)`,
      'relocate',
      { program: first.program },
    );
  }
}

export interface ArgCtxProgramInput {
  readonly name: string;
  /** bpftool name of the program type. */
  readonly progType: string;
  readonly funcInfo: readonly FuncInfoRecord[];
}

export interface ArgCtxFixup {
  readonly btf: Btf;
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfoRecord[]>;
  readonly clones: readonly ArgCtxClone[];
  readonly warnings: readonly string[];
}

/** The whole fallback at once: every program's func_info rewritten over one BTF; throws LoadError where it is impossible. */
export function applyArgCtxFallback(
  btf: Btf,
  programs: readonly ArgCtxProgramInput[],
  why: string,
  opts: ArgCtxRewriterOptions = {},
): ArgCtxFixup {
  const r = new ArgCtxRewriter(btf, opts);
  const funcInfo = new Map<string, readonly FuncInfoRecord[]>();
  for (const p of programs) funcInfo.set(p.name, r.program(p.name, p.progType, p.funcInfo));
  r.throwIfImpossible(why);
  return { btf: r.finish(), funcInfo, clones: r.clones, warnings: r.warnings };
}
