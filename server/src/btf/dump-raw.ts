import type { Btf } from './btf';
import { DumpView, KIND_STR, enum64Value, funcLinkageStr, intEncodingStr, varLinkageStr } from './dump-view';
import { CHUNK_BYTES, type ChunkSink, OutBuf } from './out-buf';
import { BTF_KIND_MAX } from './types';

/**
 * The text of `bpftool btf dump file FILE` (format raw), byte for byte: one `[id] KIND
 * 'name' ...` line per own type (split BTF: only the split's types, ids after the base's),
 * members, values, params and section vars on tab-indented lines below it.
 *
 * Each type's text is built as a latin1 string (names are decoded once per string section)
 * and handed to OutBuf, which copies the texts in by one native call per 16 KiB. The per-byte
 * work then runs in V8's builtins, fast in every tier: a cold process dumping a small object
 * never optimises a hot byte loop. Byte writers cost such a dump 2–4 ms of optimising compiler
 * (bench:cold; tried again with the JSON dump's writer: 10–11.5 ms against 7.7–8).
 */
export function dumpRawBytes(btf: Btf): Uint8Array {
  const v = new DumpView(btf);
  const out = new OutBuf(v.outputBound(4));
  dumpInto(v, out);
  return out.bytes();
}

/**
 * The same text handed to `sink` in chunks of at most `chunkBytes` (more only for one write
 * bigger than a chunk), so memory stays bounded whatever the input makes the text grow to.
 */
export function dumpRawTo(btf: Btf, sink: ChunkSink, chunkBytes = CHUNK_BYTES): void {
  const v = new DumpView(btf);
  const out = new OutBuf(Math.min(chunkBytes, v.outputBound(4)), sink);
  dumpInto(v, out);
  out.flush();
}

/** dumpRawBytes as text (latin1: one character per byte). */
export function dumpRaw(btf: Btf): string {
  return Buffer.from(dumpRawBytes(btf)).toString('latin1');
}

function dumpInto(v: DumpView, out: OutBuf): void {
  const w = v.w;
  const recs = v.recs;
  for (let i = 0; i < recs.length; i++) {
    const o = recs[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const head = `[${v.startId + i}] ${KIND_STR[kind <= BTF_KIND_MAX ? kind : 0]} '${v.nameText(w[o])}'`;
    out.latin1(`${KIND_TEXT[kind](head, v, out, w, o, info)}\n`);
  }
}

/**
 * `head` (the type's text up to its name) and what follows, item lines included. `o` is the
 * record's word index, `w[o + 3]` its first extra word. Writers of items hand `out` what they
 * have built once it passes ITEMS_TEXT_MAX, so one type with 65535 long-named members stays bounded.
 */
type KindText = (head: string, v: DumpView, out: OutBuf, w: Uint32Array, o: number, info: number) => string;

const ITEMS_TEXT_MAX = 1 << 16;

function kflag(info: number): boolean {
  return info >>> 31 === 1;
}

const noText: KindText = (head) => head;

const intText: KindText = (head, _v, _out, w, o) => {
  const x = w[o + 3];
  const encoding = intEncodingStr((x >>> 24) & 0x0f);
  return `${head} size=${w[o + 2]} bits_offset=${(x >>> 16) & 0xff} nr_bits=${x & 0xff} encoding=${encoding}`;
};

const refText: KindText = (head, _v, _out, w, o) => `${head} type_id=${w[o + 2]}`;

const arrayText: KindText = (head, _v, _out, w, o) => `${head} type_id=${w[o + 3]} index_type_id=${w[o + 4]} nr_elems=${w[o + 5]}`;

const compositeText: KindText = (head, v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const bitfields = kflag(info);
  let text = `${head} size=${w[o + 2]} vlen=${vlen}`;
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    const off = w[q + 2];
    text += `\n\t'${v.nameText(w[q])}' type_id=${w[q + 1]} bits_offset=${bitfields ? off & 0xffffff : off}`;
    if (bitfields && off >>> 24) text += ` bitfield_size=${off >>> 24}`;
    if (text.length > ITEMS_TEXT_MAX) text = handOver(out, text);
  }
  return text;
};

