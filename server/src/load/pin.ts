/**
 * Pinning: maps with `pinning = LIBBPF_PIN_BY_NAME` under the pin root (an existing pin is
 * reused only when it matches on every field libbpf checks — type, key and value size,
 * max_entries, flags, map_extra — and refused naming the first field that differs), and
 * programs under `--pin DIR`, all-or-nothing (PinJournal). Everything pinned by a load is
 * recorded so a failed load can remove it again.
 */
import type { Fd, KernelOps, MapCreateAttr, MapInfo } from '../kernel';
import { mapTypeName } from '../object';
import type { LoadResult } from './types';

/** Names of a load's temporary pins: `bpf-lens-tmp-<pid namespace>-<pid>-<n>` (bpffs refuses dots). */
const TMP = /^bpf-lens-tmp-(\d+)-(\d+)-\d+$/;

/** The folder a pin path goes in: '/' at the root, '.' for a bare name (relative to the working directory). */
export function parentDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i);
}

/**
 * A load's pins, all-or-nothing. Each pin is made under a temporary name in its final
 * directory (or, for `--pin DIR` when DIR is new, inside a temporary directory beside it)
 * and commit() renames them into place at the end of the load (rename(2) NOREPLACE, atomic
 * in bpffs). A load killed before then leaves only temporary names; the next load that pins
 * into the same directory removes those whose process is gone. undo() removes what the load
 * made — temporary pins, pins already renamed, directories it created.
 */
export class PinJournal {
  /** Temporary path → final path. */
  private readonly staged: [string, string][] = [];
  private readonly committed: string[] = [];
  private readonly dirs: string[] = [];
  /** `--pin DIR` made whole: DIR → the temporary directory its pins go to. */
  private readonly stagedDirs = new Map<string, string>();
  private readonly swept = new Set<string>();
  private readonly prefix: string;
  private seq = 0;

  constructor(
    private readonly k: KernelOps,
    pid = process.pid,
  ) {
    this.prefix = `bpf-lens-tmp-${k.pidNamespace()}-${pid}-`;
  }

  /** mkdir -p, remembering each directory it created. */
  ensureDir(dir: string): void {
    this.dirs.push(...this.k.makeDirs(dir));
  }

  /**
   * Pins of `dir` (`--pin DIR`) go in together: when DIR does not exist yet, they are made
   * in a temporary directory that commit() renames to DIR in one step.
   */
  stageDir(dir: string): void {
    dir = dir.replace(/\/+$/, '');
    if (this.k.pathExists(dir)) return;
    const parent = parentDir(dir);
    this.ensureDir(parent);
    this.sweep(parent);
    const tmp = this.tmpPath(parent);
    this.k.makeDirs(tmp);
    this.stagedDirs.set(dir, tmp);
  }

  /** Pins `fd` to appear at `path` when the load commits. */
  pin(fd: Fd, path: string, context: string): void {
    const dir = path.slice(0, path.lastIndexOf('/'));
    const inStagedDir = this.stagedDirs.get(dir);
    if (inStagedDir) {
      this.k.objPin(fd, `${inStagedDir}${path.slice(dir.length)}`, context);
      return;
    }
    this.ensureDir(dir);
    this.sweep(dir);
    const tmp = this.tmpPath(dir);
    this.k.objPin(fd, tmp, context);
    this.staged.push([tmp, path]);
  }

  /**
   * Removes what dead loads left in `dirs` (the directories this load will pin into) before the
   * load makes anything: one that fails or is stopped before its pin stage clears them too.
   */
  sweepAhead(dirs: readonly string[]): void {
    for (const d of dirs) this.sweep(d.replace(/\/+$/, '') || '/');
  }

  /** Moves every pin to its final name (EEXIST when someone else took a name meanwhile). */
  commit(): void {
    while (this.staged.length) {
      const [tmp, path] = this.staged[0];
      this.k.renamePin(tmp, path, `pin ${path}`);
      this.staged.shift();
      this.committed.push(path);
    }
    for (const [dir, tmp] of this.stagedDirs) {
      this.k.renamePin(tmp, dir, `pin ${dir}`);
      this.stagedDirs.delete(dir);
      this.dirs.push(dir);
      this.committed.push(dir);
    }
  }

  /** Removes every pin and directory this load made (best effort: each one is tried). */
  undo(): void {
    const paths = [...this.stagedDirs.values(), ...this.staged.splice(0).map(([t]) => t), ...this.committed.splice(0)];
    this.stagedDirs.clear();
    for (const p of paths.reverse()) {
      try {
        this.k.removeTree(p);
      } catch {
        // already gone
      }
    }
    // a directory that is not empty (someone else's pins) stays
    for (const d of this.dirs.splice(0).reverse()) this.k.removeDir(d);
  }

  private tmpPath(dir: string): string {
    return `${dir}/${this.prefix}${++this.seq}`;
  }

  /** Removes the temporary pins of loads (of this PID namespace) whose process is gone. */
  private sweep(dir: string): void {
    if (this.swept.has(dir)) return;
    this.swept.add(dir);
    const ns = this.k.pidNamespace();
    for (const name of this.k.listDir(dir)) {
      const m = TMP.exec(name);
      if (!m || m[1] !== ns || this.k.processAlive(Number(m[2]))) continue;
      try {
        this.k.removeTree(`${dir}/${name}`);
      } catch {
        // another load swept it first
      }
    }
  }
}

/** The first field where a pinned map differs from the one this object would create, or undefined. */
export function pinMismatch(info: MapInfo, want: MapCreateAttr): string | undefined {
  const checks: [string, unknown, unknown][] = [
    ['type', mapTypeName(info.type), mapTypeName(want.map_type)],
    ['key_size', info.keySize, want.key_size],
    ['value_size', info.valueSize, want.value_size],
    ['max_entries', info.maxEntries, want.max_entries],
    ['map_flags', info.mapFlags, want.map_flags ?? 0],
    ['map_extra', info.mapExtra, want.map_extra ?? 0n],
  ];
  for (const [field, have, wanted] of checks) {
    if (have !== wanted) return `${field} is ${String(have)} there, the object wants ${String(wanted)}`;
  }
  return undefined;
}

/**
 * Removes what a finished load pinned: programs and their links (`--pin`), maps it created
 * (`pinning = LIBBPF_PIN_BY_NAME`); a pinned map it reused was there before and stays. For
 * loads that are checks (verify, the load matrix, test runs): libbpf never unpins by itself.
 */
export function unpinLoad(
  k: Pick<KernelOps, 'unpin'>,
  r: Pick<LoadResult, 'programs' | 'maps'>,
  what: { readonly maps: boolean; readonly programs: boolean },
): string[] {
  const paths = [
    ...(what.programs ? r.programs.flatMap((p) => [p.pinnedAt, p.linkPinnedAt]) : []),
    ...(what.maps ? r.maps.filter((m) => !m.reused).map((m) => m.pinnedAt) : []),
  ];
  const done: string[] = [];
  for (const p of paths) {
    if (!p) continue;
    try {
      k.unpin(p);
      done.push(p);
    } catch {
      // not ours to remove any more (a permission change); the rest still go
    }
  }
  return done;
}
