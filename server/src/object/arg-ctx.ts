/**
 * `__arg_ctx` analysis: global subprograms whose parameters carry the BTF decl tag
 * `arg:ctx` (libbpf's `__arg_ctx`), the entry programs that reach them, and the context
 * type each of those programs gives the argument. Kernels since 6.8 understand the tag
 * natively; older ones need the loader to rewrite the subprogram's BTF per program
 * (server/src/load/arg-ctx.ts), which is only possible where the program type has a named
 * context struct. Pure: reads the object model and its BTF.
 */
import { skipModsAndTypedefs } from '../btf/skip-mods';
import type { Btf } from '../btf/btf';
import type { BtfType, TypeId } from '../btf/types';
import { BTF_FUNC_GLOBAL } from '../btf/types';
import type { BpfFunction, BpfObject, SourceLocation } from './model';

/** The decl tag's value, as libbpf's `__arg_ctx` spells it. */
export const ARG_CTX_TAG = 'arg:ctx';

/**
 * Program type (bpftool name) → the named context type the verifier matches a global
 * subprogram's argument against (libbpf's table of the same purpose). Types missing here
 * (tracepoint, tracing, lsm, ext, struct_ops, syscall, lirc_mode2) have no named context.
 */
export const PROG_CTX_TYPES: Readonly<Record<string, string>> = {
  cgroup_device: 'bpf_cgroup_dev_ctx',
  cgroup_skb: '__sk_buff',
  cgroup_sock: 'bpf_sock',
  cgroup_sock_addr: 'bpf_sock_addr',
  cgroup_sockopt: 'bpf_sockopt',
  cgroup_sysctl: 'bpf_sysctl',
  flow_dissector: '__sk_buff',
  kprobe: 'bpf_user_pt_regs_t',
  lwt_in: '__sk_buff',
  lwt_out: '__sk_buff',
  lwt_seg6local: '__sk_buff',
  lwt_xmit: '__sk_buff',
  netfilter: 'bpf_nf_ctx',
  perf_event: 'bpf_perf_event_data',
  raw_tracepoint: 'bpf_raw_tracepoint_args',
  raw_tracepoint_writable: 'bpf_raw_tracepoint_args',
  sched_act: '__sk_buff',
  sched_cls: '__sk_buff',
  sk_lookup: 'bpf_sk_lookup',
  sk_msg: 'sk_msg_md',
  sk_reuseport: 'sk_reuseport_md',
  sk_skb: '__sk_buff',
  sock_ops: 'bpf_sock_ops',
  socket_filter: '__sk_buff',
  xdp: 'xdp_md',
};

/** The named context type of a program type (bpftool name), or null when it has none. */
export function progCtxType(progType: string): string | null {
  return Object.prototype.hasOwnProperty.call(PROG_CTX_TYPES, progType) ? PROG_CTX_TYPES[progType] : null;
}

/** How a context type is written in C: `bpf_user_pt_regs_t` is a typedef, the rest are structs. */
export function ctxTypeC(ctxType: string): string {
  return ctxType === 'bpf_user_pt_regs_t' ? ctxType : `struct ${ctxType}`;
}

/**
 * What the BTF fallback has to do for one caller's view of a tagged parameter:
 * `rewrite` — point it at the caller's context type; `already` — its declared type is the
 * context type already; `no-ctx` — the program type has no named context, so only native
 * support can make it work; `mismatch` — declared as another pointer (or not a pointer),
 * which libbpf leaves alone with a warning.
 */
export type ArgCtxAction = 'rewrite' | 'already' | 'no-ctx' | 'mismatch';

export interface ArgCtxCaller {
  /** Entry program that reaches the subprogram. */
  readonly program: string;
  /** bpftool name of its program type. */
  readonly progType: string;
  /** The context type the argument is seen as, null when the type has none. */
  readonly ctxType: string | null;
  /** Whether the caller calls it directly or only through other subprograms. */
  readonly direct: boolean;
  readonly action: ArgCtxAction;
}

/** One tagged parameter of a global subprogram, and every program that reaches it. */
export interface ArgCtxArg {
  readonly subprog: string;
  /** Parameter name ('' when BTF has none). */
  readonly arg: string;
  /** Parameter index (the DECL_TAG's component_idx). */
  readonly argIndex: number;
  /** The parameter's declared type, in C (`void *`). */
  readonly declaredType: string;
  /** BTF ids of the subprogram's FUNC and of the parameter's type. */
  readonly funcId: TypeId;
  readonly argTypeId: TypeId;
  readonly source?: SourceLocation;
  readonly callers: readonly ArgCtxCaller[];
}

export interface ArgCtxOptions {
  /** The target's `uname -m`: perf_event accepts the arch's own regs struct (default x86_64). */
  readonly machine?: string;
}

/** The struct bpf_user_pt_regs_t stands for on each architecture (perf_event's special case). */
const PERF_REGS_STRUCT: Readonly<Record<string, string>> = {
  x86_64: 'pt_regs',
  i686: 'pt_regs',
  aarch64: 'user_pt_regs',
  s390x: 'user_regs_struct',
  ppc64le: 'user_pt_regs',
  riscv64: 'user_regs_struct',
  loongarch64: 'user_pt_regs',
};

/** skipModsAndTypedefs as arg-ctx reads it: `void` for id 0, undefined for a broken chain. */
function skipMods(btf: Btf, id: TypeId, typedefsToo: boolean): BtfType | 'void' | undefined {
  const [, t, broken] = skipModsAndTypedefs(btf, id, { typedefs: typedefsToo });
  return broken ? undefined : (t ?? 'void');
}

