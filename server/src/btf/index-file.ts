// An index file of one BTF blob: where each type record starts and the name hash (with the
// CO-RE flavor list), so that a process which reads the same kernel BTF again skips the type
// scan and the name indexing. The file names the BTF it was made from (size and SHA-256 of
// its bytes) in a header that carries its own checksum; a header that does not check out, or a
// file whose length is not the one its header gives, is refused. The checksum (FNV-1a, two
// 32-bit lanes) guards against torn or damaged files, as the SHA-256 before it did, without
// node's crypto module, whose first require costs a cold process ~6 ms. The body is not hashed on
// open (that read every page, ~10 ms a run): each entry a lookup reads is checked against the
// BTF itself (raw.ts recordCheck, name-hash.ts), and a wrong one makes the blob drop the index
// and answer from its own scan (btf.ts), so a corrupt index costs time, never a wrong answer.
import type * as Crypto from 'crypto';
import { type Btf, type ParseOptions, parseBtf } from './btf';
import type { NameHashTables } from './name-hash';
import { fnvLanes } from '../common/fnv';

const MAGIC = 0x58495442; // 'BTIX'
/**
 * Bump when the layout, the name hash function or the header checksum changes. Index file
 * names carry it, so builds of two formats sharing a cache keep one file each instead of
 * replacing each other's on every run.
 */
export const INDEX_FORMAT = 3;
const HEADER_WORDS = 6;
const DIGEST = 32;
const CHECKSUM = 8;
/** Header words, the BTF's digest, and the checksum of those two. */
const BODY = 4 * HEADER_WORDS + DIGEST + CHECKSUM;

/** The identity of a BTF blob: SHA-256 of its bytes (crypto loaded only here: most processes reuse a digest saved with the blob). */
export function btfDigest(bytes: Uint8Array): Uint8Array {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('crypto') as typeof Crypto;
  return createHash('sha256').update(bytes).digest();
}

/** A header's checksum, 8 bytes (common/fnv.ts). */
const checksum = (bytes: Uint8Array) => new Uint8Array(new Uint32Array(fnvLanes(bytes)).buffer);

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/** Index files hold host-order words: written and read only where that is little-endian. */
export const INDEX_HOST_OK = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The index file of a parsed blob without a base (builds its name hash and flavor list now). */
export function encodeIndex(btf: Btf, bytes: Uint8Array, digest: Uint8Array): Uint8Array {
  const raw = btf.records;
  const t = btf.nameHashTables;
  if (!raw || !t || btf.base || !INDEX_HOST_OK) throw new Error('only a parsed BTF blob without a base has an index file');
  const count = raw.count;
  const words = new Uint32Array(BODY / 4 + 2 * count + t.heads.length + t.triple.length);
  words.set([MAGIC, INDEX_FORMAT, bytes.length, count, t.heads.length, t.triple.length]);
  const out = new Uint8Array(words.buffer);
  out.set(digest, 4 * HEADER_WORDS);
  out.set(checksum(out.subarray(0, 4 * HEADER_WORDS + DIGEST)), 4 * HEADER_WORDS + DIGEST);
  let at = BODY / 4;
  for (const arr of [raw.offsets, t.heads, t.next, t.triple]) {
    words.set(arr instanceof Int32Array ? new Uint32Array(arr.buffer, arr.byteOffset, arr.length) : arr, at);
    at += arr.length;
  }
  return out;
}

interface IndexTables {
  readonly records: Uint32Array;
  readonly names: NameHashTables;
}

/**
 * The tables of an index file whose header is whole, of this format and of the BTF `digest`
 * names, and whose length is the one the header gives. Its entries are checked where read.
 */
export function decodeIndex(file: Uint8Array, size: number, digest: Uint8Array): IndexTables | undefined {
  if (!INDEX_HOST_OK || file.length < BODY || file.length % 4 !== 0) return undefined;
  const head = 4 * HEADER_WORDS + DIGEST;
  if (!equal(checksum(file.subarray(0, head)), file.subarray(head, BODY))) return undefined;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const [magic, format, btfSize, count, hashSize, tripleCount] = Array.from({ length: HEADER_WORDS }, (_, i) => dv.getUint32(4 * i, true));
  if (magic !== MAGIC || format !== INDEX_FORMAT || btfSize !== size || !equal(file.subarray(4 * HEADER_WORDS, head), digest))
    return undefined;
  if (hashSize === 0 || (hashSize & (hashSize - 1)) !== 0 || BODY + 4 * (2 * count + hashSize + tripleCount) !== file.length)
    return undefined;
  // Views of the file where its words are aligned (a fresh read is), copies where not.
  const own = file.byteOffset % 4 === 0 ? file : new Uint8Array(file);
  const view = <T>(Ctor: new (b: ArrayBufferLike, at: number, n: number) => T, at: number, n: number) =>
    new Ctor(own.buffer, own.byteOffset + at, n);
  const records = view(Uint32Array, BODY, count);
  const heads = view(Int32Array, BODY + 4 * count, hashSize);
  const next = view(Int32Array, BODY + 4 * (count + hashSize), count);
  const triple = Array.from(view(Uint32Array, BODY + 4 * (2 * count + hashSize), tripleCount));
  return { records, names: { heads, next, triple } };
}

/**
 * The blob parsed with its index file (no type scan, no name indexing), or undefined when the
 * index is not this blob's: then parse it as usual (and write a new index). An index found
 * wrong later, where a lookup reads it, calls opts.onIndexCorrupt (btf.ts).
 */
export function parseWithIndex(bytes: Uint8Array, file: Uint8Array, digest: Uint8Array, opts: ParseOptions = {}): Btf | undefined {
  if (opts.base) return undefined;
  const t = decodeIndex(file, bytes.length, digest);
  if (!t) return undefined;
  let btf: Btf;
  try {
    btf = parseBtf(bytes, { ...opts, records: t.records });
  } catch {
    return undefined;
  }
  if (btf.count !== t.records.length) return undefined;
  btf.adoptNameHash(t.names);
  return sampleHolds(btf) ? btf : undefined;
}

/**
 * A sample of named types is found where this build's hash function puts them. Another hash
 * function misplaces nearly every name, so 16 catch it; each costs a cold process page faults
 * in the mapped BTF and index (64 cost ~3 ms of a `bpf-lens load`).
 */
const SAMPLES = 16;

function sampleHolds(btf: Btf): boolean {
  const step = Math.max(1, Math.floor(btf.count / SAMPLES));
  for (let i = 0; i < btf.count; i += step) {
    const name = btf.nameOf(btf.startId + i);
    if (name && !btf.byName(name).includes(btf.startId + i)) return false;
  }
  return true;
}
