/**
 * Relocations of program code, classified as libbpf's bpf_program__record_reloc does: map
 * references, global-data references, subprogram calls and addresses, extern variables and
 * kfunc calls. The loader patches instructions from these; the editor shows what each refers to.
 */
import { SHF_EXECINSTR, SHN_UNDEF, SHT_PROGBITS, STT_SECTION } from '../elf/constants';
import type { ElfFile, ElfSection, ElfSymbol } from '../elf/reader';
import { ARENA_SEC, arenaMapIndex } from './arena';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, decodeInsn, isCall, isLdImm64 } from './insn';
import type { BpfExtern, BpfMap, BpfReloc, ObjectDiagnostic } from './model';

/** All relocations of one executable section, `insn` being the section's instruction index. */
export function sectionRelocs(
  elf: ElfFile,
  sec: ElfSection,
  maps: readonly BpfMap[],
  externs: readonly BpfExtern[],
  diags: ObjectDiagnostic[],
): BpfReloc[] {
  const out: BpfReloc[] = [];
  const le = elf.littleEndian;
  const count = Math.floor(sec.size / 8);
  for (const r of elf.relocationsFor(sec.index)) {
    const off = Number(r.offset);
    const sym = elf.symbols[r.symbol];
    const fail = (why: string): void => {
      diags.push({ severity: 'error', section: sec.name, message: `section '${sec.name}': relocation at insn ${off / 8} ${why}` });
    };
    if (off % 8 !== 0 || off / 8 >= count || !sym) {
      fail(`is not on an instruction of the section (${count} instructions)`);
      continue;
    }
    const insn = off / 8;
    const ins = decodeInsn(sec.data, insn, le);
    if (sym.shndx === SHN_UNDEF && sym.name) {
      const ext = externs.find((e) => e.name === sym.name);
      if (isCall(ins)) out.push({ insn, kind: 'extern_call', name: sym.name, ...(ext ? {} : { unresolved: true }) });
      else if (isLdImm64(ins)) out.push({ insn, kind: 'extern_ld64', name: sym.name, ...(ext ? {} : { unresolved: true }) });
      else fail(`to extern '${sym.name}' is on neither a call nor an ld_imm64`);
      continue;
    }
    const target = elf.sections[sym.shndx];
    if (isCall(ins) && ins.src === BPF_PSEUDO_CALL) {
      // libbpf: symbol offset + imm + 1 (clang gives imm -1 against a function symbol)
      const at = Number(sym.value) / 8 + ins.imm + 1;
      out.push({
        insn,
        kind: 'call',
        name: sym.type === STT_SECTION ? (target?.name ?? '') : sym.name,
        targetSection: sym.shndx,
        targetInsn: at,
      });
      continue;
    }
    // clang may leave src_reg 0 on a callback's address (bpf_loop(..., static_cb, ...)): libbpf
    // takes any ld_imm64 of a symbol in executable code as a subprogram address
    const inCode = target !== undefined && (target.flags & BigInt(SHF_EXECINSTR)) !== 0n;
    if (isLdImm64(ins) && (ins.src === BPF_PSEUDO_FUNC || inCode)) {
      const at = (Number(sym.value) + ins.imm) / 8;
      out.push({
        insn,
        kind: 'func_addr',
        name: sym.type === STT_SECTION ? (target?.name ?? '') : sym.name,
        targetSection: sym.shndx,
        targetInsn: at,
      });
      continue;
    }
    if (!isLdImm64(ins)) {
      fail(`to '${sym.name || target?.name}' is not on an ld_imm64 (code 0x${ins.code.toString(16)})`);
      continue;
    }
    if (target?.name === ARENA_SEC && target.index === arenaSection(elf)) {
      // libbpf checks arena globals before maps: an offset into the ARENA map's contents
      const arena = arenaMapIndex(maps);
      if (arena < 0) fail(`to __arena global '${sym.name || ARENA_SEC}' has no ARENA map to point into`);
      else out.push({ insn, kind: 'data', name: maps[arena].name, mapIndex: arena, offset: dataOffset(sym, ins.imm) });
      continue;
    }
    const mapIdx = maps.findIndex(
      (m) => (m.kind === 'btf' || m.kind === 'legacy') && m.sectionIndex === sym.shndx && m.symbolOffset === Number(sym.value),
    );
    if (mapIdx >= 0) {
      out.push({ insn, kind: 'map', name: maps[mapIdx].name, mapIndex: mapIdx });
      continue;
    }
    const dataIdx = maps.findIndex(
      (m) => m.kind !== 'btf' && m.kind !== 'legacy' && m.kind !== 'struct_ops' && m.sectionIndex === sym.shndx,
    );
    if (dataIdx >= 0) {
      out.push({ insn, kind: 'data', name: maps[dataIdx].name, mapIndex: dataIdx, offset: dataOffset(sym, ins.imm) });
      continue;
    }
    fail(`refers to '${sym.name || target?.name}' in section '${target?.name ?? sym.shndx}', which is no map or data section`);
  }
  return out.sort((a, b) => a.insn - b.insn);
}

/** A section symbol's offset is in imm; a variable's is its st_value (+imm). */
function dataOffset(sym: ElfSymbol, imm: number): number {
  return (sym.type === STT_SECTION ? 0 : Number(sym.value)) + imm;
}

/** The index of the `.addr_space.1` section libbpf takes as arena data (PROGBITS, with bytes). */
function arenaSection(elf: ElfFile): number {
  const s = elf.section(ARENA_SEC);
  return s && s.type === SHT_PROGBITS && s.size > 0 ? s.index : -1;
}
