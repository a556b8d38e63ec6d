/**
 * CO-RE relocations of an object computed against a target's BTF, as libbpf would at load
 * time, without loading: the relocations that do not resolve there, on their source lines.
 * The checks run in the language server's worker thread when it is there (parsing a kernel's
 * BTF and relocating a thousand objects would hold up hovers); results are kept per (object
 * file, mtime, target BTF).
 */
import { readRegularObject } from '../host/read-object';
import { checkCore, type CoreFinding } from '../targets/core-notes';
import type { LoadedObject } from './loaded';
import { type TargetBtfSource, targetBtfsOf } from './target-btf-source';
import type { Targets } from './targets';
import type { WorkerPool } from './worker-pool';

export type { CoreFinding } from '../targets/core-notes';

export interface CoreCheck {
  /** Every relocation, in `.BTF.ext` order (those whose status is not `ok` are the problems). */
  readonly relocations: readonly CoreFinding[];
  readonly ms: number;
}

/** Checks one object against one target, in whichever thread calls it (the worker's job too). */
export function computeCoreCheck(file: string, target: TargetBtfSource): CoreCheck {
  const t0 = performance.now();
  const btfs = targetBtfsOf(target);
  const bytes = readRegularObject(file, Number.MAX_SAFE_INTEGER);
  return { relocations: checkCore(bytes, file, btfs), ms: performance.now() - t0 };
}

export class CoreChecks {
  private readonly done = new Map<string, { key: string; check: Promise<CoreCheck> }>();

  constructor(private readonly pool?: WorkerPool) {}

  /** The object's CO-RE relocations against `target` (an object without any: none). */
  check(file: string, mtimeMs: number, target: TargetBtfSource): Promise<CoreCheck> {
    const key = `${mtimeMs}:${target.key}`;
    const have = this.done.get(file);
    if (have?.key === key) return have.check;
    const check = this.pool?.available
      ? this.pool.run<CoreCheck>({ kind: 'core', path: file, target })
      : // each check in its own turn of the event loop: a publish of many does not hold up hovers
        new Promise<void>((r) => setImmediate(r)).then(() => computeCoreCheck(file, target));
    this.done.set(file, { key, check });
    return check;
  }
}

/** CO-RE checks of objects against the selected target's BTF (bpfLens.coreDiagnostics). */
export class CoreOnTarget {
  enabled = true;
  private readonly checks: CoreChecks;
  /** Checks against other targets than the selected one (Load on All Targets), one cache each. */
  private readonly others = new Map<string, CoreChecks>();
  /** Failures already logged: a kernel without BTF would say so for every object on every publish. */
  private readonly logged = new Set<string>();

  constructor(
    private readonly targets: Targets,
    private readonly log: (msg: string) => void,
    private readonly pool?: WorkerPool,
  ) {
    this.checks = new CoreChecks(pool);
  }

  /** The check of one object (undefined: disabled, not a BPF object, or the target's BTF cannot be had). */
  async of(o: LoadedObject): Promise<{ target: string; check: CoreCheck } | undefined> {
    if (!this.enabled || o.error || !o.summary.programs.length) return undefined; // CO-RE lives in BPF objects only
    if (!o.summary.coreRelocations) return undefined; // nothing to check, and no target BTF to read for it
    const name = this.targets.selected;
    try {
      const source = await this.targets.btfSource(name);
      const info = this.targets.known(name);
      return { target: info ? `${name} (${info.release})` : name, check: await this.checks.check(o.path, o.mtimeMs, source) };
    } catch (e) {
      const msg = `CO-RE check on ${name}: ${(e as Error).message}`;
      if (!this.logged.has(msg)) this.log(`${msg} (${o.path})`);
      this.logged.add(msg);
      return undefined;
    }
  }

  /** The check of one object against a named target's BTF, whatever is selected (throws when its BTF cannot be had). */
  async onTarget(o: LoadedObject, name: string): Promise<CoreCheck> {
    if (!this.others.has(name)) this.others.set(name, new CoreChecks(this.pool));
    return this.others.get(name)!.check(o.path, o.mtimeMs, await this.targets.btfSource(name));
  }
}
