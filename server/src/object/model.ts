/**
 * The BPF object model: what a compiled `.bpf.o` holds, in libbpf's terms — programs from
 * the SEC() table, subprograms, maps (BTF-defined, legacy, internal data maps, struct_ops),
 * externs — with source positions from BTF line_info. Everything is readonly once built.
 *
 * Names of program/map/attach types are bpftool's (`sched_cls`, `percpu_array`,
 * `trace_fentry`); numeric ids are the UAPI enum values (BPF_PROG_TYPE_*, BPF_MAP_TYPE_*,
 * enum bpf_attach_type).
 */
import type { Btf } from '../btf/btf';
import type { BtfExt, LineInfo } from '../btf/ext';
import type { TypeId } from '../btf/types';
import type { ElfFile } from '../elf/reader';

/** A place in C source (from BTF line_info, or found by searching the source). */
export interface SourceLocation {
  /** As recorded by the compiler (often absolute). */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based; 0 when unknown. */
  readonly column: number;
  /** The source line's text as recorded in BTF (if any). */
  readonly text?: string;
}

/** How bad a diagnostic is: 'error' ones make libbpf refuse the object. */
export type ObjectSeverity = 'error' | 'warning' | 'info';

/** A non-fatal problem found while reading the object (e.g. a bad map definition). */
export interface ObjectDiagnostic {
  readonly severity: ObjectSeverity;
  /** One-line message that names the thing and what is wrong. */
  readonly message: string;
  /** The map concerned (C name), if any. */
  readonly map?: string;
  /** The map definition field concerned (`key_size`, `pinning`, `values`...), if any. */
  readonly field?: string;
  /** The extern concerned (an undefined global symbol), if any. */
  readonly extern?: string;
  /** The program or function concerned, if any. */
  readonly program?: string;
  /** ELF section concerned, if any. */
  readonly section?: string;
  /** Where in the C source, when known. */
  readonly source?: SourceLocation;
}

/** A program or subprogram: a FUNC symbol in an executable section. */
export interface BpfFunction {
  readonly name: string;
  /** ELF section name (`xdp`, `.text`, `kprobe/do_unlinkat`). */
  readonly section: string;
  readonly sectionIndex: number;
  /** First instruction, as an index into the section. */
  readonly insnOffset: number;
  readonly insnCount: number;
  /** 'global' or 'static' from BTF FUNC linkage (ELF binding without BTF). */
  readonly linkage: 'global' | 'static';
  /** True for entry programs (in a program section, not `.text`). */
  readonly isEntry: boolean;
  /** BTF FUNC id from func_info (or by name). */
  readonly btfFuncId?: TypeId;
  /** Position of the first instruction. */
  readonly source?: SourceLocation;
  /** Names of functions this one calls (BPF-to-BPF calls and callback addresses). */
  readonly callees: readonly string[];
  /** Relocations inside this function (insn relative to insnOffset). */
  readonly relocs: readonly BpfReloc[];
}

/**
 * A relocation in program code, classified as libbpf does. `insn` is relative to the
 * function's (program's) first instruction.
 */
export interface BpfReloc {
  readonly insn: number;
  /** map: ld_imm64 of a map (fd); data: ld_imm64 of global data (map value + offset);
   * call / func_addr: subprogram call or callback address; extern_ld64: kconfig/ksym
   * variable; extern_call: kfunc call. */
  readonly kind: 'map' | 'data' | 'call' | 'func_addr' | 'extern_ld64' | 'extern_call';
  /** Map, function/section or extern name. */
  readonly name: string;
  /** Index into BpfObject.maps (map, data). */
  readonly mapIndex?: number;
  /** data: byte offset inside the map value. */
  readonly offset?: number;
  /** call/func_addr: ELF section and instruction index (in that section) of the target. */
  readonly targetSection?: number;
  readonly targetInsn?: number;
  /** extern_*: no extern of that name was collected (see diagnostics). */
  readonly unresolved?: boolean;
}

/** An entry program: what `bpf_prog_load` would load (before subprograms are appended). */
export interface BpfProgram {
  readonly name: string;
  readonly section: string;
  readonly sectionIndex: number;
  /** First instruction, as an index into the section. */
  readonly insnOffset: number;
  readonly insnCount: number;
  /** The program's own instruction bytes (object byte order, unrelocated; a copy callers may patch). */
  readonly insns: Uint8Array;
  /** bpftool name (`xdp`, `kprobe`, `tracing`); 'unspec' when the section is unknown. */
  readonly progType: string;
  /** BPF_PROG_TYPE_* value. */
  readonly progTypeId: number;
  /** bpftool name of the expected attach type, or null when libbpf passes none (0). */
  readonly expectedAttachType: string | null;
  /** enum bpf_attach_type value (0 when none). */
  readonly expectedAttachTypeId: number;
  /** What follows the section prefix for attach targets (`do_unlinkat` for `fentry/do_unlinkat`). */
  readonly attachTo?: string;
  /** The matching SEC() table entry (`fentry+`), undefined when no entry matched. */
  readonly secDef?: string;
  readonly sleepable: boolean;
  /** False for `?`-prefixed sections (libbpf's autoload off). */
  readonly autoload: boolean;
  /** BPF_F_XDP_HAS_FRAGS etc. from the section (`xdp.frags`). */
  readonly progFlags: number;
  readonly linkage: 'global' | 'static';
  readonly btfFuncId?: TypeId;
  readonly source?: SourceLocation;
  /** Source position per instruction index (relative to insnOffset), from line_info. */
  readonly lines: readonly ProgramLine[];
  /** Subprograms reachable from this program through calls (transitively). */
  readonly subprograms: readonly string[];
  /** Relocations inside the program's own instructions (insn relative to insnOffset). */
  readonly relocs: readonly BpfReloc[];
}

