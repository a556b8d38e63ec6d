/**
 * What an object leaves for a linker to resolve and what it offers: its undefined global
 * symbols (externs, by kind) and its defined global symbols. The editor uses it to show,
 * for each object, where each extern resolves among the objects of the workspace — the
 * same rule the linker applies (a strong definition first, else a weak one).
 */
import { SHN_UNDEF, STB_LOCAL, STB_WEAK, STT_SECTION } from '../elf/constants';
import type { BpfObject } from '../object/model';

export type LinkExternKind = 'function' | 'variable' | 'map' | 'kconfig' | 'ksym' | 'kfunc';

export interface LinkExtern {
  readonly name: string;
  readonly kind: LinkExternKind;
  readonly weak: boolean;
}

export interface LinkDefinition {
  readonly name: string;
  readonly weak: boolean;
}

/**
 * Every extern of `obj`, classified as the linker does: by the DATASEC its BTF sits in
 * (`.kconfig`, `.ksyms` are the kernel's; anything else is for a linker to resolve). The
 * object model calls every extern function a kfunc, as libbpf's loader must once linking is
 * over; before linking, only those in `.ksyms` are.
 */
export function objectExterns(obj: BpfObject): LinkExtern[] {
  const btf = obj.btf;
  const secOf = new Map<number, string>();
  if (btf) for (const t of btf.types) if (t.kind === 'DATASEC') for (const v of t.vars) secOf.set(v.type, t.name);
  const out: LinkExtern[] = [];
  for (const y of obj.elf.symbols) {
    if (y.index === 0 || y.shndx !== SHN_UNDEF || y.bind === STB_LOCAL || !y.name) continue;
    const t = btf
      ?.byName(y.name)
      .map((id) => btf.type(id))
      .find((x) => (x.kind === 'FUNC' || x.kind === 'VAR') && x.linkage !== 0);
    const sec = t ? secOf.get(t.id) : undefined;
    const kind: LinkExternKind =
      sec === '.kconfig'
        ? 'kconfig'
        : sec === '.ksyms'
          ? t?.kind === 'FUNC'
            ? 'kfunc'
            : 'ksym'
          : t?.kind === 'FUNC'
            ? 'function'
            : sec === '.maps'
              ? 'map'
              : 'variable';
    out.push({ name: y.name, kind, weak: y.bind === STB_WEAK });
  }
  return out;
}

/** Every global symbol `obj` defines (functions, variables, maps). */
export function objectDefinitions(obj: BpfObject): LinkDefinition[] {
  return obj.elf.symbols
    .filter(
      (y) =>
        y.index > 0 &&
        y.shndx !== SHN_UNDEF &&
        y.bind !== STB_LOCAL &&
        y.type !== STT_SECTION &&
        y.name &&
        obj.elf.sections[y.shndx]?.name !== 'license' &&
        obj.elf.sections[y.shndx]?.name !== 'version',
    )
    .map((y) => ({ name: y.name, weak: y.bind === STB_WEAK }));
}

/** Where each global symbol is defined among `objects`: a strong definition first, else the first weak one. */
export function definitionsAcross(
  objects: readonly { readonly path: string; readonly defines?: readonly LinkDefinition[] }[],
): (name: string) => string | undefined {
  const strong = new Map<string, string>();
  const weak = new Map<string, string>();
  for (const o of objects)
    for (const d of o.defines ?? []) {
      const m = d.weak ? weak : strong;
      if (!m.has(d.name)) m.set(d.name, o.path);
    }
  return (name) => strong.get(name) ?? weak.get(name);
}

/** Externs the kernel resolves (kconfig, ksyms, kfuncs): no object defines them. */
export function isKernelExtern(kind: string): boolean {
  return kind === 'kconfig' || kind === 'ksym' || kind === 'kfunc';
}
