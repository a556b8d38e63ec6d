/**
 * `__arena` globals (clang's address_space(1), section `.addr_space.1`) as libbpf 1.5 reads
 * them: an object has one ARENA map at most, and that section's bytes are the arena's initial
 * contents, placed at its start; instructions that refer to the section point into the arena.
 */
import { BPF_MAP_TYPE } from '../common/uapi';
import { SHT_PROGBITS } from '../elf/constants';
import type { ElfFile } from '../elf/reader';
import type { BpfMap, BpfObject, ObjectDiagnostic } from './model';

/** libbpf's ARENA_SEC. */
export const ARENA_SEC = '.addr_space.1';

const isArena = (m: BpfMap) => m.typeId === BPF_MAP_TYPE.BPF_MAP_TYPE_ARENA;

/** Index of the object's ARENA map in `maps` (-1: none). */
export function arenaMapIndex(maps: readonly BpfMap[]): number {
  return maps.findIndex(isArena);
}

/**
 * The maps with `.addr_space.1`'s bytes as the ARENA map's initial data. A second ARENA map, or
 * arena globals without one, are errors as in libbpf (it refuses to open such an object).
 */
export function withArenaData(elf: ElfFile, maps: BpfMap[], diags: ObjectDiagnostic[]): BpfMap[] {
  const arenas = maps.filter(isArena);
  if (arenas.length > 1)
    diags.push({
      severity: 'error',
      section: arenas[1].section,
      message: `map '${arenas[1].name}': only one ARENA map is supported (map '${arenas[0].name}' is also ARENA)`,
    });
  const sec = elf.section(ARENA_SEC);
  // as libbpf: only a PROGBITS section with bytes (clang emits zero-initialised arena globals there too)
  if (!sec || sec.type !== SHT_PROGBITS || sec.size === 0) return maps;
  if (arenas.length === 0) {
    diags.push({
      severity: 'error',
      section: ARENA_SEC,
      message: `section '${ARENA_SEC}': __arena globals need an ARENA map declared in SEC(".maps")`,
    });
    return maps;
  }
  const data = Uint8Array.from(sec.data);
  return maps.map((m) => (m === arenas[0] ? { ...m, initialData: data } : m));
}

/**
 * Why the arena cannot hold the object's `__arena` globals (libbpf: the data rounded up to pages
 * must fit in max_entries pages), or undefined when it can.
 */
export function arenaTooSmall(obj: BpfObject, pageSize: number): string | undefined {
  const m = obj.maps.find(isArena);
  const size = m?.initialData?.length ?? 0;
  if (!m || size === 0) return undefined;
  const arenaBytes = pageSize * m.maxEntries;
  if (Math.ceil(size / pageSize) * pageSize <= arenaBytes) return undefined;
  return `map '${m.name}': the ARENA map (${m.maxEntries} pages, ${arenaBytes} bytes) is too small for the ${size} bytes of __arena globals in '${ARENA_SEC}'`;
}
