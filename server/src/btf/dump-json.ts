import type { Btf } from './btf';
import { DumpView, KIND_STR, enum64Value, funcLinkageStr, intEncodingStr, varLinkageStr } from './dump-view';
import { CHUNK_BYTES, type ChunkSink } from './out-buf';
import { BTF_KIND_MAX } from './types';

/**
 * The text of `bpftool -j btf dump file FILE`: `{"types":[...]}` and a newline, with
 * bpftool's field names, order and number formats, and its string escaping (names are
 * bytes; tab, newline, CR, FF, BS, backslash and double quote are escaped). One deliberate
 * difference: bpftool 7.1 writes a backslash as `\n` (a json_writer bug); we write `\\`.
 */
export function dumpJsonBytes(btf: Btf): Uint8Array {
  const parts: Buffer[] = [];
  dumpJsonTo(btf, (chunk) => parts.push(Buffer.from(chunk)));
  return Buffer.concat(parts);
}

/** dumpJsonBytes as text (latin1: one character per byte). */
export function dumpJson(btf: Btf): string {
  return Buffer.from(dumpJsonBytes(btf)).toString('latin1');
}

/**
 * The same text handed to `sink` in chunks of at most `chunkBytes` (at least 16 KiB), so
 * memory stays bounded whatever the input makes the text grow to.
 */
export function dumpJsonTo(btf: Btf, sink: ChunkSink, chunkBytes = CHUNK_BYTES): void {
  const v = new DumpView(btf);
  writeTypes(v, byteWriter(v, sink, Math.max(4 * SLACK, Math.min(chunkBytes, v.outputBound(6)))));
}

/**
 * Room checked once per type and per item: the most one writes apart from its name (names and
 * otherFields' text are checked as they are copied).
 */
const SLACK = 4096;

/**
 * The writers a dump writes with, over one buffer that goes to `sink` whenever a type or item
 * finds it nearly full. Closures over one `pos`, called from writeTypes() through local
 * constants: see there why.
 */
function byteWriter(v: DumpView, sink: ChunkSink, size: number): JsonOut {
  const buf = Buffer.allocUnsafe(size);
  const limit = size - SLACK;
  const { ownStrings: strings, ownStrOff: strOff } = v;
  let pos = 0;
  const room = () => {
    if (pos <= limit) return;
    sink(buf.subarray(0, pos));
    pos = 0;
  };
  const put = (src: Uint8Array) => {
    for (let i = 0; i < src.length; i++) buf[pos++] = src[i];
  };
  const u32 = (x: number) => {
    // prettier-ignore
    let p = (pos += x < 10 ? 1 : x < 100 ? 2 : x < 1000 ? 3 : x < 10000 ? 4 : x < 100000 ? 5 : x < 1000000 ? 6 : x < 10000000 ? 7 : x < 100000000 ? 8 : x < 1000000000 ? 9 : 10);
    do {
      const q = (x / 10) >>> 0;
      buf[--p] = 48 + x - q * 10;
      x = q;
    } while (x > 0);
  };
  const text = (t: string) => {
    for (let i = 0; i < t.length; i++) {
      room();
      buf[pos++] = t.charCodeAt(i);
    }
  };
  // Room checked per byte: a hostile name may be long. The own string section ends with a NUL
  // (parseBtf checks it), so the walk stops inside it.
  const name = (off: number) => {
    if (off === 0) return put(ANON);
    let i = off - strOff;
    if (i < 0 || i >= strings.length) return text(jsonEscape(v.nameText(off)));
    for (;;) {
      const c = strings[i++];
      if (c === 0) return;
      room();
      if (c < 14 || c === 34 || c === 92) {
        const e = ESCAPES[c];
        if (e) buf[pos++] = 92;
        buf[pos++] = e || c;
      } else buf[pos++] = c;
    }
  };
  const end = () => {
    if (pos > 0) sink(buf.subarray(0, pos));
    pos = 0;
  };
  return { room, put, u32, name, text, end };
}

/**
 * Every type of the dump. 18 MB for vmlinux, written from a cold process, mostly before V8
 * optimises anything; so the kinds vmlinux is made of are written inline in this one loop,
 * which V8 optimises as one piece on the stack (OSR) with the writers inlined. Each made a
 * function of its own was optimised apart first, one after another, while the loop waited in
 * the interpreter: a cold vmlinux dump took 90–105 ms so (per-kind functions over a buffer
 * class, or module functions over module variables), ~70 ms like this. The kinds vmlinux has a
 * few hundred of are otherFields'. Each `}` is written with the next item's opening.
 */
