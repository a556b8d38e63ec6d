/**
 * Resolving externs against the target, as libbpf's bpf_object__resolve_externs: kconfig
 * values into the `.kconfig` map's bytes (weak ones missing → 0), typed ksyms to a VAR's BTF id
 * in vmlinux or a module (with that module's BTF FD), typeless ksyms to their /proc/kallsyms
 * address, kfuncs to a FUNC's BTF id (module kfuncs through fd_array; a `___flavor` suffix
 * dropped; a prototype that does not match the kernel's leaves a weak kfunc unresolved). A strong extern that
 * the target lacks stops the load with every such extern named.
 */
import type { Btf } from '../btf/btf';
import type { Fd } from '../kernel';
import type { BpfExtern, BpfObject } from '../object/model';
import { essentialName } from '../core';
import { skipToType } from '../core/btf-util';
import { typesAreCompat } from '../core/compat';
import { encodeKcfgValue, kcfgType } from './kconfig';
import { LoadError } from './types';

export interface ResolvedExtern {
  readonly name: string;
  readonly kind: BpfExtern['kind'];
  /** Index in obj.externs (libbpf's ext_idx, used by kfunc poisoning). */
  readonly index: number;
  /** kconfig: offset in the .kconfig map value. */
  readonly offset: number;
  /** ksym/kfunc: BTF id in the target (0 when not found or typeless). */
  readonly btfId: number;
  /** ksym: the module BTF's FD (0 for vmlinux). */
  readonly btfObjFd: number;
  /** kfunc: index into fd_array (0 for vmlinux). */
  readonly fdIndex: number;
  /** typeless ksym address (0 when missing). */
  readonly addr: bigint;
}

export interface ExternValues {
  readonly byName: ReadonlyMap<string, ResolvedExtern>;
  /** obj.maps index of `.kconfig`, when there is one. */
  readonly kconfigMapIndex?: number;
  /** The `.kconfig` map's value with every kconfig extern filled in. */
  readonly kconfigData?: Uint8Array;
  /** fd_array for programs: [0, module BTF FDs...] ([] when no module kfunc is used). */
  readonly fdArray: readonly Fd[];
}

/** What resolving needs from the target; each is called only when an extern needs it. */
export interface ExternTarget {
  /** [vmlinux, ...modules] BTFs with names. */
  readonly btfs: () => readonly { readonly name: string; readonly btf: Btf }[];
  /** FD of a kernel BTF object by name (modules only). */
  readonly btfFd: (name: string) => Fd;
  /** CONFIG_* values of the target. */
  readonly kconfig: () => ReadonlyMap<string, string>;
  /** One of libbpf's LINUX_* values (LINUX_KERNEL_VERSION...), as config text; undefined if unknown. */
  readonly linuxValue: (name: string) => string | undefined;
  /** Address of a kernel symbol from /proc/kallsyms. */
  readonly kallsyms: (name: string) => bigint | undefined;
}

function findIn(btfs: readonly { name: string; btf: Btf }[], kind: 'VAR' | 'FUNC', name: string): { btf: string; id: number } | undefined {
  for (const { name: bname, btf } of btfs) {
    for (const id of btf.byName(name)) {
      if (id < btf.startId) continue; // a module's base (vmlinux) was searched first
      if (btf.get(id)?.kind === kind) return { btf: bname, id };
    }
  }
  return undefined;
}

/**
 * libbpf's type check of a resolved ksym (the kernel VAR's type) or kfunc (its FUNC_PROTO)
 * against the declaration: a message when they are not compatible. A weak kfunc that does
 * not match stays unresolved (so a flavor with another prototype is skipped); a ksym fails.
 */
function incompatible(local: Btf, e: BpfExtern, kernel: Btf, id: number): string | undefined {
  const t = kernel.get(id);
  if (e.typeId === undefined || !t || (t.kind !== 'FUNC' && t.kind !== 'VAR')) return undefined;
  if (typesAreCompat(local, skipToType(local, e.typeId), kernel, skipToType(kernel, t.type))) return undefined;
  const what = e.kind === 'kfunc' ? 'func_proto' : 'type';
  return `extern (${e.kind}) '${e.name}': ${what} [${e.typeId}] incompatible with the kernel's [${t.type}]`;
}

