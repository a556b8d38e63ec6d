/**
 * Pinning: maps with `pinning = LIBBPF_PIN_BY_NAME` under the pin root (an existing pin is
 * reused only when it matches on every field libbpf checks — type, key and value size,
 * max_entries, flags, map_extra — and refused naming the first field that differs), and
 * programs under `--pin DIR`. Everything pinned by a load is recorded so a failed load can
 * remove it again.
 */
import type { KernelOps, MapCreateAttr, MapInfo } from '../kernel';
import { mapTypeName } from '../object';

/** What a load pinned (files) and made (directories), newest last; undo() removes them. */
export class PinJournal {
  private readonly files: string[] = [];
  private readonly dirs: string[] = [];

  constructor(private readonly k: KernelOps) {}

  pinned(path: string): void {
    this.files.push(path);
  }

  /** mkdir -p, remembering each directory it created. */
  ensureDir(dir: string): void {
    this.dirs.push(...this.k.makeDirs(dir));
  }

  get paths(): readonly string[] {
    return this.files;
  }

  /** Removes every pin and directory this load made (best effort: each one is tried). */
  undo(): void {
    for (const f of this.files.splice(0).reverse()) {
      try {
        this.k.unpin(f);
      } catch {
        // already gone
      }
    }
    // a directory that is not empty (someone else's pins) stays
    for (const d of this.dirs.splice(0).reverse()) this.k.removeDir(d);
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
