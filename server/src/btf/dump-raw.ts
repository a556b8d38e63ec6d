import type { Btf } from './btf';
import { DumpView, KIND_STR, enum64Value, funcLinkageStr, intEncodingStr, varLinkageStr } from './dump-view';
import { type ChunkSink, OutBuf } from './out-buf';
import { BTF_KIND_MAX } from './types';

/**
 * The text of `bpftool btf dump file FILE` (format raw), byte for byte: one `[id] KIND
 * 'name' ...` line per own type (split BTF: only the split's types, ids after the base's),
 * members, values, params and section vars on tab-indented lines below it.
 */
export function dumpRawBytes(btf: Btf): Uint8Array {
  const v = new DumpView(btf);
  const out = new OutBuf(v.outputBound(4));
  dumpInto(v, out);
  return out.bytes();
}

/**
 * The same text handed to `sink` in chunks of about `chunkBytes` (one chunk for a
 * vmlinux-sized dump), so memory stays bounded whatever the input makes the text grow to.
 */
export function dumpRawTo(btf: Btf, sink: ChunkSink, chunkBytes = 64 << 20): void {
  const v = new DumpView(btf);
  const out = new OutBuf(Math.min(chunkBytes, v.outputBound(4)), sink, chunkBytes);
  dumpInto(v, out);
  out.flush();
}

function dumpInto(v: DumpView, out: OutBuf): void {
  const w = v.w;
  const recs = v.recs;
  for (let i = 0; i < recs.length; i++) {
    const o = recs[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    out.byte(91); // [
    out.u32(v.startId + i);
    out.raw(HEADS[kind]);
    v.name(out, w[o], false);
    out.byte(39); // '
    // One small function per kind: each is optimised on its own, and a kind met late
    // (DATASEC comes last in vmlinux) does not throw away the code of the others.
    KIND_DUMPERS[kind](v, out, w, o, info);
    out.byte(10);
  }
}

/** An ASCII constant as bytes (copied byte by byte: cheaper than charCodeAt on a cold JIT). */
function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const SIZE = ascii(' size=');
const BITS_OFFSET = ascii(' bits_offset=');
const NR_BITS = ascii(' nr_bits=');
const ENCODING = ascii(' encoding=');
const TYPE_ID = ascii(' type_id=');
const INDEX_TYPE_ID = ascii(' index_type_id=');
const NR_ELEMS = ascii(' nr_elems=');
const VLEN = ascii(' vlen=');
const ITEM_NAME = ascii("\n\t'");
const NAME_TYPE_ID = ascii("' type_id=");
const BITFIELD_SIZE = ascii(' bitfield_size=');
const NAME_VAL = ascii("' val=");
const LINKAGE = ascii(' linkage=');
const RET_TYPE_ID = ascii(' ret_type_id=');
const COMMA_LINKAGE = ascii(', linkage=');
const ITEM_TYPE_ID = ascii('\n\ttype_id=');
const OFFSET = ascii(' offset=');
const OPEN_PAREN = ascii(' (');
const SPACE_QUOTE = ascii(" '");
const QUOTE_CLOSE_PAREN = ascii("')");
const COMPONENT_IDX = ascii(' component_idx=');

/** `] KIND '` by kind number, as bytes. */
const HEADS = Array.from({ length: 32 }, (_, k) => ascii(`] ${KIND_STR[k <= BTF_KIND_MAX ? k : 0]} '`));

/** dumpRawBytes as text (latin1: one character per byte). */
export function dumpRaw(btf: Btf): string {
  return Buffer.from(dumpRawBytes(btf)).toString('latin1');
}

/** Writes what follows the name: `o` is the record's word index, `w[o + 3]` its first extra word. */
type KindDumper = (v: DumpView, out: OutBuf, w: Uint32Array, o: number, info: number) => void;

function kflag(info: number): boolean {
  return info >>> 31 === 1;
}

const dumpNothing: KindDumper = () => {};

const dumpInt: KindDumper = (_v, out, w, o) => {
  const x = w[o + 3];
  out.raw(SIZE);
  out.u32(w[o + 2]);
  out.raw(BITS_OFFSET);
  out.u32((x >>> 16) & 0xff);
  out.raw(NR_BITS);
  out.u32(x & 0xff);
  out.raw(ENCODING);
  out.lit(intEncodingStr((x >>> 24) & 0x0f));
};

const dumpRef: KindDumper = (_v, out, w, o) => {
  out.raw(TYPE_ID);
  out.u32(w[o + 2]);
};

const dumpArray: KindDumper = (_v, out, w, o) => {
  out.raw(TYPE_ID);
  out.u32(w[o + 3]);
  out.raw(INDEX_TYPE_ID);
  out.u32(w[o + 4]);
  out.raw(NR_ELEMS);
  out.u32(w[o + 5]);
};

const dumpComposite: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const bitfields = kflag(info);
  out.raw(SIZE);
  out.u32(w[o + 2]);
  out.raw(VLEN);
  out.u32(vlen);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    const off = w[q + 2];
    out.raw(ITEM_NAME);
    v.name(out, w[q], false);
    out.raw(NAME_TYPE_ID);
    out.u32(w[q + 1]);
    out.raw(BITS_OFFSET);
    out.u32(bitfields ? off & 0xffffff : off);
    if (bitfields && off >>> 24) {
      out.raw(BITFIELD_SIZE);
      out.u32(off >>> 24);
    }
  }
};

