// Index files of kernel BTF on disk (btf/index-file.ts): a process that reads the same vmlinux
// BTF as an earlier one (the CLI run after run, the agent, the language server) reuses its
// type offsets and name hash instead of scanning and indexing 126k types again. Files live in
// $XDG_CACHE_HOME/bpf-lens/btf-index (or ~/.cache/...), one per BTF content and index format; a file that does
// not check out is rebuilt, and a cache that cannot be read or written only costs time.
// BPF_LENS_NO_BTF_INDEX=1 turns it off.
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'fs';
import { homedir } from 'os';
import { join } from 'path';
import { type Btf, type ParseOptions, parseBtf } from '../btf/btf';
import { INDEX_FORMAT, INDEX_HOST_OK, btfDigest, encodeIndex, parseWithIndex } from '../btf/index-file';
import { mapFilePrivate } from './sys';

/** Where index files live (BPF_LENS_BTF_INDEX_DIR moves them, e.g. for tests). */
export function btfIndexDir(): string {
  return process.env.BPF_LENS_BTF_INDEX_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'bpf-lens', 'btf-index');
}

/** Index files kept: a few kernels' worth; older ones are removed when a new one is written. */
const KEEP = 8;

/**
 * Parses a BTF blob without a base through its index file when there is a good one, else
 * as parseBtf() does and writes the index for next time. Same Btf either way.
 */
export function parseKernelBtf(bytes: Uint8Array, opts: ParseOptions = {}, dir = btfIndexDir(), known?: Uint8Array): Btf {
  if (opts.base || !INDEX_HOST_OK || process.env.BPF_LENS_NO_BTF_INDEX) return parseBtf(bytes, opts);
  const digest = known ?? btfDigest(bytes);
  const file = join(dir, `${Buffer.from(digest).toString('hex').slice(0, 32)}-v${INDEX_FORMAT}.btfidx`);
  let index: Uint8Array | undefined;
  try {
    index = readCacheFile(file);
  } catch {
    index = undefined;
  }
  // an index found wrong where a lookup reads it is replaced by one of the blob's own scan
  const onIndexCorrupt = (btf: Btf) => writeIndex(dir, file, btf, bytes, digest);
  const fast = index && parseWithIndex(bytes, index, digest, { ...opts, onIndexCorrupt });
  if (fast) return fast;
  const btf = parseBtf(bytes, opts);
  writeIndex(dir, file, btf, bytes, digest);
  return btf;
}

function writeIndex(dir: string, file: string, btf: Btf, bytes: Uint8Array, digest: Uint8Array): void {
  try {
    const out = encodeIndex(btf, bytes, digest);
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, out);
    renameSync(tmp, file);
    prune(dir);
  } catch {
    // read-only home, full disk: parse every time
  }
}

/**
 * A file of this cache, mapped where it can be (only the pages a command reads cost a page
 * fault), else read. Cache files are only ever replaced by rename, never rewritten in place.
 */
function readCacheFile(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    return mapFilePrivate(fd, size) ?? plain(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}

/** Keeps the KEEP newest index files. */
function prune(dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.btfidx'));
  if (files.length <= KEEP) return;
  const byAge = files.map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { f } of byAge.slice(KEEP)) rmSync(join(dir, f), { force: true });
}

const DIGEST_LEN = 32;
/** A Buffer's bytes as a plain Uint8Array (whose slice() copies, as the parser expects). */
const plain = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
/** Pages of a saved copy compared with the kernel's on each use (plus one chosen at random). */
const SPOT_PAGES = 16;
const PAGE = 4096;

/** The kernel's boot id: a built-in BTF file cannot change until it does. */
function bootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    return /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `copy` holds what `file` holds at a spread of page offsets (and one random page). */
function spotChecked(file: string, copy: Uint8Array): boolean {
  const fd = openSync(file, 'r');
  try {
    const pages = Math.ceil(copy.length / PAGE);
    const picks = new Set(Array.from({ length: SPOT_PAGES }, (_, i) => Math.floor((i * (pages - 1)) / (SPOT_PAGES - 1))));
    picks.add(Math.floor(Math.random() * pages));
    const page = Buffer.alloc(PAGE);
    for (const p of picks) {
      const n = readSync(fd, page, 0, PAGE, p * PAGE);
      if (n !== Math.min(PAGE, copy.length - p * PAGE) || Buffer.compare(page.subarray(0, n), copy.subarray(p * PAGE, p * PAGE + n)) !== 0)
        return false;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * A built-in kernel BTF file (vmlinux) and its digest. sysfs hands it out 4 KiB per read (about
 * 1,300 reads, ~35 ms from Node) and hashing it costs ~25 ms more, so the first process of a boot
 * saves a copy with its digest under the boot id and size; later ones read the copy from the page
 * cache. Each use compares pages of the copy with the kernel's; a copy that does not match, has
 * the wrong size or cannot be read is replaced. Copies of other boots are removed.
 */
export function readKernelBtfFile(file: string, dir = btfIndexDir()): { bytes: Uint8Array; digest?: Uint8Array } {
  const boot = bootId();
  if (!boot || !INDEX_HOST_OK || process.env.BPF_LENS_NO_BTF_INDEX) return { bytes: plain(readFileSync(file)) };
  const size = statSync(file).size;
  const name = `${file.replace(/[^A-Za-z0-9]+/g, '_')}-${boot}-${size}.btfcopy`;
  const copy = join(dir, name);
  try {
    const saved = readCacheFile(copy);
    const bytes = saved.subarray(0, size);
    if (saved.length === size + DIGEST_LEN && spotChecked(file, bytes)) return { bytes, digest: saved.subarray(size) };
  } catch {
    // none yet, or unreadable: make one
  }
  const bytes = plain(readFileSync(file));
  const digest = btfDigest(bytes);
  if (bytes.length === size) saveCopy(dir, copy, bytes, digest);
  return { bytes, digest };
}

function saveCopy(dir: string, copy: string, bytes: Uint8Array, digest: Uint8Array): void {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${copy}.${process.pid}`;
    writeFileSync(tmp, Buffer.concat([bytes, digest]));
    renameSync(tmp, copy);
    const prefix = copy.slice(dir.length + 1).replace(/-[0-9a-f-]{36}-\d+\.btfcopy$/, '-');
    for (const f of readdirSync(dir))
      if (f.startsWith(prefix) && f.endsWith('.btfcopy') && join(dir, f) !== copy) rmSync(join(dir, f), { force: true });
  } catch {
    // read-only home, full disk: read sysfs every time
  }
}
