/**
 * Relocations follow their section to its new offset and their symbol to its output
 * symbol. Where a relocation names a section symbol, the value it finds in place is an
 * offset into that section, which moved: the instruction's imm (in instructions for a
 * call, in bytes for ld_imm64) or the data word is adjusted by the section's new offset.
 */
import { R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS32, R_BPF_64_ABS64, STT_SECTION } from '../elf/constants';
import type { InputObject } from './input';
import type { OutSection, SectionLayout } from './sections';
import type { OutSymbol, SymbolTable } from './symbols';

const BPF_JMP_CALL = 0x85;

export interface OutRel {
  readonly offset: bigint;
  readonly symbol: OutSymbol;
  readonly type: number;
}

/** Something to add to a value in an output section once its bytes are final. */
export interface Patch {
  readonly section: OutSection;
  readonly off: number;
  /** imm: the s32 at off+4 of an instruction; u32/u64: a data word at off. */
  readonly width: 'imm' | 'u32' | 'u64';
  readonly delta: number;
}

export interface Relocations {
  /** Per output section, its relocations in order. */
  readonly bySection: Map<OutSection, OutRel[]>;
  /** Per output section, the values its relocations change in its bytes. */
  readonly patches: Map<OutSection, Patch[]>;
}

export function relocate(objs: readonly InputObject[], layout: SectionLayout, syms: SymbolTable, problems: string[]): Relocations {
  const bySection = new Map<OutSection, OutRel[]>();
  const patches = new Map<OutSection, Patch[]>();
  const patch = (p: Patch) => {
    const list = patches.get(p.section);
    if (list) list.push(p);
    else patches.set(p.section, [p]);
  };
  objs.forEach((obj, oi) => {
    const places = layout.places[oi];
    for (const [relIndex, relocations] of obj.rels) {
      const targetIndex = obj.elf.sections[relIndex].info;
      const place = places.get(targetIndex);
      if (!place || place.deduped) continue;
      const target = obj.elf.sections[targetIndex];
      let list = bySection.get(place.out);
      if (!list) bySection.set(place.out, (list = []));
      for (const r of relocations) {
        const y = obj.elf.symbols[r.symbol];
        const out = syms.symMaps[oi][r.symbol];
        if (!out) {
          problems.push(
            `${obj.file}: relocation at ${target.name}+${r.offset} names symbol '${y.name || `#${r.symbol}`}', which is not linked (a debug or dropped section)`,
          );
          continue;
        }
        const offset = r.offset + BigInt(place.off);
        list.push({ offset, symbol: out, type: r.type });
        if (y.type !== STT_SECTION) continue;
        const ref = places.get(y.shndx);
        if (!ref || ref.off === 0) continue;
        const at = Number(offset);
        if (place.out.exec) {
          const code = target.data[Number(r.offset)];
          if (r.type === R_BPF_64_32 && code === BPF_JMP_CALL) {
            if (ref.off % 8 !== 0)
              problems.push(`${obj.file}: call into '${ref.out.name}' lands at a byte offset that is not an instruction`);
            patch({ section: place.out, off: at, width: 'imm', delta: ref.off / 8 });
          } else if (r.type === R_BPF_64_64 || r.type === R_BPF_64_32) {
            patch({ section: place.out, off: at, width: 'imm', delta: ref.off });
          } else {
            problems.push(`${obj.file}: relocation type ${r.type} against section '${ref.out.name}' in code is not supported`);
          }
        } else if (r.type === R_BPF_64_ABS64) {
          patch({ section: place.out, off: at, width: 'u64', delta: ref.off });
        } else if (r.type === R_BPF_64_ABS32) {
          patch({ section: place.out, off: at, width: 'u32', delta: ref.off });
        } else {
          problems.push(
            `${obj.file}: relocation type ${r.type} against section '${ref.out.name}' in data section '${target.name}' is not supported`,
          );
        }
      }
    }
  });
  return { bySection, patches };
}

/** Applies a section's patches to its final bytes. */
export function applyPatches(bytes: Uint8Array, patches: readonly Patch[], littleEndian: boolean): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < patches.length; i++) {
    const p = patches[i];
    if (p.width === 'imm') dv.setInt32(p.off + 4, (dv.getInt32(p.off + 4, littleEndian) + p.delta) | 0, littleEndian);
    else if (p.width === 'u32') dv.setUint32(p.off, (dv.getUint32(p.off, littleEndian) + p.delta) >>> 0, littleEndian);
    else dv.setBigUint64(p.off, BigInt.asUintN(64, dv.getBigUint64(p.off, littleEndian) + BigInt(p.delta)), littleEndian);
  }
}
