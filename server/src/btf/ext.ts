import { ByteReader } from '../common/bytes';
import { type Btf } from './btf';
import { BTF_MAGIC, type TypeId } from './types';

// .BTF.ext as LLVM emits it into BPF objects (libbpf's btf_ext). Instruction offsets are
// kept in bytes, as stored; divide by 8 for instruction indexes.

export interface FuncInfo {
  readonly insnOff: number;
  readonly typeId: TypeId;
}

export interface LineInfo {
  readonly insnOff: number;
  readonly fileNameOff: number;
  readonly lineOff: number;
  readonly file: string;
  /** Source line text as the compiler recorded it ('' if none). */
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

/** CO-RE relocation kinds (enum bpf_core_relo_kind). */
export const CORE_RELO_KINDS = [
  'field_byte_offset',
  'field_byte_size',
  'field_exists',
  'field_signed',
  'field_lshift_u64',
  'field_rshift_u64',
  'type_id_local',
  'type_id_target',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
] as const;

export type CoreReloKindName = (typeof CORE_RELO_KINDS)[number];

export interface CoreRelo {
  readonly insnOff: number;
  readonly typeId: TypeId;
  readonly accessStrOff: number;
  /** e.g. "0:1:0:5" */
  readonly accessStr: string;
  readonly kind: number;
}

export interface ExtSection<T> {
  /** ELF section the records apply to (e.g. "kprobe/do_unlinkat"). */
  readonly section: string;
  readonly records: readonly T[];
}

export interface BtfExt {
  readonly funcInfoRecSize: number;
  readonly lineInfoRecSize: number;
  readonly coreReloRecSize: number;
  readonly funcInfo: readonly ExtSection<FuncInfo>[];
  readonly lineInfo: readonly ExtSection<LineInfo>[];
  readonly coreRelos: readonly ExtSection<CoreRelo>[];
}

/** Parses `.BTF.ext`; strings (section and file names, access strings) come from `btf`. */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, file = '<object>'): BtfExt {
  const probe = new ByteReader(bytes, btf.littleEndian, { file, section: '.BTF.ext' });
  probe.need(0, 8, 'BTF.ext header');
  if (probe.u16(0) !== BTF_MAGIC) probe.fail(0, `bad BTF.ext magic 0x${probe.u16(0).toString(16)} (or byte order differs from .BTF)`);
  const r = probe;
  const hdrLen = r.u32(4);
  if (hdrLen < 24) r.fail(4, `hdr_len ${hdrLen} is smaller than 24`);
  r.need(0, hdrLen, 'BTF.ext header');
  const str = (off: number, at: number, what: string): string => {
    try {
      return btf.str(off);
    } catch {
      return r.fail(at, `${what}: string offset ${off} is not in the BTF string section`);
    }
  };

  const readInfo = <T>(
    which: string,
    off: number,
    len: number,
    minRec: number,
    rec: (at: number) => T,
  ): { recSize: number; secs: ExtSection<T>[] } => {
    if (len === 0) return { recSize: 0, secs: [] };
    const start = hdrLen + off;
    r.need(start, len, which);
    const end = start + len;
    const recSize = r.u32(start);
    if (recSize < minRec || recSize % 4 !== 0) r.fail(start, `${which} record size ${recSize} is invalid (at least ${minRec})`);
    const secs: ExtSection<T>[] = [];
    let o = start + 4;
    while (o < end) {
      if (o + 8 > end) r.fail(o, `${which} section header runs past the end`);
      const section = str(r.u32(o), o, which);
      const num = r.u32(o + 4);
      o += 8;
      if (num === 0) r.fail(o - 4, `${which} section '${section}' has no records`);
      if (num * recSize > end - o)
        r.fail(o - 4, `${which} section '${section}' claims ${num} records of ${recSize} bytes, more than remain`);
      const records: T[] = [];
      for (let i = 0; i < num; i++, o += recSize) records.push(rec(o));
      secs.push({ section, records });
    }
    return { recSize, secs };
  };

  const fi = readInfo<FuncInfo>('func_info', r.u32(8), r.u32(12), 8, (o) => ({ insnOff: r.u32(o), typeId: r.u32(o + 4) }));
  const li = readInfo<LineInfo>('line_info', r.u32(16), r.u32(20), 16, (o) => {
    const fileNameOff = r.u32(o + 4);
    const lineOff = r.u32(o + 8);
    const lineCol = r.u32(o + 12);
    return {
      insnOff: r.u32(o),
      fileNameOff,
      lineOff,
      file: str(fileNameOff, o + 4, 'line_info file name'),
      text: str(lineOff, o + 8, 'line_info line'),
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
    };
  });
  const cr =
    hdrLen >= 32
      ? readInfo<CoreRelo>('core_relo', r.u32(24), r.u32(28), 16, (o) => {
          const accessStrOff = r.u32(o + 8);
          return {
            insnOff: r.u32(o),
            typeId: r.u32(o + 4),
            accessStrOff,
            accessStr: str(accessStrOff, o + 8, 'CO-RE access string'),
            kind: r.u32(o + 12),
          };
        })
      : { recSize: 0, secs: [] };
  for (const s of fi.secs)
    for (const f of s.records) {
      if (!btf.has(f.typeId)) r.fail(0, `func_info in '${s.section}' names type ${f.typeId}, out of range`);
    }
  return {
    funcInfoRecSize: fi.recSize,
    lineInfoRecSize: li.recSize,
    coreReloRecSize: cr.recSize,
    funcInfo: fi.secs,
    lineInfo: li.secs,
    coreRelos: cr.secs,
  };
}
