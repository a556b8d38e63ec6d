/**
 * The BPF object model's entry point: `openObject(bytes, file)` reads an ELF BPF object
 * (either byte order) into a BpfObject. Pure: bytes in, values out.
 *
 * Throws FormatError for objects that cannot be read at all (not ELF, not BPF, broken
 * section/symbol tables, bad BTF). Problems that libbpf reports per map or program
 * (bad map definition fields, unknown sections) go to `BpfObject.diagnostics` instead.
 */
export * from './model';
export { openObject, objectName } from './open';
export { secDefFor, SEC_DEFS } from './section-defs';
export type { SecDef, SecMatch } from './section-defs';
export * as insn from './insn';
export { createMaxEntries, ringbufSize, parseCpuList, pinPath, CREATED_WITHOUT_BTF } from './map-adjust';
export type { MapCreateEnv } from './map-adjust';
export { progTypeName, mapTypeName, attachTypeName, PROG_TYPE_NAMES, MAP_TYPE_NAMES, ATTACH_TYPE_NAMES } from './uapi-names';
export { internalMapName } from './maps-internal';
export { kernelObjName } from './maps-btf';
export { ARENA_SEC, arenaTooSmall } from './arena';
