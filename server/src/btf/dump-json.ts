import type { Btf } from './btf';
import { DumpView, KIND_STR, enum64Value, funcLinkageStr, intEncodingStr, varLinkageStr } from './dump-view';
import { CHUNK_BYTES, type ChunkSink, OutBuf } from './out-buf';
import { BTF_KIND_MAX } from './types';

/**
 * The text of `bpftool -j btf dump file FILE`: `{"types":[...]}` and a newline, with
 * bpftool's field names, order and number formats, and its string escaping (names are
 * bytes; tab, newline, CR, FF, BS, backslash and double quote are escaped). One deliberate
 * difference: bpftool 7.1 writes a backslash as `\n` (a json_writer bug); we write `\\`.
 */
export function dumpJsonBytes(btf: Btf): Uint8Array {
  const v = new DumpView(btf);
  const out = new OutBuf(v.outputBound(6));
  dumpInto(v, out);
  return out.bytes();
}

/**
 * The same text handed to `sink` in chunks of at most `chunkBytes` (more only for one write
 * bigger than a chunk), so memory stays bounded whatever the input makes the text grow to.
 */
export function dumpJsonTo(btf: Btf, sink: ChunkSink, chunkBytes = CHUNK_BYTES): void {
  const v = new DumpView(btf);
  const out = new OutBuf(Math.min(chunkBytes, v.outputBound(6)), sink);
  dumpInto(v, out);
  out.flush();
}

function dumpInto(v: DumpView, out: OutBuf): void {
  const w = v.w;
  const recs = v.recs;
  out.raw(OPEN);
  for (let i = 0; i < recs.length; i++) {
    const o = recs[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    out.raw(i ? NEXT_ID : FIRST_ID);
    out.u32(v.startId + i);
    out.raw(KINDS[kind]);
    v.name(out, w[o], true);
    out.byte(34); // "
    KIND_DUMPERS[kind](v, out, w, o, info);
    out.byte(125); // }
  }
  out.raw(CLOSE);
}

/** dumpJsonBytes as text (latin1: one character per byte). */
export function dumpJson(btf: Btf): string {
  return Buffer.from(dumpJsonBytes(btf)).toString('latin1');
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const OPEN = ascii('{"types":[');
const CLOSE = ascii(']}\n');
const FIRST_ID = ascii('{"id":');
const NEXT_ID = ascii(',{"id":');
/** `,"kind":"KIND","name":"` by kind number. */
const KINDS = Array.from({ length: 32 }, (_, k) => ascii(`,"kind":"${KIND_STR[k <= BTF_KIND_MAX ? k : 0]}","name":"`));
const FIRST_NAME = ascii('{"name":"');
const NEXT_NAME = ascii(',{"name":"');
const keys = new Map<string, Uint8Array>();
/** `,"name":` as bytes (interned). */
function key(name: string): Uint8Array {
  let k = keys.get(name);
  if (!k) keys.set(name, (k = ascii(`,"${name}":`)));
  return k;
}
const SIZE = key('size');
const TYPE_ID = key('type_id');
const BITS_OFFSET = key('bits_offset');
const VLEN = key('vlen');
const VAL = key('val');

function kflag(info: number): boolean {
  return info >>> 31 === 1;
}

function uint(out: OutBuf, k: Uint8Array, value: number): void {
  out.raw(k);
  out.u32(value);
}

function str(out: OutBuf, name: string, value: string): void {
  out.raw(key(name));
  out.byte(34);
  out.lit(value);
  out.byte(34);
}

/** Writes the fields after "name": `o` is the record's word index. */
type KindDumper = (v: DumpView, out: OutBuf, w: Uint32Array, o: number, info: number) => void;

const dumpNothing: KindDumper = () => {};

const dumpInt: KindDumper = (_v, out, w, o) => {
  const x = w[o + 3];
  uint(out, SIZE, w[o + 2]);
  uint(out, BITS_OFFSET, (x >>> 16) & 0xff);
  uint(out, key('nr_bits'), x & 0xff);
  str(out, 'encoding', intEncodingStr((x >>> 24) & 0x0f));
};

const dumpRef: KindDumper = (_v, out, w, o) => uint(out, TYPE_ID, w[o + 2]);

const dumpArray: KindDumper = (_v, out, w, o) => {
  uint(out, TYPE_ID, w[o + 3]);
  uint(out, key('index_type_id'), w[o + 4]);
  uint(out, key('nr_elems'), w[o + 5]);
};

const MEMBERS = ascii(',"members":[');
const dumpComposite: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const bitfields = kflag(info);
  uint(out, SIZE, w[o + 2]);
  uint(out, VLEN, vlen);
  out.raw(MEMBERS);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    const off = w[q + 2];
    out.raw(k ? NEXT_NAME : FIRST_NAME);
    v.name(out, w[q], true);
    out.byte(34);
    uint(out, TYPE_ID, w[q + 1]);
    uint(out, BITS_OFFSET, bitfields ? off & 0xffffff : off);
    if (bitfields && off >>> 24) uint(out, key('bitfield_size'), off >>> 24);
    out.byte(125);
  }
  out.byte(93);
};

