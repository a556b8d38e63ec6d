/**
 * Where a target's BTF for CO-RE is, said as plain data, so that a worker thread can read and
 * parse it (vmlinux plus modules takes ~100 ms and tens of MB) instead of the server thread.
 * Parsed BTFs are kept per key, a few targets at most, in whichever thread parses them.
 */
import { readFileSync } from 'fs';
import { btfFromBytes } from '../btf/input';
import type { TargetBtf } from '../core';
import { sysfsKernelBtfs } from '../kernel/sysfs-btf';

export type TargetBtfSource =
  /** This machine's kernel: vmlinux and its modules, as libbpf searches them. */
  | { readonly key: string; readonly sysfs: true }
  /** One BTF file: an offline target's, or the copy of a remote target's vmlinux BTF. */
  | { readonly key: string; readonly file: string; readonly name: string; readonly label: string };

/** Targets kept parsed: the selected one and a few others of Load on All Targets. */
const KEEP = 4;
const parsed = new Map<string, readonly TargetBtf[]>();

/** The target's BTFs ([vmlinux, ...modules]), parsed once per key. */
export function targetBtfsOf(source: TargetBtfSource): readonly TargetBtf[] {
  let btfs = parsed.get(source.key);
  if (btfs) {
    parsed.delete(source.key); // most recently used last
  } else {
    btfs = 'sysfs' in source ? sysfsKernelBtfs() : [{ name: source.name, btf: btfFromBytes(readFileSync(source.file), source.label) }];
    while (parsed.size >= KEEP) parsed.delete(parsed.keys().next().value!);
  }
  parsed.set(source.key, btfs);
  return btfs;
}
