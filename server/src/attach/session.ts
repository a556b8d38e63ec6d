/**
 * Attaching a loaded object's programs as one session: plan each (SEC() + the user's places),
 * attach in order, and on any failure detach what was attached and say which program failed and
 * why. The session remembers every attachment so `detach()` undoes all of them; `pin(dir)` keeps
 * the links alive under bpffs instead.
 */
import type { Fd, KernelOps } from '../kernel';
import { attachStructOps, executePlan, runUndo, type Attachment, type ExecuteContext, type StructOpsMap } from './execute';
import { AttachPlanError, describePlan, planAttach, type AttachPlan } from './plan';
import { UsdtSpecIds } from './usdt-spec';

/** A loaded program as the session needs it. */
export interface AttachProgram {
  readonly name: string;
  readonly section: string;
  readonly fd: Fd;
}

export interface AttachOptions extends Omit<ExecuteContext, 'kernel'> {
  /** `--attach PROG=WHERE`. */
  readonly places?: ReadonlyMap<string, string>;
  /** `--no-attach PROG`. */
  readonly skip?: ReadonlySet<string>;
  /** struct_ops maps to register (after the programs), as libbpf's skeleton attach does. */
  readonly structOps?: readonly StructOpsMap[];
  /** Told of each attachment as it is made (the CLI streams them). */
  readonly onAttached?: (a: Attachment) => void;
}

export interface Skipped {
  readonly program: string;
  readonly reason: string;
}

/** Attaching failed: which program, where, why; everything attached before was detached. */
export class AttachError extends Error {
  constructor(
    readonly program: string,
    readonly kind: string,
    readonly target: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `attaching program '${program}'${kind ? ` (${kind}${target ? ` ${target}` : ''})` : ''} failed: ${reason}; nothing was left attached`,
      options,
    );
    this.name = 'AttachError';
  }
}

export class AttachSession {
  private readonly remaining: Set<Attachment>;
  private pinnedLinks = false;

  constructor(
    private readonly k: KernelOps,
    readonly attachments: readonly Attachment[],
    readonly skipped: readonly Skipped[],
  ) {
    this.remaining = new Set(attachments);
  }

  /** The attachments not yet detached, in the order they were made. */
  get live(): Attachment[] {
    return this.attachments.filter((a) => this.remaining.has(a));
  }

  /** True when the links were pinned (detaching then only closes this process's FDs). */
  get pinned(): boolean {
    return this.pinnedLinks;
  }

  /** Undoes every attachment (newest first). Returns what could not be undone (normally nothing). */
  detach(): string[] {
    return this.detachSome(() => true).errors;
  }

  /** Undoes the attachments `pick` chooses (newest first); each at most once. */
  detachSome(pick: (a: Attachment) => boolean): { detached: Attachment[]; errors: string[] } {
    const detached: Attachment[] = [];
    const errors: string[] = [];
    for (const a of [...this.attachments].reverse()) {
      if (!this.remaining.has(a) || !pick(a)) continue;
      this.remaining.delete(a);
      detached.push(a);
      if (this.pinnedLinks && a.mechanism !== 'perf_event ioctl') {
        // Pinned: the pins hold the links; only this process's FDs go.
        for (const fd of a.linkFds) this.k.closeFd(fd);
        continue;
      }
      errors.push(...runUndo(a.undo).map((m) => `${a.program}: ${m}`));
    }
    return { detached, errors };
  }

  /**
   * Pins every link as DIR/<program> (DIR/<program>_<n> for several); later detach() keeps them.
   * All or nothing: when one pin fails, the pins made before it are removed (a pin left behind
   * would keep its link attached after detach()).
   */
  pin(dir: string): { program: string; path: string }[] {
    const out: { program: string; path: string }[] = [];
    try {
      for (const a of this.attachments) {
        a.linkFds.forEach((fd, i) => {
          const path = `${dir}/${a.program}${a.linkFds.length > 1 ? `_${i}` : ''}`;
          this.k.objPin(fd, path);
          out.push({ program: a.program, path });
        });
      }
    } catch (e) {
      for (const p of out) {
        try {
          this.k.unpin(p.path);
        } catch {
          // best effort: the pin error is the one to report
        }
      }
      throw e;
    }
    this.pinnedLinks = true;
    return out;
  }

  /** Runs an iter program's link once and returns what it printed. */
  readIter(program: string): Uint8Array {
    const a = this.attachments.find((x) => x.program === program && x.kind === 'iter');
    if (!a) throw new Error(`program '${program}' is not an attached iterator`);
    const fd = this.k.iterCreate(a.linkFds[0], `iter ${program}`);
    try {
      return this.k.readAll(fd, `iter ${program}`);
    } finally {
      this.k.closeFd(fd);
    }
  }
}

/** Plans every program first (so a bad place fails before anything is attached). */
export function planAll(
  programs: readonly AttachProgram[],
  opts: AttachOptions,
): { plans: { program: AttachProgram; plan: AttachPlan }[]; skipped: Skipped[] } {
  const names = new Set([...programs.map((p) => p.name), ...(opts.structOps ?? []).map((m) => m.name)]);
  for (const name of [...(opts.places?.keys() ?? []), ...(opts.skip ?? [])]) {
    if (!names.has(name)) throw new AttachPlanError(name, `no loaded program has this name (loaded: ${[...names].join(', ') || 'none'})`);
  }
  const plans: { program: AttachProgram; plan: AttachPlan }[] = [];
  const skipped: Skipped[] = [];
  for (const p of programs) {
    if (opts.skip?.has(p.name)) {
      skipped.push({ program: p.name, reason: '--no-attach' });
      continue;
    }
    const plan = planAttach(p, opts.places?.get(p.name));
    if (plan.kind === 'none') skipped.push({ program: p.name, reason: plan.reason });
    else plans.push({ program: p, plan });
  }
  return { plans, skipped };
}

/** Attaches every program libbpf would, plus those given a place; all or nothing. */
export function attachAll(k: KernelOps, programs: readonly AttachProgram[], opts: AttachOptions = {}): AttachSession {
  const { plans, skipped } = planAll(programs, opts);
  // usdt programs of one object share its spec map: one id allocator for the whole request at least.
  const cx = { ...opts, kernel: k, usdtIds: opts.usdtIds ?? new UsdtSpecIds() };
  const done: Attachment[] = [];
  const fail = (name: string, kind: string, target: string, e: unknown): never => {
    for (const d of done.reverse()) runUndo(d.undo);
    throw new AttachError(name, kind, target, (e as Error).message, { cause: e });
  };
  for (const { program, plan } of plans) {
    if (plan.kind === 'none') continue;
    let a: Attachment;
    try {
      a = executePlan(cx, program.name, program.fd, plan);
    } catch (e) {
      return fail(program.name, plan.kind, describePlan(plan), e);
    }
    done.push(a);
    opts.onAttached?.(a);
  }
  for (const m of opts.structOps ?? []) {
    if (opts.skip?.has(m.name)) continue;
    let a: Attachment;
    try {
      a = attachStructOps(k, m);
    } catch (e) {
      return fail(m.name, 'struct_ops', `map ${m.name}`, e);
    }
    done.push(a);
    opts.onAttached?.(a);
  }
  return new AttachSession(k, done, skipped);
}