function writeTypes(v: DumpView, out: JsonOut): void {
  const { room, put, u32, name } = out;
  const { w, recs, startId } = v;
  put(OPEN);
  for (let i = 0; i < recs.length; i++) {
    room();
    const o = recs[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    put(i ? NEXT_ID : FIRST_ID);
    u32(startId + i);
    put(KINDS[kind]);
    name(w[o]);
    switch (kind) {
      case 2: // PTR
      case 8: // TYPEDEF
      case 9: // VOLATILE
      case 10: // CONST
      case 11: // RESTRICT
      case 18: // TYPE_TAG
        put(QUOTE_TYPE_ID);
        u32(w[o + 2]);
        break;
      case 12: // FUNC
        put(QUOTE_TYPE_ID);
        u32(w[o + 2]);
        put(FUNC_LINKAGE[Math.min(vlen, 3)]);
        break;
      case 13: // FUNC_PROTO
        put(QUOTE_RET_TYPE_ID);
        u32(w[o + 2]);
        put(VLEN);
        u32(vlen);
        put(PARAMS);
        for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
          room();
          put(k ? NEXT_NAME : FIRST_NAME);
          name(w[q]);
          put(QUOTE_TYPE_ID);
          u32(w[q + 1]);
        }
        put(vlen ? END_ITEMS : END_NO_ITEMS);
        break;
      case 4: // STRUCT, and UNION:
      case 5: {
        const bitfields = kflag(info);
        put(QUOTE_SIZE);
        u32(w[o + 2]);
        put(VLEN);
        u32(vlen);
        put(MEMBERS);
        for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
          room();
          const off = w[q + 2];
          put(k ? NEXT_NAME : FIRST_NAME);
          name(w[q]);
          put(QUOTE_TYPE_ID);
          u32(w[q + 1]);
          put(BITS_OFFSET);
          u32(bitfields ? off & 0xffffff : off);
          if (bitfields && off >>> 24) {
            put(BITFIELD_SIZE);
            u32(off >>> 24);
          }
        }
        put(vlen ? END_ITEMS : END_NO_ITEMS);
        break;
      }
      case 6: {
        // ENUM (ENUM64 is otherFields')
        const signed = kflag(info);
        put(signed ? QUOTE_SIGNED_SIZE : QUOTE_UNSIGNED_SIZE);
        u32(w[o + 2]);
        put(VLEN);
        u32(vlen);
        put(VALUES);
        for (let k = 0, q = o + 3; k < vlen; k++, q += 2) {
          room();
          put(k ? NEXT_NAME : FIRST_NAME);
          name(w[q]);
          put(QUOTE_VAL);
          if (w[q + 1] <= 0x7fffffff) u32(w[q + 1]);
          else out.text(enumValueText(w[q + 1], signed));
        }
        put(vlen ? END_ITEMS : END_NO_ITEMS);
        break;
      }
      case 3: // ARRAY
        put(QUOTE_TYPE_ID);
        u32(w[o + 3]);
        put(INDEX_TYPE_ID);
        u32(w[o + 4]);
        put(NR_ELEMS);
        u32(w[o + 5]);
        break;
      default:
        put(QUOTE);
        otherFields(v, kind, o, info, out);
    }
  }
  put(recs.length ? CLOSE_AFTER_TYPE : CLOSE);
  out.end();
}

/** What a dump writes with: byteWriter's closures (no `this`: taken apart into local constants). */
interface JsonOut {
  /** Makes room for a type or item (SLACK bytes) before it is written. */
  room: () => void;
  /** Short pre-encoded bytes (room made first). */
  put: (src: Uint8Array) => void;
  /** An unsigned 32-bit number in decimal (`%u`). */
  u32: (x: number) => void;
  /** The name at a string offset as bpftool writes it, escaped as json_writer does. */
  name: (off: number) => void;
  /** JSON text of any length (latin1), room checked per byte. */
  text: (t: string) => void;
  /** Hands the rest to the sink. */
  end: () => void;
}

/** The fields after "name" of the kinds jsonWriter does not write itself. */
function otherFields(v: DumpView, kind: number, o: number, info: number, out: JsonOut): void {
  const w = v.w;
  switch (kind) {
    case 1: {
      const x = w[o + 3];
      return fieldsOf(
        out,
        [SIZE, w[o + 2], BITS_OFFSET, (x >>> 16) & 0xff, NR_BITS, x & 0xff],
        ENCODING,
        intEncodingStr((x >>> 24) & 0x0f),
      );
    }
    case 19:
      return enum64Fields(v, o, info, out);
    case 7:
      return fieldsOf(out, [], FWD_KIND, kflag(info) ? 'union' : 'struct');
    case 14:
      return fieldsOf(out, [TYPE_ID, w[o + 2]], LINKAGE, varLinkageStr(w[o + 3]));
    case 15:
      return varsOf(v, o, info, out);
    case 16:
      return fieldsOf(out, [SIZE, w[o + 2]]);
    case 17:
      fieldsOf(out, [TYPE_ID, w[o + 2]]);
      out.put(COMPONENT_IDX);
      return out.text(String(w[o + 3] | 0));
  }
}

/** `,"key":N` for each key and number in `pairs`, then `,"key":"text"` if given. */
function fieldsOf(out: JsonOut, pairs: (Uint8Array | number)[], key?: Uint8Array, text?: string): void {
  for (let i = 0; i < pairs.length; i += 2) {
    out.put(pairs[i] as Uint8Array);
    out.u32(pairs[i + 1] as number);
  }
  if (!key) return;
  out.put(key);
  out.text(`"${text}"`);
}

