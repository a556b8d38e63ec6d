// Which BTF type a ring/perf buffer's records have: given by the user (`--decode MAP=TYPE`), else
// read off the object. At each call of bpf_ringbuf_reserve / bpf_ringbuf_output /
// bpf_perf_event_output, the map is the one the ld_imm64 before the call loads into the map
// argument's register; the type is a struct named on the call's source line (line_info's text),
// else the one struct whose size is the constant size argument. Records of no known type are hex.
import type { Btf } from '../btf/btf';
import type { TypeId } from '../btf/types';
import { formatValueJson } from '../btf/value-format';
import { decodeInsn, isHelperCall, isLdImm64, insnCount } from '../object/insn';
import type { BpfObject, BpfProgram } from '../object/model';

/** Helper ids with the registers holding the map and the size. */
const OUTPUT_HELPERS: Record<number, { name: string; mapReg: number; sizeReg: number }> = {
  25: { name: 'bpf_perf_event_output', mapReg: 2, sizeReg: 5 },
  130: { name: 'bpf_ringbuf_output', mapReg: 1, sizeReg: 3 },
  131: { name: 'bpf_ringbuf_reserve', mapReg: 1, sizeReg: 2 },
};
const BPF_ALU64_MOV_K = 0xb7;
const BPF_ALU_MOV_K = 0xb4;

export interface RecordType {
  readonly typeId: TypeId;
  readonly name: string;
  /** How it was found: `--decode`, the call's source line, or the size argument. */
  readonly how: 'user' | 'source line' | 'size';
}

/** What a program hands the helper at one call: the map and, when constant, the size. */
interface OutputCall {
  readonly map: string;
  readonly size?: number;
  readonly line?: string;
}

function structsNamed(btf: Btf): Map<string, TypeId> {
  const out = new Map<string, TypeId>();
  for (let id = 1; id < btf.length; id++) {
    const t = btf.get(id);
    if (t && (t.kind === 'STRUCT' || t.kind === 'UNION') && t.name) out.set(t.name, id);
  }
  return out;
}

function sourceLineAt(p: BpfProgram, insn: number): string | undefined {
  let best: string | undefined;
  for (const l of p.lines) if (l.insn <= insn) best = l.source.text;
  return best;
}

function callsIn(p: BpfProgram, le: boolean): OutputCall[] {
  const out: OutputCall[] = [];
  const n = insnCount(p.insns);
  for (let i = 0; i < n; i++) {
    const ins = decodeInsn(p.insns, i, le);
    const h = isHelperCall(ins) ? OUTPUT_HELPERS[ins.imm] : undefined;
    if (!h) continue;
    let map: string | undefined;
    let size: number | undefined;
    // Walk back within the straight line before the call (stop at another call).
    for (let j = i - 1; j >= 0 && j >= i - 64; j--) {
      const b = decodeInsn(p.insns, j, le);
      if (isHelperCall(b)) break;
      if (size === undefined && b.dst === h.sizeReg && (b.code === BPF_ALU64_MOV_K || b.code === BPF_ALU_MOV_K)) size = b.imm;
      if (map === undefined && b.dst === h.mapReg && isLdImm64(b)) map = p.relocs.find((r) => r.insn === j && r.kind === 'map')?.name;
      if (map !== undefined && size !== undefined) break;
    }
    if (map !== undefined) out.push({ map, size, line: sourceLineAt(p, i) });
  }
  return out;
}

/** The record type of each ring/perf buffer map the object's programs write, where one can be told. */
export function inferRecordTypes(obj: BpfObject): Map<string, RecordType> {
  const out = new Map<string, RecordType>();
  const btf = obj.btf;
  if (!btf) return out;
  const structs = structsNamed(btf);
  const bySize = new Map<number, TypeId[]>();
  for (const id of structs.values()) {
    const t = btf.get(id);
    if (t && (t.kind === 'STRUCT' || t.kind === 'UNION')) bySize.set(t.size, [...(bySize.get(t.size) ?? []), id]);
  }
  for (const p of obj.programs) {
    for (const c of callsIn(p, obj.littleEndian)) {
      if (out.has(c.map)) continue;
      const named = [...(c.line ?? '').matchAll(/\b(?:struct|union)\s+([A-Za-z_]\w*)/g)].map((m) => m[1]).find((n) => structs.has(n));
      if (named) out.set(c.map, { typeId: structs.get(named)!, name: named, how: 'source line' });
      else if (c.size !== undefined && bySize.get(c.size)?.length === 1) {
        const id = bySize.get(c.size)![0];
        out.set(c.map, { typeId: id, name: btf.nameOf(id), how: 'size' });
      }
    }
  }
  return out;
}

/** `--decode MAP=TYPE`: TYPE a struct, union or typedef name of the object's BTF (`struct event` or `event`). */
export function userRecordType(obj: BpfObject, type: string): RecordType {
  const name = type.replace(/^(struct|union)\s+/, '').trim();
  const btf = obj.btf;
  if (!btf) throw new Error(`--decode: ${obj.file} has no BTF to find type '${type}' in`);
  const id = btf.byName(name).find((i) => ['STRUCT', 'UNION', 'TYPEDEF', 'INT', 'ARRAY'].includes(btf.get(i)?.kind ?? ''));
  if (id === undefined) throw new Error(`--decode: no type '${type}' in ${obj.file}'s BTF`);
  return { typeId: id, name, how: 'user' };
}

/** A record as JSON: the BTF-decoded value as bpftool's `formatted` writes it, or hex bytes when undecodable. */
export function decodeRecord(btf: Btf | undefined, t: RecordType | undefined, data: Uint8Array): { data?: unknown; hex?: string } {
  if (btf && t) {
    try {
      return { data: JSON.parse(formatValueJson(btf, t.typeId, data)) as unknown };
    } catch {
      // too short for the type, or BTF the formatter refuses: show the bytes
    }
  }
  return { hex: Buffer.from(data).toString('hex') };
}
