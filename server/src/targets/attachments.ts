/**
 * What one loaded object has attached, for a LocalTarget: attach requests (each all or nothing,
 * as attach/session.ts does), detaching all or some programs, and the JSON every front end and
 * the agent protocol share. A request names programs, places and pins; the kernel work is
 * server/src/attach's.
 */
import { attachAll, AttachError, AttachPlanError, UsdtSpecIds, type AttachSession, type Attachment } from '../attach';
import type { KernelOps } from '../kernel';
import type { LoadResult } from '../load/types';
import { AttachFailure, type AttachmentJson, type AttachRequest, type AttachResult, type DetachResult } from './target';

export function attachmentJson(a: Attachment, pinned?: readonly string[]): AttachmentJson {
  return {
    program: a.program,
    kind: a.kind,
    target: a.target,
    mechanism: a.mechanism,
    linkIds: [...a.linkIds],
    ...(pinned?.length ? { pinned } : {}),
  };
}

export class LoadAttachments {
  private readonly sessions: AttachSession[] = [];
  private readonly pins = new Map<Attachment, string[]>();
  /** The load's USDT spec slots, shared by every attach request (libbpf's usdt_manager). */
  private readonly usdtIds = new UsdtSpecIds();

  constructor(
    private readonly k: KernelOps,
    private readonly load: LoadResult,
  ) {}

  /** Every attachment still in place, oldest first. */
  list(): AttachmentJson[] {
    return this.sessions.flatMap((s) => s.live.map((a) => attachmentJson(a, this.pins.get(a))));
  }

  private attachedNames(): Set<string> {
    return new Set(this.sessions.flatMap((s) => s.live.map((a) => a.program)));
  }

  /** Attaches as asked; AttachFailure (naming the program) with nothing of this request left attached. */
  attach(req: AttachRequest, onAttached?: (a: AttachmentJson) => void): AttachResult {
    const load = this.load;
    const known = new Set([...load.programs.map((p) => p.name), ...load.maps.filter((m) => m.structOps).map((m) => m.name)]);
    const already = this.attachedNames();
    for (const name of req.programs ?? []) {
      if (!known.has(name))
        throw new AttachFailure(`no loaded program or struct_ops map '${name}' (loaded: ${[...known].join(', ')})`, name);
      if (already.has(name)) throw new AttachFailure(`program '${name}' is attached already: detach it first`, name);
    }
    // Everything not asked for, and what is attached already, is skipped.
    const wanted = req.programs ? new Set(req.programs) : undefined;
    const skip = new Set([...(req.skip ?? []), ...[...known].filter((n) => already.has(n) || (wanted && !wanted.has(n)))]);
    let session: AttachSession;
    try {
      session = attachAll(this.k, load.programs, {
        places: new Map(Object.entries(req.places ?? {})),
        skip,
        mapFd: (name) => load.maps.find((m) => m.name === name)?.fd,
        btf: load.object.btf,
        usdtIds: this.usdtIds,
        structOps: load.maps.flatMap((m) => (m.structOps ? [{ name: m.name, fd: m.fd, ...m.structOps }] : [])),
        ...(onAttached ? { onAttached: (a: Attachment) => onAttached(attachmentJson(a)) } : {}),
      });
    } catch (e) {
      if (e instanceof AttachError || e instanceof AttachPlanError) throw new AttachFailure(e.message, e.program, { cause: e });
      throw e;
    }
    const skipped = session.skipped.filter((s) => !(already.has(s.program) || (wanted && !wanted.has(s.program))));
    // A program asked for by name must attach: libbpf cannot place it and no place was given.
    const unplaced = wanted ? skipped.find((s) => wanted.has(s.program)) : undefined;
    try {
      if (unplaced) throw new AttachFailure(`program '${unplaced.program}': ${unplaced.reason}`, unplaced.program, { needsPlace: true });
      const iterOutput = session.live
        .filter((a) => a.kind === 'iter')
        .map((a) => ({ program: a.program, output: Buffer.from(session.readIter(a.program)).toString('utf8') }));
      if (req.pinDir !== undefined) {
        for (const p of session.pin(req.pinDir)) {
          const a = session.live.find((x) => x.program === p.program)!;
          this.pins.set(a, [...(this.pins.get(a) ?? []), p.path]);
        }
      }
      this.sessions.push(session);
      return { attached: session.live.map((a) => attachmentJson(a, this.pins.get(a))), skipped, iterOutput };
    } catch (e) {
      session.detach();
      throw e;
    }
  }

  /** Detaches the named programs' attachments (all when none are named), newest first. */
  detach(programs?: readonly string[]): DetachResult {
    const names = programs ? new Set(programs) : undefined;
    const detached: AttachmentJson[] = [];
    const errors: string[] = [];
    for (const s of [...this.sessions].reverse()) {
      const r = s.detachSome((a) => !names || names.has(a.program));
      detached.push(...r.detached.map((a) => attachmentJson(a, this.pins.get(a))));
      errors.push(...r.errors);
    }
    return { detached, errors };
  }
}