/** ENUM64: encoding, size and each value. */
function enum64Fields(v: DumpView, o: number, info: number, out: JsonOut): void {
  const w = v.w;
  const vlen = info & 0xffff;
  const signed = kflag(info);
  out.put(ENCODING);
  out.text(signed ? '"SIGNED"' : '"UNSIGNED"');
  fieldsOf(out, [SIZE, w[o + 2], VLEN, vlen]);
  out.put(VALUES);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    out.room();
    out.put(k ? NEXT_NAME : FIRST_NAME);
    out.name(w[q]);
    out.put(QUOTE_VAL);
    out.text(enum64Value(w[q + 1], w[q + 2], signed).toString());
  }
  out.put(vlen ? END_ITEMS : END_NO_ITEMS);
}

/** An ENUM value past s32's positive range: negative if signed, else as bpftool prints it. */
function enumValueText(raw: number, signed: boolean): string {
  const val = raw | 0;
  // bpftool widens the s32 value to u64 before printing it unsigned
  return signed ? String(val) : BigInt.asUintN(64, BigInt(val)).toString();
}

/** DATASEC: its vars' type ids, offsets and sizes. */
function varsOf(v: DumpView, o: number, info: number, out: JsonOut): void {
  const w = v.w;
  const vlen = info & 0xffff;
  fieldsOf(out, [SIZE, w[o + 2], VLEN, vlen]);
  out.put(VARS);
  for (let k = 0, q = o + 3; k < vlen; k++, q += 3) {
    out.room();
    out.put(k ? NEXT_VAR : FIRST_VAR);
    out.u32(w[q]);
    fieldsOf(out, [OFFSET, w[q + 1], SIZE, w[q + 2]]);
    out.text('}');
  }
  out.text(']');
}

/** A name (latin1 text) escaped as bpftool's json_writer does. */
function jsonEscape(s: string): string {
  return s.replace(/[\b\t\n\f\r"\\]/g, (c) => `\\${String.fromCharCode(ESCAPES[c.charCodeAt(0)])}`);
}

function kflag(info: number): boolean {
  return info >>> 31 === 1;
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** The letter after the backslash for the bytes json_writer escapes (0: written as they are). */
const ESCAPES = new Uint8Array(128);
for (const [c, e] of ['\bb', '\tt', '\nn', '\ff', '\rr', '""', '\\\\']) ESCAPES[c.charCodeAt(0)] = e.charCodeAt(0);

const ANON = ascii('(anon)');
const OPEN = ascii('{"types":[');
const CLOSE = ascii(']}\n');
const CLOSE_AFTER_TYPE = ascii('}]}\n');
const FIRST_ID = ascii('{"id":');
const NEXT_ID = ascii('},{"id":');
/** `,"kind":"KIND","name":"` by kind number. */
const KINDS = Array.from({ length: 32 }, (_, k) => ascii(`,"kind":"${KIND_STR[k <= BTF_KIND_MAX ? k : 0]}","name":"`));
/** Members, params and values: the first one's opening, and a later one's with the `}` before it. */
const FIRST_NAME = ascii('{"name":"');
const NEXT_NAME = ascii('},{"name":"');
const END_ITEMS = ascii('}]');
const END_NO_ITEMS = ascii(']');
const QUOTE = ascii('"');
const QUOTE_TYPE_ID = ascii('","type_id":');
const QUOTE_RET_TYPE_ID = ascii('","ret_type_id":');
const QUOTE_SIZE = ascii('","size":');
const QUOTE_SIGNED_SIZE = ascii('","encoding":"SIGNED","size":');
const QUOTE_UNSIGNED_SIZE = ascii('","encoding":"UNSIGNED","size":');
const QUOTE_VAL = ascii('","val":');
const MEMBERS = ascii(',"members":[');
const PARAMS = ascii(',"params":[');
const VALUES = ascii(',"values":[');
const VARS = ascii(',"vars":[');
const SIZE = ascii(',"size":');
const TYPE_ID = ascii(',"type_id":');
const BITS_OFFSET = ascii(',"bits_offset":');
const BITFIELD_SIZE = ascii(',"bitfield_size":');
const VLEN = ascii(',"vlen":');
const NR_BITS = ascii(',"nr_bits":');
const INDEX_TYPE_ID = ascii(',"index_type_id":');
const NR_ELEMS = ascii(',"nr_elems":');
const OFFSET = ascii(',"offset":');
const COMPONENT_IDX = ascii(',"component_idx":');
const ENCODING = ascii(',"encoding":');
const LINKAGE = ascii(',"linkage":');
const FWD_KIND = ascii(',"fwd_kind":');
const FIRST_VAR = ascii('{"type_id":');
const NEXT_VAR = ascii(',{"type_id":');
/** `,"linkage":"…"` of a FUNC by its linkage number (3: unknown). */
const FUNC_LINKAGE = [0, 1, 2, 3].map((l) => ascii(`,"linkage":"${funcLinkageStr(l)}"`));
