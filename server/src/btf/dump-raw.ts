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
 * The text of `bpftool btf dump file FILE` (format raw), byte for byte: one `[id] KIND
 * 'name' ...` line per own type (split BTF: only the split's types, ids after the base's),
 * members, values, params and section vars on tab-indented lines below it.
 */
export function dumpRawBytes(btf: Btf): Uint8Array {
  const v = new DumpView(btf);
  const out = new OutBuf(Math.max(1 << 16, v.count * 96));
  for (let i = 0; i < v.count; i++) dumpType(v, out, v.startId + i, v.offsets[i]);
  return out.bytes();
}

/** dumpRawBytes as text (latin1: one character per byte). */
export function dumpRaw(btf: Btf): string {
  return Buffer.from(dumpRawBytes(btf)).toString('latin1');
}

function dumpType(v: DumpView, out: OutBuf, id: number, o: number): void {
  const nameOff = v.u32(o);
  const info = v.u32(o + 4);
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 === 1;
  const sizeOrType = v.u32(o + 8);
  out.byte(91); // [
  out.u32(id);
  out.lit('] ');
  out.lit(KIND_STR[kind <= BTF_KIND_MAX ? kind : 0]);
  out.lit(" '");
  v.name(out, nameOff, false);
  out.byte(39); // '
  const p = o + 12;
  switch (kind) {
    case BTF_KIND_INT: {
      const x = v.u32(p);
      out.lit(' size=');
      out.u32(sizeOrType);
      out.lit(' bits_offset=');
      out.u32((x >>> 16) & 0xff);
      out.lit(' nr_bits=');
      out.u32(x & 0xff);
      out.lit(' encoding=');
      out.lit(intEncodingStr((x >>> 24) & 0x0f));
      break;
    }
    case BTF_KIND_PTR: case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPEDEF: case BTF_KIND_TYPE_TAG:
      out.lit(' type_id=');
      out.u32(sizeOrType);
      break;
    case BTF_KIND_ARRAY:
      out.lit(' type_id=');
      out.u32(v.u32(p));
      out.lit(' index_type_id=');
      out.u32(v.u32(p + 4));
      out.lit(' nr_elems=');
      out.u32(v.u32(p + 8));
      break;
    case BTF_KIND_STRUCT: case BTF_KIND_UNION:
      out.lit(' size=');
      out.u32(sizeOrType);
      out.lit(' vlen=');
      out.u32(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        const off = v.u32(q + 8);
        out.lit("\n\t'");
        v.name(out, v.u32(q), false);
        out.lit("' type_id=");
        out.u32(v.u32(q + 4));
        out.lit(' bits_offset=');
        out.u32(kflag ? off & 0xffffff : off);
        if (kflag && off >>> 24) {
          out.lit(' bitfield_size=');
          out.u32(off >>> 24);
        }
      }
      break;
    case BTF_KIND_ENUM:
      out.lit(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
      out.u32(sizeOrType);
      out.lit(' vlen=');
      out.u32(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 8) {
        out.lit("\n\t'");
        v.name(out, v.u32(q), false);
        out.lit("' val=");
        if (kflag) out.i32(v.i32(q + 4));
        else out.u32(v.u32(q + 4));
      }
      break;
    case BTF_KIND_ENUM64:
      out.lit(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
      out.u32(sizeOrType);
      out.lit(' vlen=');
      out.u32(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        out.lit("\n\t'");
        v.name(out, v.u32(q), false);
        out.lit("' val=");
        out.num(enum64Value(v.u32(q + 4), v.u32(q + 8), kflag));
        out.lit(kflag ? 'LL' : 'ULL');
      }
      break;
    case BTF_KIND_FWD:
      out.lit(kflag ? ' fwd_kind=union' : ' fwd_kind=struct');
      break;
    case BTF_KIND_FUNC:
      out.lit(' type_id=');
      out.u32(sizeOrType);
      out.lit(' linkage=');
      out.lit(funcLinkageStr(vlen));
      break;
    case BTF_KIND_FUNC_PROTO:
      out.lit(' ret_type_id=');
      out.u32(sizeOrType);
      out.lit(' vlen=');
      out.u32(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 8) {
        out.lit("\n\t'");
        v.name(out, v.u32(q), false);
        out.lit("' type_id=");
        out.u32(v.u32(q + 4));
      }
      break;
    case BTF_KIND_VAR:
      out.lit(' type_id=');
      out.u32(sizeOrType);
      out.lit(', linkage=');
      out.lit(varLinkageStr(v.u32(p)));
      break;
    case BTF_KIND_DATASEC:
      out.lit(' size=');
      out.u32(sizeOrType);
      out.lit(' vlen=');
      out.u32(vlen);
      for (let k = 0, q = p; k < vlen; k++, q += 12) {
        const type = v.u32(q);
        out.lit('\n\ttype_id=');
        out.u32(type);
        out.lit(' offset=');
        out.u32(v.u32(q + 4));
        out.lit(' size=');
        out.u32(v.u32(q + 8));
        if (type < v.btf.length) {
          // bpftool names what each entry points at (type 0 is void: kind UNKNOWN)
          out.lit(' (');
          out.lit(type === 0 ? KIND_STR[0] : KIND_STR[v.kindOf(type)]);
          out.lit(" '");
          v.name(out, type === 0 ? 0 : v.nameOffOf(type), false);
          out.lit("')");
        }
      }
      break;
    case BTF_KIND_FLOAT:
      out.lit(' size=');
      out.u32(sizeOrType);
      break;
    case BTF_KIND_DECL_TAG:
      out.lit(' type_id=');
      out.u32(sizeOrType);
      out.lit(' component_idx=');
      out.i32(v.i32(p));
      break;
  }
  out.byte(10);
}