const VALUES = ascii(',"values":[');
const dumpEnum: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const signed = kflag(info);
  str(out, 'encoding', signed ? 'SIGNED' : 'UNSIGNED');
  uint(out, SIZE, w[o + 2]);
  uint(out, VLEN, vlen);
  out.raw(VALUES);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
    out.raw(k ? NEXT_NAME : FIRST_NAME);
    v.name(out, w[q], true);
    out.byte(34);
    out.raw(VAL);
    const val = w[q + 1] | 0;
    if (signed) out.i32(val);
    // bpftool widens the s32 value to u64 before printing it unsigned
    else if (val < 0) out.num(BigInt.asUintN(64, BigInt(val)));
    else out.u32(val);
    out.byte(125);
  }
  out.byte(93);
};

const dumpEnum64: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const signed = kflag(info);
  str(out, 'encoding', signed ? 'SIGNED' : 'UNSIGNED');
  uint(out, SIZE, w[o + 2]);
  uint(out, VLEN, vlen);
  out.raw(VALUES);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    out.raw(k ? NEXT_NAME : FIRST_NAME);
    v.name(out, w[q], true);
    out.byte(34);
    out.raw(VAL);
    out.num(enum64Value(w[q + 1], w[q + 2], signed));
    out.byte(125);
  }
  out.byte(93);
};

const dumpFwd: KindDumper = (_v, out, _w, _o, info) => str(out, 'fwd_kind', kflag(info) ? 'union' : 'struct');

const dumpFunc: KindDumper = (_v, out, w, o, info) => {
  uint(out, TYPE_ID, w[o + 2]);
  str(out, 'linkage', funcLinkageStr(info & 0xffff));
};

const PARAMS = ascii(',"params":[');
const dumpFuncProto: KindDumper = (v, out, w, o, info) => {
  const vlen = info & 0xffff;
  uint(out, key('ret_type_id'), w[o + 2]);
  uint(out, VLEN, vlen);
  out.raw(PARAMS);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
    out.raw(k ? NEXT_NAME : FIRST_NAME);
    v.name(out, w[q], true);
    out.byte(34);
    uint(out, TYPE_ID, w[q + 1]);
    out.byte(125);
  }
  out.byte(93);
};

const dumpVar: KindDumper = (_v, out, w, o) => {
  uint(out, TYPE_ID, w[o + 2]);
  str(out, 'linkage', varLinkageStr(w[o + 3]));
};

const VARS = ascii(',"vars":[');
const FIRST_VAR = ascii('{"type_id":');
const NEXT_VAR = ascii(',{"type_id":');
const dumpDatasec: KindDumper = (_v, out, w, o, info) => {
  const vlen = info & 0xffff;
  uint(out, SIZE, w[o + 2]);
  uint(out, VLEN, vlen);
  out.raw(VARS);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    out.raw(k ? NEXT_VAR : FIRST_VAR);
    out.u32(w[q]);
    uint(out, key('offset'), w[q + 1]);
    uint(out, SIZE, w[q + 2]);
    out.byte(125);
  }
  out.byte(93);
};

const dumpFloat: KindDumper = (_v, out, w, o) => uint(out, SIZE, w[o + 2]);

const dumpDeclTag: KindDumper = (_v, out, w, o) => {
  uint(out, TYPE_ID, w[o + 2]);
  out.raw(key('component_idx'));
  out.i32(w[o + 3] | 0);
};

/** By BTF_KIND_* number (0..31; unknown kinds have no fields beyond id, kind and name). */
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