const dumpEnum: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const signed = kflag(info);
  out.lit(signed ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
  out.u32(w[o + 2]);
  out.raw(VLEN);
  out.u32(vlen);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
    out.raw(ITEM_NAME);
    v.name(out, w[q], false);
    out.raw(NAME_VAL);
    if (signed) out.i32(w[q + 1] | 0);
    else out.u32(w[q + 1]);
  }
};

const dumpEnum64: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const signed = kflag(info);
  out.lit(signed ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
  out.u32(w[o + 2]);
  out.raw(VLEN);
  out.u32(vlen);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    out.raw(ITEM_NAME);
    v.name(out, w[q], false);
    out.raw(NAME_VAL);
    out.num(enum64Value(w[q + 1], w[q + 2], signed));
    out.lit(signed ? 'LL' : 'ULL');
  }
};

const dumpFwd: KindDumper = (_v, out, _w, _o, info) => {
  out.lit(kflag(info) ? ' fwd_kind=union' : ' fwd_kind=struct');
};

const dumpFunc: KindDumper = (_v, out, w, o, info) => {
  out.raw(TYPE_ID);
  out.u32(w[o + 2]);
  out.raw(LINKAGE);
  out.lit(funcLinkageStr(info & 0xffff));
};

const dumpFuncProto: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  out.raw(RET_TYPE_ID);
  out.u32(w[o + 2]);
  out.raw(VLEN);
  out.u32(vlen);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
    out.raw(ITEM_NAME);
    v.name(out, w[q], false);
    out.raw(NAME_TYPE_ID);
    out.u32(w[q + 1]);
  }
};

const dumpVar: KindDumper = (_v, out, w, o) => {
  out.raw(TYPE_ID);
  out.u32(w[o + 2]);
  out.raw(COMMA_LINKAGE);
  out.lit(varLinkageStr(w[o + 3]));
};

const dumpDatasec: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  out.raw(SIZE);
  out.u32(w[o + 2]);
  out.raw(VLEN);
  out.u32(vlen);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    const type = w[q];
    out.raw(ITEM_TYPE_ID);
    out.u32(type);
    out.raw(OFFSET);
    out.u32(w[q + 1]);
    out.raw(SIZE);
    out.u32(w[q + 2]);
    if (type < v.btf.length) {
      // bpftool names what each entry points at (type 0 is void: kind UNKNOWN)
      out.raw(OPEN_PAREN);
      out.lit(type === 0 ? KIND_STR[0] : KIND_STR[v.kindOf(type)]);
      out.raw(SPACE_QUOTE);
      v.name(out, type === 0 ? 0 : v.nameOffOf(type), false);
      out.raw(QUOTE_CLOSE_PAREN);
    }
  }
};

const dumpFloat: KindDumper = (_v, out, w, o) => {
  out.raw(SIZE);
  out.u32(w[o + 2]);
};

const dumpDeclTag: KindDumper = (_v, out, w, o) => {
  out.raw(TYPE_ID);
  out.u32(w[o + 2]);
  out.raw(COMPONENT_IDX);
  out.i32(w[o + 3] | 0);
};

/** By BTF_KIND_* number (0..31; kinds past ENUM64 print nothing more, as in bpftool). */
const KIND_DUMPERS: readonly KindDumper[] = [
  dumpNothing,
  dumpInt,
  dumpRef,
  dumpArray,
  dumpComposite,
  dumpComposite,
  dumpEnum,
  dumpFwd,
  dumpRef,
  dumpRef,
  dumpRef,
  dumpRef,
  dumpFunc,
  dumpFuncProto,
  dumpVar,
  dumpDatasec,
  dumpFloat,
  dumpDeclTag,
  dumpRef,
  dumpEnum64,
  ...new Array<KindDumper>(12).fill(dumpNothing),
];