export function resolveExterns(obj: BpfObject, target: ExternTarget): ExternValues {
  const byName = new Map<string, ResolvedExtern>();
  const problems: string[] = [];
  const fdArray: Fd[] = [];
  const fdIndexOf = (module: string): number => {
    const fd = target.btfFd(module);
    if (fdArray.length === 0) fdArray.push(0);
    let i = fdArray.indexOf(fd, 1);
    if (i < 0) i = fdArray.push(fd) - 1;
    return i;
  };
  const kconfigMapIndex = obj.maps.findIndex((m) => m.kind === 'kconfig');
  const kcMap = kconfigMapIndex >= 0 ? obj.maps[kconfigMapIndex] : undefined;
  const kconfigData = kcMap ? new Uint8Array(kcMap.valueSize) : undefined;
  obj.externs.forEach((e, index) => {
    const base = { name: e.name, kind: e.kind, index, offset: 0, btfId: 0, btfObjFd: 0, fdIndex: 0, addr: 0n };
    if (e.kind === 'kconfig') {
      const linux = e.name.startsWith('LINUX_');
      const value = linux ? target.linuxValue(e.name) : target.kconfig().get(e.name);
      if (linux && value === undefined && !e.weak) problems.push(`extern (kcfg) '${e.name}': not a LINUX_* value libbpf provides`);
      if (value !== undefined && kconfigData && obj.btf && e.typeId !== undefined) {
        const t = kcfgType(obj.btf, e.typeId);
        if (!t) problems.push(`extern (kcfg) '${e.name}': unsupported C type for a kconfig value`);
        else {
          try {
            const bytes = encodeKcfgValue(e.name, t, value, obj.littleEndian);
            kconfigData.set(bytes.subarray(0, Math.max(0, Math.min(bytes.length, kconfigData.length - (e.offset ?? 0)))), e.offset ?? 0);
          } catch (err) {
            problems.push((err as Error).message);
          }
        }
      } else if (value === undefined && !e.weak && !linux) {
        problems.push(`extern (kcfg) '${e.name}': the target's kernel config has no value for it (declare it __weak to default to 0)`);
      }
      byName.set(e.name, { ...base, offset: e.offset ?? 0 });
      return;
    }
    if (e.kind === 'ksym' && e.typeless) {
      const addr = target.kallsyms(e.name);
      if (addr === undefined && !e.weak) problems.push(`extern (ksym) '${e.name}': not in /proc/kallsyms of the target`);
      byName.set(e.name, { ...base, addr: addr ?? 0n });
      return;
    }
    const btfs = target.btfs();
    // a kfunc declared with a flavor (`bpf_task_acquire___one`) names the unsuffixed kernel function
    const found = findIn(btfs, e.kind === 'kfunc' ? 'FUNC' : 'VAR', e.kind === 'kfunc' ? essentialName(e.name) : e.name);
    const clash = found && obj.btf ? incompatible(obj.btf, e, btfs.find((b) => b.name === found.btf)!.btf, found.id) : undefined;
    if (clash) {
      if (!(e.kind === 'kfunc' && e.weak)) problems.push(clash);
      byName.set(e.name, base);
      return;
    }
    if (!found) {
      if (!e.weak)
        problems.push(
          `extern (${e.kind}) '${e.name}': no ${e.kind === 'kfunc' ? 'FUNC' : 'VAR'} of that name in the target's vmlinux or module BTF`,
        );
      byName.set(e.name, base);
      return;
    }
    const module = found.btf !== 'vmlinux';
    if (e.kind === 'kfunc') byName.set(e.name, { ...base, btfId: found.id, fdIndex: module ? fdIndexOf(found.btf) : 0 });
    else byName.set(e.name, { ...base, btfId: found.id, btfObjFd: module ? target.btfFd(found.btf) : 0 });
  });
  if (problems.length)
    throw new LoadError(problems.length === 1 ? problems[0] : `unresolved externs:\n  ${problems.join('\n  ')}`, 'relocate');
  return { byName, ...(kconfigMapIndex >= 0 ? { kconfigMapIndex, kconfigData } : {}), fdArray };
}

/** Address of `name` in /proc/kallsyms text (first match, as libbpf). */
export function parseKallsyms(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const parts = line.split(/\s+/);
    if (parts.length < 3) continue;
    const name = parts[2];
    if (!out.has(name)) out.set(name, BigInt(`0x${parts[0]}`));
  }
  return out;
}
