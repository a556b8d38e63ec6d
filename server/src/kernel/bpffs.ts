// The BPF filesystem side of pinning: directories made for pins, pins removed and renamed,
// a directory's entries. Plain file system calls, kept here so a load reaches bpffs (like
// bpf(2)) only through KernelOps.
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'fs';
import { renameNoReplace } from './sys';

/** mkdir -p; returns the directories it created, outermost first. */
export function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let d = dir.replace(/\/+$/, ''); d && !existsSync(d); d = d.slice(0, d.lastIndexOf('/'))) missing.unshift(d);
  mkdirSync(dir, { recursive: true });
  return missing;
}

/** Removes a pin (no error when it is already gone). */
export function unpin(path: string): void {
  rmSync(path, { force: true });
}

/** Removes an empty directory; false when it is not empty or gone. */
export function removeDir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Moves a pin to its final name, atomically, never over an existing one (KernelError EEXIST). */
export function renamePin(from: string, to: string, context = ''): void {
  renameNoReplace(from, to, context);
}

/** Entry names of a directory (empty when it does not exist). */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function pathExists(path: string): boolean {
  return existsSync(path);
}

/** Removes a pin or a whole directory of pins (temporary ones a dead load left). */
export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
