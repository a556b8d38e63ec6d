/**
 * What the language server shows about one object, taken from the object model once per
 * parse: maps, programs and subprograms (with their callers), externs, problems, the
 * C files line_info names, and disassembly listings on demand.
 */
import type { Btf } from '../btf/btf';
import type { TypeId } from '../btf/types';
import type { ArgCtxArg } from '../object/arg-ctx';

export interface MapFacts {
  readonly name: string;
  /** ELF section of the definition ('.maps', 'maps', '.data', ...). */
  readonly section: string;
  /** 'hash', 'array', ... (BPF_MAP_TYPE_* lower-cased, no prefix); '' when unknown. */
  readonly mapType: string;
  readonly mapTypeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly numaNode: number;
  readonly mapExtra: bigint | number;
  /** 0 none, 1 LIBBPF_PIN_BY_NAME. */
  readonly pinning: number;
  readonly keyTypeId?: TypeId;
  readonly valueTypeId?: TypeId;
  readonly inner?: MapFacts;
  /** Prog-array / map-in-map slots filled at load (`.values = { [1] = &x }`). */
  readonly initialSlots: readonly { readonly slot: number; readonly target: string }[];
  /** `.data`, `.rodata`, `.bss`, `.kconfig` maps libbpf creates for global data. */
  readonly internal: boolean;
}

export interface ProgFacts {
  readonly name: string;
  readonly section: string;
  /** A program (entry point) rather than a subprogram. */
  readonly entry: boolean;
  /** Global linkage (subprograms: verified on their own). */
  readonly global: boolean;
  readonly progType: string;
  readonly attachType: string;
  readonly insnCount: number;
  /** First line_info record: where the function starts (1-based line). */
  readonly line?: { readonly file: string; readonly line: number };
  /** Programs whose call graph reaches this subprogram. */
  readonly callers: readonly string[];
  /** Subprograms this function calls directly. */
  readonly callees: readonly string[];
  /** Entry programs: what follows the section prefix (`do_unlinkat` in `fentry/do_unlinkat`). */
  readonly attachTo?: string;
  readonly sleepable?: boolean;
  /** False for `?`-prefixed sections. */
  readonly autoload?: boolean;
}

export interface ExternFacts {
  readonly name: string;
  readonly kind: string;
  readonly weak: boolean;
}

export interface Problem {
  readonly message: string;
  readonly severity: 'error' | 'warning' | 'info';
  /** The map or program it is about, to place it on that line of the source. */
  readonly map?: string;
  readonly program?: string;
  /** The extern it is about (an undefined global): another object may define it at link time. */
  readonly extern?: string;
  /** Where in the C source, when the object model knows (1-based line). */
  readonly source?: { readonly file: string; readonly line: number };
}

export interface ObjectFacts {
  /** EM_BPF (else a kernel module or another ELF file with BTF). */
  readonly isBpf: boolean;
  readonly btf?: Btf;
  readonly maps: readonly MapFacts[];
  /** Programs and subprograms. */
  readonly programs: readonly ProgFacts[];
  readonly externs: readonly ExternFacts[];
  /** Global symbols defined here (for the editor's extern resolution across objects). */
  readonly defines?: readonly { readonly name: string; readonly weak: boolean }[];
  readonly problems: readonly Problem[];
  /** File names line_info records name, as written. */
  readonly lineFiles: readonly string[];
  /** `__arg_ctx` arguments of global subprograms and who calls them (BPF objects only). */
  readonly argCtx?: readonly ArgCtxArg[];
  /** How many CO-RE relocation records `.BTF.ext` holds. */
  readonly coreRelocations?: number;
  /** Disassembly with source lines: one program (section or function name), or all. */
  disassembly(program?: string): string;
}

export { factsOf } from './facts-object';
