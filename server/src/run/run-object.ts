/**
 * "Run an object": load it, attach every program libbpf would plus those given a place, report
 * each step as an event, and later detach and release everything (or leave it pinned). The
 * CLI's `run` prints these events; other front ends (agent, editor) can forward them.
 */
import { attachAll, type AttachSession, type Attachment } from '../attach';
import type { KernelOps } from '../kernel';
import { loadObject } from '../load';
import type { LoadOptions, LoadResult } from '../load/types';
import type { BpfObject } from '../object/model';

/** What happens during a run, one event per line in `run --json`. */
export type RunEvent =
  | {
      event: 'loaded';
      object: string;
      programs: { name: string; id: number; type: string }[];
      maps: { name: string; id: number; type: string }[];
    }
  | { event: 'attached'; program: string; kind: string; target: string; mechanism: string; link_id?: number; link_ids?: number[] }
  | { event: 'skipped'; program: string; reason: string }
  | { event: 'iter'; program: string; output: string }
  | { event: 'pinned'; program: string; path: string }
  | { event: 'running'; duration: number | null }
  | { event: 'detached'; program: string; kind: string; target: string }
  | { event: 'warning'; message: string }
  | { event: 'error'; message: string; program?: string };

export interface RunOptions extends Omit<LoadOptions, 'kernel'> {
  readonly places?: ReadonlyMap<string, string>;
  readonly skip?: ReadonlySet<string>;
  /** Pin every link under this directory and leave everything attached at stop(). */
  readonly pinDir?: string;
}

export interface RunHandle {
  readonly load: LoadResult;
  readonly session: AttachSession;
  /** Detaches (unless pinned) and releases every FD; emits `detached` per attachment. */
  stop(): void;
}

export function attachedEvent(a: Attachment): RunEvent {
  const ids = a.linkIds;
  return {
    event: 'attached',
    program: a.program,
    kind: a.kind,
    target: a.target,
    mechanism: a.mechanism,
    ...(ids.length === 1 ? { link_id: ids[0] } : ids.length > 1 ? { link_ids: [...ids] } : {}),
  };
}

/** Loads and attaches; throws (after releasing everything) when either fails. */
export function runObject(k: KernelOps, obj: BpfObject, file: string, opts: RunOptions, emit: (e: RunEvent) => void): RunHandle {
  const { places, skip, pinDir, ...loadOpts } = opts;
  const load = loadObject(obj, { ...loadOpts, kernel: k });
  let session: AttachSession | undefined;
  try {
    emit({
      event: 'loaded',
      object: file,
      programs: load.programs.map((p) => ({ name: p.name, id: p.id, type: p.type })),
      maps: load.maps.map((m) => ({ name: m.kernelName, id: m.id, type: m.type })),
    });
    for (const w of load.warnings) emit({ event: 'warning', message: w });
    const mapFd = (name: string) => load.maps.find((m) => m.name === name)?.fd;
    const structOps = load.maps.flatMap((m) => (m.structOps ? [{ name: m.name, fd: m.fd, ...m.structOps }] : []));
    session = attachAll(k, load.programs, { places, skip, mapFd, structOps, onAttached: (a) => emit(attachedEvent(a)) });
    for (const s of session.skipped) emit({ event: 'skipped', program: s.program, reason: s.reason });
    for (const a of session.attachments) {
      if (a.kind === 'iter') emit({ event: 'iter', program: a.program, output: Buffer.from(session.readIter(a.program)).toString('utf8') });
    }
    if (pinDir !== undefined) for (const p of session.pin(pinDir)) emit({ event: 'pinned', ...p });
  } catch (e) {
    // attachAll already detached what it attached; a later failure (iter read, pin) has not.
    session?.detach();
    load.close();
    throw e;
  }
  let stopped = false;
  const live = session;
  return {
    load,
    session: live,
    stop() {
      if (stopped) return;
      stopped = true;
      const errors = live.detach();
      if (pinDir === undefined) {
        for (const a of [...live.attachments].reverse()) emit({ event: 'detached', program: a.program, kind: a.kind, target: a.target });
      }
      for (const m of errors) emit({ event: 'error', message: `detach: ${m}` });
      load.close();
    },
  };
}
