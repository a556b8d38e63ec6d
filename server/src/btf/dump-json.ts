import type { Btf } from './btf';
import { DumpView, KIND_STR, enum64Value, funcLinkageStr, intEncodingStr, varLinkageStr } from './dump-view';
import { OutBuf } from './out-buf';
import {
  BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM, BTF_KIND_ENUM64,
  BTF_KIND_FLOAT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_FWD, BTF_KIND_INT, BTF_KIND_MAX, BTF_KIND_PTR,
  BTF_KIND_RESTRICT, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_TYPE_TAG, BTF_KIND_UNION, BTF_KIND_VAR,
  BTF_KIND_VOLATILE,
} from './types';

/**
 * The text of `bpftool -j btf dump file FILE`, byte for byte: `{"types":[...]}` and a
 * newline, with bpftool's field names and its string escaping (names are bytes; only
 * tab, newline, CR, FF, BS, backslash and double quote are escaped).
 */
export function dumpJsonBytes(btf: Btf): Uint8Array {
  const v = new DumpView(btf);
  const out = new OutBuf(Math.max(1 << 16, v.count * 160));
  out.lit('{"types":[');
  for (let i = 0; i < v.count; i++) {
    if (i > 0) out.byte(44);
    dumpType(v, out, v.startId + i, v.recs[i]);
  }
  out.lit(']}\n');
  return out.bytes();
}

/** dumpJsonBytes as text (latin1: one character per byte). */
export function dumpJson(btf: Btf): string {
  return Buffer.from(dumpJsonBytes(btf)).toString('latin1');
}

function field(out: OutBuf, name: string, value: number | bigint): void {
  out.lit(`,"${name}":`);
  if (typeof value === 'number' && value >= 0 && value <= 0xffffffff) out.u32(value);
  else out.num(value);
}

function strField(out: OutBuf, name: string, value: string): void {
  out.lit(`,"${name}":"${value}"`);
}

function nameField(v: DumpView, out: OutBuf, nameOff: number, first: boolean): void {
  out.lit(first ? '"name":"' : ',"name":"');
  v.name(out, nameOff, true);
  out.byte(34);
}

function dumpType(v: DumpView, out: OutBuf, id: number, o: number): void {
  // o: word index of the record; its words: name_off, info, size/type, then the kind's data
  const w = v.w;
  const nameOff = w[o];
  const info = w[o + 1];
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 === 1;
  const sizeOrType = w[o + 2];
  out.lit('{"id":');
  out.u32(id);
  strField(out, 'kind', KIND_STR[kind <= BTF_KIND_MAX ? kind : 0]);
  nameField(v, out, nameOff, false);
  const p = o + 3;
  switch (kind) {
    case BTF_KIND_INT: {
      const x = w[p];
      field(out, 'size', sizeOrType);
      field(out, 'bits_offset', (x >>> 16) & 0xff);
      field(out, 'nr_bits', x & 0xff);
      strField(out, 'encoding', intEncodingStr((x >>> 24) & 0x0f));
      break;
    }
    case BTF_KIND_PTR: case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPEDEF: case BTF_KIND_TYPE_TAG:
      field(out, 'type_id', sizeOrType);
      break;
    case BTF_KIND_ARRAY:
      field(out, 'type_id', w[p]);
      field(out, 'index_type_id', w[p + 1]);
      field(out, 'nr_elems', w[p + 2]);
      break;
    case BTF_KIND_STRUCT: case BTF_KIND_UNION:
      field(out, 'size', sizeOrType);
      field(out, 'vlen', vlen);
      out.lit(',"members":[');
      for (let k = 0, q = p; k < vlen; k++, q += 3) {
        const off = w[q + 2];
        out.lit(k ? ',{' : '{');
        nameField(v, out, w[q], true);
        field(out, 'type_id', w[q + 1]);
        field(out, 'bits_offset', kflag ? off & 0xffffff : off);
        if (kflag && off >>> 24) field(out, 'bitfield_size', off >>> 24);
        out.byte(125);
      }
      out.byte(93);
      break;
    case BTF_KIND_ENUM: case BTF_KIND_ENUM64: {
      const is64 = kind === BTF_KIND_ENUM64;
      strField(out, 'encoding', kflag ? 'SIGNED' : 'UNSIGNED');
      field(out, 'size', sizeOrType);
      field(out, 'vlen', vlen);
      out.lit(',"values":[');
      for (let k = 0, q = p; k < vlen; k++, q += is64 ? 3 : 2) {
        out.lit(k ? ',{' : '{');
        nameField(v, out, w[q], true);
        if (is64) field(out, 'val', enum64Value(w[q + 1], w[q + 2], kflag));
        // bpftool widens the s32 value to u64 before printing it unsigned
        else if (kflag) field(out, 'val', (w[q + 1] | 0));
        else field(out, 'val', (w[q + 1] | 0) < 0 ? BigInt.asUintN(64, BigInt((w[q + 1] | 0))) : w[q + 1]);
        out.byte(125);
      }
      out.byte(93);
      break;
    }
    case BTF_KIND_FWD:
      strField(out, 'fwd_kind', kflag ? 'union' : 'struct');
      break;
    case BTF_KIND_FUNC:
      field(out, 'type_id', sizeOrType);
      strField(out, 'linkage', funcLinkageStr(vlen));
      break;
    case BTF_KIND_FUNC_PROTO:
      field(out, 'ret_type_id', sizeOrType);
      field(out, 'vlen', vlen);
      out.lit(',"params":[');
      for (let k = 0, q = p; k < vlen; k++, q += 2) {
        out.lit(k ? ',{' : '{');
        nameField(v, out, w[q], true);
        field(out, 'type_id', w[q + 1]);
        out.byte(125);
      }
      out.byte(93);
      break;
    case BTF_KIND_VAR:
      field(out, 'type_id', sizeOrType);
      strField(out, 'linkage', varLinkageStr(w[p]));
      break;
    case BTF_KIND_DATASEC:
      field(out, 'size', sizeOrType);
      field(out, 'vlen', vlen);
      out.lit(',"vars":[');
      for (let k = 0, q = p; k < vlen; k++, q += 3) {
        out.lit(k ? ',{"type_id":' : '{"type_id":');
        out.u32(w[q]);
        field(out, 'offset', w[q + 1]);
        field(out, 'size', w[q + 2]);
        out.byte(125);
      }
      out.byte(93);
      break;
    case BTF_KIND_FLOAT:
      field(out, 'size', sizeOrType);
      break;
    case BTF_KIND_DECL_TAG:
      field(out, 'type_id', sizeOrType);
      field(out, 'component_idx', (w[p] | 0));
      break;
  }
  out.byte(125);
}
