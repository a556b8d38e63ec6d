// Encodes .BTF.ext (libbpf's btf_ext layout, header of 32 bytes with core_relo) from
// records whose strings are given as text: the caller's BtfBuilder interns them, so the
// offsets point into the .BTF that is written alongside.
import { ByteWriter } from '../common/bytes';
import { BTF_MAGIC, type TypeId } from './types';

export interface ExtFuncInfo {
  readonly insnOff: number;
  readonly typeId: TypeId;
}
export interface ExtLineInfo {
  readonly insnOff: number;
  readonly file: string;
  readonly text: string;
  readonly line: number;
  readonly column: number;
}
export interface ExtCoreRelo {
  readonly insnOff: number;
  readonly typeId: TypeId;
  readonly accessStr: string;
  readonly kind: number;
}

export interface ExtSectionRecords<T> {
  readonly section: string;
  readonly records: readonly T[];
}

export interface BtfExtRecords {
  readonly funcInfo: readonly ExtSectionRecords<ExtFuncInfo>[];
  readonly lineInfo: readonly ExtSectionRecords<ExtLineInfo>[];
  readonly coreRelos: readonly ExtSectionRecords<ExtCoreRelo>[];
}

const HDR_LEN = 32;
const FUNC_REC = 8;
const LINE_REC = 16;
const CORE_REC = 16;

/**
 * `.BTF.ext` bytes. `str` interns a string in the .BTF string table and returns its offset
 * (BtfBuilder.addString). Sections without records are left out, as LLVM does.
 */
export function writeBtfExt(ext: BtfExtRecords, str: (s: string) => number, littleEndian: boolean): Uint8Array {
  const part = <T>(secs: readonly ExtSectionRecords<T>[], recSize: number, rec: (w: ByteWriter, r: T) => void): Uint8Array => {
    const used = secs.filter((s) => s.records.length > 0);
    if (used.length === 0) return new Uint8Array(0);
    const w = new ByteWriter(littleEndian, 256);
    w.u32(recSize);
    for (const s of used) {
      w.u32(str(s.section));
      w.u32(s.records.length);
      for (const r of s.records) rec(w, r);
    }
    return w.finish();
  };
  const func = part(ext.funcInfo, FUNC_REC, (w, r) => {
    w.u32(r.insnOff);
    w.u32(r.typeId);
  });
  const line = part(ext.lineInfo, LINE_REC, (w, r) => {
    w.u32(r.insnOff);
    w.u32(str(r.file));
    w.u32(str(r.text));
    w.u32(((r.line << 10) | (r.column & 0x3ff)) >>> 0);
  });
  const core = part(ext.coreRelos, CORE_REC, (w, r) => {
    w.u32(r.insnOff);
    w.u32(r.typeId);
    w.u32(str(r.accessStr));
    w.u32(r.kind);
  });
  const w = new ByteWriter(littleEndian, HDR_LEN + func.length + line.length + core.length);
  w.u16(BTF_MAGIC);
  w.u8(1);
  w.u8(0);
  w.u32(HDR_LEN);
  w.u32(0);
  w.u32(func.length);
  w.u32(func.length);
  w.u32(line.length);
  w.u32(func.length + line.length);
  w.u32(core.length);
  w.bytes(func);
  w.bytes(line);
  w.bytes(core);
  return w.finish();
}
