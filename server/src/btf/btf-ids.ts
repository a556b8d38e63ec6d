// A module's `.BTF_ids` section: BTF type ids that resolve_btfids wrote at build time
// into slots marked by local symbols (`__BTF_ID__func__bbr_init__1104`, and
// `__BTF_ID__set__NAME` / `__BTF_ID__set8__NAME` for sorted sets). When a module's `.BTF`
// is re-split (distilled), its type ids change and these slots must follow: the kernel
// reads them in the distilled numbering and maps them itself after relocating.
import { FormatError } from '../common/errors';
import { type ElfFile } from '../elf/reader';
import { type TypeId } from './types';

export interface BtfIdsRemap {
  /** New `.BTF_ids` contents. */
  readonly data: Uint8Array;
  /** Slots rewritten. */
  readonly slots: number;
  /** Symbols whose id has no counterpart (written as 0, as resolve_btfids leaves an unresolved id). */
  readonly unresolved: readonly string[];
}

const PREFIX = '__BTF_ID__';

/**
 * `.BTF_ids` with every id slot passed through `remap` (return 0 for "no such type now"),
 * and every set re-sorted by id as resolve_btfids sorts them. Undefined without the section.
 */
export function remapBtfIds(elf: ElfFile, remap: (id: TypeId) => TypeId): BtfIdsRemap | undefined {
  const sec = elf.section('.BTF_ids');
  if (!sec) return undefined;
  const data = sec.data.slice();
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.littleEndian;
  const at = (sym: { name: string; value: bigint }, size: number): number => {
    const off = Number(sym.value);
    if (!(off >= 0 && off + size <= data.length)) {
      throw new FormatError(elf.file, '.BTF_ids', off, `symbol ${sym.name} points past the end of the section (${data.length} bytes)`);
    }
    return off;
  };
  const unresolved: string[] = [];
  const sets: { off: number; pairs: boolean; name: string }[] = [];
  let slots = 0;
  for (const sym of elf.symbols) {
    if (sym.shndx !== sec.index || !sym.name.startsWith(PREFIX)) continue;
    const rest = sym.name.slice(PREFIX.length);
    if (rest.startsWith('set8__')) sets.push({ off: at(sym, 8), pairs: true, name: sym.name });
    else if (rest.startsWith('set__')) sets.push({ off: at(sym, 4), pairs: false, name: sym.name });
    else {
      const off = at(sym, 4);
      const old = dv.getUint32(off, le);
      if (old === 0) continue;
      const id = remap(old);
      if (id === 0) unresolved.push(sym.name);
      dv.setUint32(off, id, le);
      slots++;
    }
  }
  // BTF_SET: u32 cnt, then cnt ids; BTF_SET8: u32 cnt, u32 flags, then cnt {u32 id, u32 flags}.
  for (const s of sets) {
    const cnt = dv.getUint32(s.off, le);
    const first = s.off + (s.pairs ? 8 : 4);
    const stride = s.pairs ? 8 : 4;
    if (first + cnt * stride > data.length)
      throw new FormatError(elf.file, '.BTF_ids', s.off, `${s.name}: ${cnt} entries run past the end of the section`);
    const entries: [number, number][] = [];
    for (let i = 0; i < cnt; i++)
      entries.push([dv.getUint32(first + i * stride, le), s.pairs ? dv.getUint32(first + i * stride + 4, le) : 0]);
    entries.sort((a, b) => a[0] - b[0]);
    entries.forEach(([id, flags], i) => {
      dv.setUint32(first + i * stride, id, le);
      if (s.pairs) dv.setUint32(first + i * stride + 4, flags, le);
    });
  }
  return { data, slots, unresolved };
}
