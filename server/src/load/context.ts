/**
 * The state one load carries from stage to stage (stages.ts): what it was asked, what the
 * target is, what each stage produced, and everything to undo when a later stage fails —
 * FDs (tracked through KernelOps), pins and directories (the PinJournal), registrations.
 */
import type { CoreReloReport } from '../core';
import type { Fd, FdScope, KernelOps } from '../kernel';
import type { BpfObject, BpfProgram } from '../object/model';
import type { Btf } from '../btf/btf';
import type { FuncInfoRecord } from './arg-ctx';
import type { LinkedLine } from './ext-info';
import type { ExternValues } from './externs';
import type { LinkedProgram } from './link-subprogs';
import type { CreatedMap } from './maps';
import { PinJournal } from './pin';
import type { StructOpsPlan } from './struct-ops';
import { LoadTarget } from './target';
import type { LoadOptions, LoadStage } from './types';

/** A program to load: linked, with its func_info (after the __arg_ctx hook) and line_info. */
export interface Planned {
  readonly program: BpfProgram;
  readonly linked: LinkedProgram;
  funcInfo?: readonly FuncInfoRecord[];
  readonly lines: LinkedLine[];
}

/** A program the kernel took. */
export interface Loaded {
  readonly pl: Planned;
  readonly fd: Fd;
  readonly log: string;
  linkFd?: Fd;
}

export class LoadContext {
  readonly k: KernelOps;
  readonly target: LoadTarget;
  readonly tracker: FdScope;
  readonly journal: PinJournal;
  /** Undone newest first when the load fails (struct_ops unregistration). */
  readonly undo: (() => void)[] = [];
  readonly warnings: string[] = [];
  stage: LoadStage = 'probe';

  // what the stages produce, in order
  progs: BpfProgram[] = [];
  readonly coreReports: CoreReloReport[] = [];
  planned: Planned[] = [];
  ext!: ExternValues;
  sets = new Map<string, Uint8Array>();
  readonly structOps = new Map<string, StructOpsPlan>();
  /** One FD number per map (a memfd until the map is dup3-ed onto it). */
  placeholders: Fd[] = [];
  objBtf?: Btf;
  btfFd?: Fd;
  created: CreatedMap[] = [];
  readonly loaded: Loaded[] = [];
  /** freplace: target FUNC id per extension program. */
  replace?: Map<string, number>;
  mapLinks = new Map<string, Fd>();
  /** struct_ops values with program FDs, by map name (LoadedMap.structOps). */
  readonly structOpsValues = new Map<string, { value: Uint8Array; link: boolean; notLoaded?: readonly string[] }>();
  readonly progPins = new Map<string, string>();
  readonly progLinkPins = new Map<string, string>();

  constructor(
    readonly obj: BpfObject,
    readonly opts: LoadOptions,
  ) {
    this.k = opts.kernel;
    this.tracker = this.k.trackFds();
    this.journal = new PinJournal(this.k);
    this.target = new LoadTarget(opts);
  }

  /** Reports a stage (or a program inside one) and gives the caller a turn (see loadObjectAsync). */
  *enter(stage: LoadStage, detail: string): Generator<void, void, void> {
    this.stage = stage;
    this.opts.onProgress?.(stage, detail);
    // While the caller has the event loop, FDs others open are not this load's to close.
    this.tracker.stop();
    try {
      yield;
    } finally {
      this.tracker.resume();
    }
  }

  progFd(name: string): Fd | undefined {
    return this.loaded.find((l) => l.pl.program.name === name)?.fd;
  }

  /** The load went through: stop tracking, close the kernel BTF FDs it opened. */
  done(): void {
    this.tracker.stop();
    this.target.close();
  }

  /** The load failed: unregister, unpin, close every FD it made. */
  rollback(): void {
    for (const u of this.undo.reverse()) {
      try {
        u();
      } catch {
        // best effort
      }
    }
    this.journal.undo();
    this.target.close();
    this.tracker.closeAll();
    this.tracker.stop();
  }
}