const enumText: KindText = (head, v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const signed = kflag(info);
  let text = `${head} encoding=${signed ? 'SIGNED' : 'UNSIGNED'} size=${w[o + 2]} vlen=${vlen}`;
  for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
    text += `\n\t'${v.nameText(w[q])}' val=${signed ? w[q + 1] | 0 : w[q + 1]}`;
    if (text.length > ITEMS_TEXT_MAX) text = handOver(out, text);
  }
  return text;
};

const enum64Text: KindText = (head, v, out, w, o, info) => {
  const vlen = info & 0xffff;
  const signed = kflag(info);
  let text = `${head} encoding=${signed ? 'SIGNED' : 'UNSIGNED'} size=${w[o + 2]} vlen=${vlen}`;
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    const value = enum64Value(w[q + 1], w[q + 2], signed);
    text += `\n\t'${v.nameText(w[q])}' val=${value}${signed ? 'LL' : 'ULL'}`;
    if (text.length > ITEMS_TEXT_MAX) text = handOver(out, text);
  }
  return text;
};

const fwdText: KindText = (head, _v, _out, _w, _o, info) => `${head}${kflag(info) ? ' fwd_kind=union' : ' fwd_kind=struct'}`;

const funcText: KindText = (head, _v, _out, w, o, info) => `${head} type_id=${w[o + 2]} linkage=${funcLinkageStr(info & 0xffff)}`;

const funcProtoText: KindText = (head, v, out, w, o, info) => {
  const vlen = info & 0xffff;
  let text = `${head} ret_type_id=${w[o + 2]} vlen=${vlen}`;
  for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
    text += `\n\t'${v.nameText(w[q])}' type_id=${w[q + 1]}`;
    if (text.length > ITEMS_TEXT_MAX) text = handOver(out, text);
  }
  return text;
};

const varText: KindText = (head, _v, _out, w, o) => `${head} type_id=${w[o + 2]}, linkage=${varLinkageStr(w[o + 3])}`;

const datasecText: KindText = (head, v, out, w, o, info) => {
  const vlen = info & 0xffff;
  let text = `${head} size=${w[o + 2]} vlen=${vlen}`;
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    const type = w[q];
    text += `\n\ttype_id=${type} offset=${w[q + 1]} size=${w[q + 2]}`;
    if (type < v.btf.length) {
      // bpftool names what each entry points at (type 0 is void: kind UNKNOWN)
      const kind = KIND_STR[type === 0 ? 0 : v.kindOf(type)];
      text += ` (${kind} '${v.nameText(type === 0 ? 0 : v.nameOffOf(type))}')`;
    }
    if (text.length > ITEMS_TEXT_MAX) text = handOver(out, text);
  }
  return text;
};

const floatText: KindText = (head, _v, _out, w, o) => `${head} size=${w[o + 2]}`;

const declTagText: KindText = (head, _v, _out, w, o) => `${head} type_id=${w[o + 2]} component_idx=${w[o + 3] | 0}`;

/** Writes a type's text built so far (past ITEMS_TEXT_MAX) and starts anew. */
function handOver(out: OutBuf, text: string): string {
  out.latin1(text);
  return '';
}

/** By BTF_KIND_* number (0..31; kinds past ENUM64 print nothing more, as in bpftool). */
const KIND_TEXT: readonly KindText[] = [
  noText,
  intText,
  refText,
  arrayText,
  compositeText,
  compositeText,
  enumText,
  fwdText,
  refText,
  refText,
  refText,
  refText,
  funcText,
  funcProtoText,
  varText,
  datasecText,
  floatText,
  declTagText,
  refText,
  enum64Text,
  ...new Array<KindText>(12).fill(noText),
];
