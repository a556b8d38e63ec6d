/**
 * Externs the loader resolves: `.kconfig` values (CONFIG_*, LINUX_KERNEL_VERSION...), `.ksyms`
 * kernel variables and kfuncs. Kconfig offsets follow libbpf's layout of the `.kconfig` map
 * (largest alignment first, then smaller size, then name).
 */
import type { Btf } from '../btf/btf';
import { alignOf, sizeOf } from '../btf/layout';
import type { BtfDatasec } from '../btf/types';
import { SHN_UNDEF, STB_GLOBAL, STB_WEAK } from '../elf/constants';
import type { ElfFile } from '../elf/reader';
import type { BpfExtern, ObjectDiagnostic } from './model';
import { skipModsAndTypedefs } from '../btf/skip-mods';

function datasecOf(btf: Btf, varId: number): string | undefined {
  for (const name of ['.kconfig', '.ksyms']) {
    const ds = btf.find('DATASEC', name) as BtfDatasec | undefined;
    if (ds?.vars.some((v) => v.type === varId)) return name;
  }
  return undefined;
}

function safe(f: () => number, fallback: number): number {
  try {
    return f();
  } catch {
    return fallback;
  }
}

export function collectExterns(elf: ElfFile, btf: Btf | undefined, diags: ObjectDiagnostic[]): BpfExtern[] {
  const raw: BpfExtern[] = [];
  for (const y of elf.symbols) {
    if (y.shndx !== SHN_UNDEF || !y.name || (y.bind !== STB_GLOBAL && y.bind !== STB_WEAK)) continue;
    const weak = y.bind === STB_WEAK;
    if (!btf) {
      diags.push({
        severity: 'error',
        extern: y.name,
        message: `extern '${y.name}': BTF is required to resolve externs, but the object has none`,
      });
      continue;
    }
    const ids = btf.byName(y.name).filter((id) => {
      const t = btf.get(id);
      return (t?.kind === 'VAR' || t?.kind === 'FUNC') && t.linkage === 2;
    });
    if (ids.length === 0) {
      diags.push({ severity: 'error', extern: y.name, message: `extern '${y.name}': no extern VAR or FUNC of that name in BTF` });
      continue;
    }
    const id = ids[0];
    const t = btf.get(id)!;
    if (t.kind === 'FUNC') {
      raw.push({ name: y.name, kind: 'kfunc', weak, btfId: id, typeId: t.type });
      continue;
    }
    if (t.kind !== 'VAR') continue;
    const sec = datasecOf(btf, id);
    if (sec === '.kconfig') {
      raw.push({
        name: y.name,
        kind: 'kconfig',
        weak,
        btfId: id,
        typeId: t.type,
        size: safe(() => sizeOf(btf, t.type), 0),
        offset: safe(() => alignOf(btf, t.type), 1),
      });
    } else if (sec === '.ksyms') {
      const [, target] = skipModsAndTypedefs(btf, t.type);
      raw.push({ name: y.name, kind: 'ksym', weak, btfId: id, typeId: t.type, typeless: target === undefined });
    } else {
      diags.push({ severity: 'error', extern: y.name, message: `extern '${y.name}': not in .kconfig or .ksyms (use __kconfig or __ksym)` });
    }
  }
  return layoutKconfig(raw);
}

/** Assigns kconfig offsets (`offset` carries the alignment until here) and sorts as libbpf does. */
function layoutKconfig(externs: BpfExtern[]): BpfExtern[] {
  const kc = externs.filter((e) => e.kind === 'kconfig');
  kc.sort((a, b) => b.offset! - a.offset! || a.size! - b.size! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let off = 0;
  const placed = new Map<string, BpfExtern>();
  for (const e of kc) {
    const align = Math.max(1, e.offset!);
    off = Math.ceil(off / align) * align;
    placed.set(e.name, { ...e, offset: off });
    off += e.size!;
  }
  // libbpf's order (cmp_externs), which gives a kfunc its index (and so its poisoned call's
  // imm): kconfig first as laid out, then ksyms and kfuncs by name
  const byName = (a: BpfExtern, b: BpfExtern) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const rest = externs.filter((e) => e.kind !== 'kconfig').sort(byName);
  return [...kc.map((e) => placed.get(e.name)!), ...rest];
}