/** One line_info record mapped to a program-relative instruction index. */
export interface ProgramLine {
  /** Instruction index relative to the program's first instruction. */
  readonly insn: number;
  readonly source: SourceLocation;
}

/** Where a map's definition came from. */
export type MapKind = 'btf' | 'legacy' | 'data' | 'rodata' | 'bss' | 'kconfig' | 'struct_ops';

/** A prog-array or map-in-map slot filled at load time from `.rel.maps`. */
export interface InitialSlot {
  readonly index: number;
  /** Name of the program (prog-arrays) or map (map-in-maps) placed there. */
  readonly target: string;
}

/** A map as libbpf would create it (before load-time adjustments). */
export interface BpfMap {
  /** C name (`events`, or the section name for internal maps: `.rodata`). */
  readonly name: string;
  /** Name as the kernel will show it (internal maps: libbpf's `obj_name.rodata` rule; 15 chars). */
  readonly kernelName: string;
  readonly kind: MapKind;
  /** bpftool name (`hash`, `percpu_array`, `ringbuf`), or `unknown(N)`. */
  readonly type: string;
  /** BPF_MAP_TYPE_* value. */
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly numaNode: number;
  readonly pinning: 'none' | 'by_name';
  /** map_extra (bloom filter hash count, arena address); bigint because it is u64. */
  readonly mapExtra: bigint;
  /** BTF type of the key / value when known (BTF-defined maps, DATASEC for data maps). */
  readonly keyTypeId?: TypeId;
  readonly valueTypeId?: TypeId;
  /** BTF type id of the map definition struct (BTF-defined) or VAR (struct_ops). */
  readonly defTypeId?: TypeId;
  /** The inner map definition of a map-in-map (`__array(values, struct {...})`). */
  readonly innerMap?: BpfMap;
  /** Initial slots of prog-arrays and map-in-maps (`.values = { [0] = &prog }`). */
  readonly initialSlots?: readonly InitialSlot[];
  /** ELF section that defines it (`.maps`, `maps`, `.rodata`, `.struct_ops.link`). */
  readonly section: string;
  readonly sectionIndex: number;
  /** Offset of the defining symbol inside its section (0 for internal maps). */
  readonly symbolOffset: number;
  /** Initial bytes of data maps (zeros for .bss); struct_ops value bytes; an ARENA map's `__arena` globals. */
  readonly initialData?: Uint8Array;
  /** struct_ops: the C struct type name (`tcp_congestion_ops`). */
  readonly structOpsType?: string;
  /** struct_ops: member name → program name for function-pointer slots. */
  readonly structOpsProgs?: readonly { readonly member: string; readonly program: string }[];
  /** iproute2's struct bpf_elf_map tail (legacy maps of that size); pinning 2 = PIN_GLOBAL_NS. */
  readonly iproute2?: { readonly id: number; readonly pinning: number; readonly innerId: number; readonly innerIdx: number };
  /** Where the definition is in C (for BTF maps only when a source reader was given). */
  readonly source?: SourceLocation;
}

/** An extern the loader resolves: `.kconfig` values, `.ksyms` variables and kfuncs. */
export interface BpfExtern {
  readonly name: string;
  readonly kind: 'kconfig' | 'ksym' | 'kfunc';
  /** Weak externs may be missing on the target (value 0 / no call). */
  readonly weak: boolean;
  /** BTF VAR (kconfig/ksym) or FUNC (kfunc) id; 0 without BTF. */
  readonly btfId: TypeId;
  /** kconfig/ksym: the variable's BTF type (after the VAR); kfunc: its FUNC_PROTO. */
  readonly typeId?: TypeId;
  /** ksym with a `void` type (address only, no BTF type needed in the kernel). */
  readonly typeless?: boolean;
  /** kconfig: offset inside the .kconfig map value; size of the variable. */
  readonly offset?: number;
  readonly size?: number;
}

/** A parsed BPF object. */
export interface BpfObject {
  /** Path or label given to openObject. */
  readonly file: string;
  /** libbpf object name: the file's basename up to its first '.'. */
  readonly name: string;
  readonly elf: ElfFile;
  readonly littleEndian: boolean;
  readonly btf?: Btf;
  readonly ext?: BtfExt;
  /** From the `license` section ('' when missing). */
  readonly license: string;
  /** From the `version` section (0 when missing). */
  readonly kernVersion: number;
  readonly programs: readonly BpfProgram[];
  /** Every FUNC in an executable section: entry programs and subprograms. */
  readonly functions: readonly BpfFunction[];
  readonly maps: readonly BpfMap[];
  readonly externs: readonly BpfExtern[];
  /** struct_ops maps (also in `maps`). */
  readonly structOps: readonly BpfMap[];
  readonly diagnostics: readonly ObjectDiagnostic[];
  /** Source files named by BTF.ext line_info, in first-seen order. */
  readonly sourceFiles: readonly string[];
}

/** Options of openObject. */
export interface OpenOptions {
  /**
   * Reads a source file named by line_info (to find map definitions). Keeps this layer pure:
   * the caller decides how (fs, editor buffers). Return undefined when unavailable.
   */
  readonly readSource?: (path: string) => string | undefined;
}

export type { LineInfo };
