/**
 * The workspace index: which objects exist (by the `bpfLens.objects` globs), their parsed
 * contents (cached by path, size and mtime: each object is parsed once), and which C
 * sources each object was built from (BTF.ext line_info file names).
 *
 * Scans and loads are async and yield to the event loop between files, so requests are
 * answered while a large workspace is being indexed.
 */
import { type Dirent, existsSync, promises as fsp, readdirSync, statSync, type Stats } from 'fs';
import * as path from 'path';
import { PathFilter } from './glob';
import { ScanQueue } from './scan-queue';
import { TimeSlice } from './time-slice';
import { loadObject, type LoadedObject, type LoadOptions, readSourceLines, readSourceLinesNow, type SourceLines } from './loaded';
import type { WorkerPool } from './worker-pool';

export interface IndexSettings {
  readonly objects: readonly string[];
  readonly exclude: readonly string[];
  readonly maxObjectSize: number;
}

export const DEFAULT_SETTINGS: IndexSettings = {
  objects: ['**/*.o', '**/*.ko'],
  exclude: ['**/node_modules/**', '**/.git/**'],
  maxObjectSize: 256 << 20,
};

/** More files than this in one folder walk and the walk stops (a home directory opened by mistake). */
const MAX_WALK_FILES = 200_000;
const SOURCE_RE = /\.(c|h)$/;
/**
 * Objects of the open sources read on this thread as a scan starts (the first costs ~10–20 ms
 * with the code still cold, the next ~1–5 ms): enough for a few open files, never a long stall.
 */
const FIRST_READS = 8;

/** One read of each C source for a whole scan (objects built from the same source share it). */
function sharedSourceLines(): SourceLines {
  const seen = new Map<string, Promise<string[] | undefined>>();
  return (file) => {
    let lines = seen.get(file);
    if (!lines) seen.set(file, (lines = readSourceLines(file)));
    return lines;
  };
}

export class WorkspaceIndex {
  private readonly objects = new Map<string, LoadedObject>();
  /** Absolute source path → objects built from it. */
  private readonly bySource = new Map<string, Set<string>>();
  /** Base name → C files in the workspace, to link line_info names that are not absolute. */
  private readonly sourcesByBase = new Map<string, string[]>();
  private filter: PathFilter;
  /** Objects read on demand (not matched by the globs), e.g. a vmlinux BTF for the tree. */
  private readonly extra = new Map<string, LoadedObject>();
  /** During a scan: each absolute line_info name, normalized if it exists, else null. */
  private existingNames?: Map<string, string | null>;
  /** The objects of the running scan, and when they are known (the folders walked). */
  private queue?: ScanQueue;
  private walked?: Promise<void>;

  constructor(
    private folders: string[],
    private settings: IndexSettings = DEFAULT_SETTINGS,
    /** Worker threads that read and parse objects (without: on this thread). */
    private readonly pool?: WorkerPool,
  ) {
    this.filter = new PathFilter(settings.objects, settings.exclude);
  }

  configure(folders: string[], settings: IndexSettings): void {
    // resolved once (no trailing separator but at the root): the walk joins names to them by hand
    this.folders = folders.map((f) => path.resolve(f));
    this.settings = settings;
    this.filter = new PathFilter(settings.objects, settings.exclude);
  }

  all(): LoadedObject[] {
    return [...this.objects.values()].sort((a, b) => a.path.localeCompare(b.path));
  }

  get(p: string): LoadedObject | undefined {
    return this.objects.get(p) ?? this.extra.get(p);
  }

  /** The object at `p`, read now if it is not indexed (any readable path). */
  async open(p: string): Promise<LoadedObject> {
    const have = this.get(p);
    const st = await fsp.stat(p);
    if (have && have.mtimeMs === st.mtimeMs && have.size === st.size) return have;
    const o = await loadObject(p, st, this.loadOptions(p));
    if (this.objects.has(p)) this.setObject(o);
    else this.extra.set(p, o);
    return o;
  }

  /** Objects linked to a C source (absolute path). */
  objectsFor(source: string): LoadedObject[] {
    const paths = this.bySource.get(source);
    return paths ? [...paths].map((p) => this.objects.get(p)!).filter(Boolean) : [];
  }

  sources(): string[] {
    return [...this.bySource.keys()];
  }

  /** Does this workspace-relative or absolute path match the object globs? */
  isObjectPath(abs: string): boolean {
    const folder = this.folders.find((f) => abs === f || abs.startsWith(f + path.sep));
    return folder !== undefined && this.filter.matches(path.relative(folder, abs).split(path.sep).join('/'));
  }

  /**
   * Walks every folder; loads new and changed objects, drops vanished ones. Returns changed paths.
   * The objects that look built from the files `first` names once the walk is done (the sources
   * open in the editor) are read at once on this thread while the readers take the rest: a
   * hover the user makes there does not wait for a reader.
   */
  async scan(first: () => readonly string[] = () => []): Promise<string[]> {
    let walked = () => {};
    this.walked = new Promise<void>((r) => (walked = r));
    try {
      const found = new Set<string>();
      this.sourcesByBase.clear();
      const walk = { n: 0, slice: new TimeSlice() };
      for (const folder of this.folders) await this.walk(folder, '', found, walk);
      const changed: string[] = [];
      for (const p of [...this.objects.keys()]) {
        if (!found.has(p)) {
          this.remove(p);
          changed.push(p);
        }
      }
      const fresh = new Set<string>();
      this.existingNames = new Map();
      this.queue = new ScanQueue([...found]);
      walked();
      await this.readQueue(this.queue, first(), fresh);
      changed.push(...[...found].filter((p) => fresh.has(p)));
      return changed;
    } finally {
      walked();
      this.walked = this.existingNames = this.queue = undefined;
    }
  }