/**
 * Whether a parameter of BTF type `argTypeId` must be rewritten to be the context of a
 * `progType` program (libbpf's rules: `void *` and the arch's regs struct are rewritten, the
 * context type itself is left alone, anything else is a mismatch).
 */
export function argCtxAction(btf: Btf, argTypeId: TypeId, progType: string, opts: ArgCtxOptions = {}): ArgCtxAction {
  const ctx = progCtxType(progType);
  if (!ctx) return 'no-ctx';
  const ptr = skipMods(btf, argTypeId, true);
  if (!ptr || ptr === 'void' || ptr.kind !== 'PTR') return 'mismatch';
  const target = skipMods(btf, ptr.type, false);
  if (
    target !== 'void' &&
    target?.kind === 'TYPEDEF' &&
    target.name === 'bpf_user_pt_regs_t' &&
    (progType === 'kprobe' || progType === 'perf_event')
  )
    return 'already';
  const t = skipMods(btf, ptr.type, true);
  if (t === 'void') return 'rewrite';
  if (!t) return 'mismatch';
  if (t.kind === 'STRUCT' && t.name === ctx) return 'already';
  if (progType === 'kprobe' && t.kind === 'STRUCT' && t.name === 'pt_regs') return 'rewrite';
  if (progType === 'perf_event' && t.kind === 'STRUCT' && t.name === (PERF_REGS_STRUCT[opts.machine ?? 'x86_64'] ?? 'pt_regs'))
    return 'rewrite';
  if ((progType === 'raw_tracepoint' || progType === 'raw_tracepoint_writable') && t.kind === 'INT' && t.size === 8) return 'rewrite';
  return 'mismatch';
}

/** A short C spelling of a parameter type for messages (`void *`, `struct pt_regs *`). */
function cType(btf: Btf, id: TypeId, depth = 0): string {
  if (id === 0) return 'void';
  if (depth > 16 || !btf.has(id)) return `[${id}]`;
  const t = btf.type(id);
  switch (t.kind) {
    case 'PTR':
      return `${cType(btf, t.type, depth + 1)} *`;
    case 'CONST':
      return `const ${cType(btf, t.type, depth + 1)}`;
    case 'VOLATILE':
      return `volatile ${cType(btf, t.type, depth + 1)}`;
    case 'RESTRICT':
    case 'TYPE_TAG':
      return cType(btf, t.type, depth + 1);
    case 'STRUCT':
    case 'FWD':
      return `${t.kind === 'FWD' && t.kindFlag ? 'union' : 'struct'} ${t.name || '(anon)'}`;
    case 'UNION':
      return `union ${t.name || '(anon)'}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum ${t.name || '(anon)'}`;
    default:
      return t.name || `(anon ${t.kind.toLowerCase()})`;
  }
}

/**
 * Every `arg:ctx`-tagged parameter of a global subprogram in `obj`, with the entry programs
 * that reach the subprogram (directly or through other subprograms) and how each sees it.
 * Tags on static functions are left out: the verifier checks those inline with the caller's
 * real types, so the tag changes nothing (libbpf ignores them too).
 */
export function analyzeArgCtx(obj: BpfObject, opts: ArgCtxOptions = {}): ArgCtxArg[] {
  const btf = obj.btf;
  if (!btf) return [];
  const byFuncId = new Map<TypeId, BpfFunction>();
  for (const f of obj.functions) if (f.btfFuncId !== undefined && !f.isEntry) byFuncId.set(f.btfFuncId, f);
  const out: ArgCtxArg[] = [];
  const seen = new Set<string>();
  for (const t of btf.types) {
    if (t.kind !== 'DECL_TAG' || t.name !== ARG_CTX_TAG || t.componentIdx < 0) continue;
    const fn = btf.has(t.type) ? btf.get(t.type) : undefined;
    if (fn?.kind !== 'FUNC' || fn.linkage !== BTF_FUNC_GLOBAL) continue;
    const proto = btf.has(fn.type) ? btf.get(fn.type) : undefined;
    if (proto?.kind !== 'FUNC_PROTO' || t.componentIdx >= proto.params.length) continue;
    const sub = byFuncId.get(fn.id);
    if (!sub) continue;
    const key = `${fn.id}:${t.componentIdx}`;
    if (seen.has(key)) continue; // the same tag written twice
    seen.add(key);
    const param = proto.params[t.componentIdx];
    const callers: ArgCtxCaller[] = obj.programs
      .filter((p) => p.subprograms.includes(sub.name))
      .map((p) => {
        const direct = obj.functions.find((f) => f.isEntry && f.name === p.name)?.callees.includes(sub.name) ?? false;
        return {
          program: p.name,
          progType: p.progType,
          ctxType: progCtxType(p.progType),
          direct,
          action: argCtxAction(btf, param.type, p.progType, opts),
        };
      });
    out.push({
      subprog: sub.name,
      arg: param.name,
      argIndex: t.componentIdx,
      declaredType: cType(btf, param.type),
      funcId: fn.id,
      argTypeId: param.type,
      ...(sub.source ? { source: sub.source } : {}),
      callers,
    });
  }
  return out;
}

/** How the argument looks from one caller, in C: `struct xdp_md *`, `bpf_user_pt_regs_t *`. */
export function ctxPointerC(ctxType: string): string {
  return `${ctxTypeC(ctxType)} *`;
}