  /**
   * Reads the scan's objects (adding the changed ones to `fresh`): the readers take them in turn,
   * while this thread reads those of the `open` files first.
   */
  private async readQueue(queue: ScanQueue, open: readonly string[], fresh: Set<string>): Promise<void> {
    const now: string[] = [];
    for (const s of open) now.push(...queue.takeFirst(s, FIRST_READS - now.length).take);
    // Several objects in flight: one's reads overlap the parsing of another.
    const lines = sharedSourceLines();
    // started first: the readers get their jobs before this thread reads
    const rest = queue.run(this.pool?.available ? this.pool.lanes * 8 : 1, async (p) => {
      if (await this.refresh(p, lines)) fresh.add(p);
    });
    try {
      for (const p of now) if (await this.refresh(p, readSourceLinesNow, false)) fresh.add(p);
    } finally {
      await rest;
    }
  }

  private loadOptions(p: string, sourceLines?: SourceLines, inWorker = true): LoadOptions {
    return {
      maxSize: this.settings.maxObjectSize,
      resolveSource: (name) => this.resolveSource(p, name),
      ...(sourceLines ? { sourceLines } : {}),
      ...(this.pool && inWorker ? { pool: this.pool } : {}),
    };
  }

  /**
   * During a scan: reads the objects that look built from `source` now, on this thread (the
   * readers may be starting or busy), and waits for those being read.
   */
  async readFirst(source: string): Promise<void> {
    await this.walked;
    const q = this.queue;
    if (!q) return;
    const { take, reading } = q.takeFirst(source);
    for (const p of take) await this.refresh(p, readSourceLinesNow, false);
    await reading;
  }

  /**
   * `rel` is `dir` relative to the folder, '/'-separated ('' at the top): built as the walk
   * descends, not per entry. Each folder is read at once, and the walk yields between slices:
   * an async read per folder cost a thousand-object workspace ~15 ms of round trips through
   * libuv's threads, which a hover sent at the start waited for.
   */
  private async walk(dir: string, rel: string, found: Set<string>, walk: { n: number; slice: TimeSlice }): Promise<void> {
    await walk.slice.next();
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++walk.n > MAX_WALK_FILES) return;
      const abs = dir.endsWith(path.sep) ? dir + e.name : dir + path.sep + e.name;
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!this.filter.excluded(relPath)) await this.walk(abs, relPath, found, walk);
      } else if (e.isFile()) {
        if (this.filter.matches(relPath)) found.add(abs);
        else if (SOURCE_RE.test(e.name) && !this.filter.excluded(relPath)) {
          const list = this.sourcesByBase.get(e.name) ?? [];
          list.push(abs);
          this.sourcesByBase.set(e.name, list);
        }
      }
    }
  }

  /** Re-reads one object if it changed on disk (or was removed). True if anything changed. */
  async refresh(p: string, lines: SourceLines = readSourceLines, inWorker = true): Promise<boolean> {
    let st: Stats;
    try {
      st = statSync(p); // a stat does not block; a thousand async ones wait on the thread pool
    } catch {
      if (!this.objects.has(p)) return false;
      this.remove(p);
      return true;
    }
    const have = this.objects.get(p);
    if (have && have.mtimeMs === st.mtimeMs && have.size === st.size) return false;
    this.setObject(await loadObject(p, st, this.loadOptions(p, lines, inWorker)));
    return true;
  }

  /** A file event for a path: an object changed, or a source appeared. */
  async fileChanged(p: string): Promise<boolean> {
    if (this.isObjectPath(p)) return this.refresh(p);
    if (this.extra.has(p)) this.extra.delete(p);
    return false;
  }

  private setObject(o: LoadedObject): void {
    this.remove(o.path);
    this.objects.set(o.path, o);
    for (const s of o.sources) {
      let set = this.bySource.get(s);
      if (!set) this.bySource.set(s, (set = new Set()));
      set.add(o.path);
    }
  }

  private remove(p: string): void {
    const o = this.objects.get(p);
    if (!o) return;
    this.objects.delete(p);
    for (const s of o.sources) {
      const set = this.bySource.get(s);
      set?.delete(p);
      if (set && set.size === 0) this.bySource.delete(s);
    }
  }

  /**
   * `file` (absolute) normalized if it exists, else null; asked once per scan, since a thousand
   * objects name the same few sources.
   */
  private existing(file: string): string | null {
    let e = this.existingNames?.get(file);
    if (e === undefined) {
      e = existsSync(file) ? path.normalize(file) : null;
      this.existingNames?.set(file, e);
    }
    return e;
  }

  /**
   * Where a line_info file name lives: as written when it exists, else next to the object or
   * in a workspace folder, else the first workspace C file with that base name.
   */
  resolveSource(objectPath: string, name: string): string | undefined {
    // Built elsewhere (another checkout, a container): the absolute name may not exist here.
    const here = path.isAbsolute(name) ? this.existing(name) : null;
    if (here) return here;
    const candidates = [path.dirname(objectPath), ...this.folders].map((d) => path.resolve(d, name));
    const near = this.sourcesByBase.get(path.basename(name)) ?? [];
    const hit = candidates.find((c) => near.includes(c));
    if (hit) return hit;
    return near.length >= 1 ? near[0] : undefined;
  }
}
