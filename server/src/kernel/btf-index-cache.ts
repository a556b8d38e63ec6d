// Index files of kernel BTF on disk (btf/index-file.ts): a process that reads the same vmlinux
// BTF as an earlier one (the CLI run after run, the agent, the language server) reuses its
// type offsets and name hash instead of scanning and indexing 126k types again. Files live in
// $XDG_CACHE_HOME/bpf-lens/btf-index (or ~/.cache/...), one per BTF content; a file that does
// not check out is rebuilt, and a cache that cannot be read or written only costs time.
// BPF_LENS_NO_BTF_INDEX=1 turns it off.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'fs';
import { homedir } from 'os';
import { join } from 'path';
import { type Btf, type ParseOptions, parseBtf } from '../btf/btf';
import { INDEX_HOST_OK, btfDigest, encodeIndex, parseWithIndex } from '../btf/index-file';

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
export function parseKernelBtf(bytes: Uint8Array, opts: ParseOptions = {}, dir = btfIndexDir()): Btf {
  if (opts.base || !INDEX_HOST_OK || process.env.BPF_LENS_NO_BTF_INDEX) return parseBtf(bytes, opts);
  const digest = btfDigest(bytes);
  const file = join(dir, `${Buffer.from(digest).toString('hex').slice(0, 32)}.btfidx`);
  let index: Buffer | undefined;
  try {
    index = readFileSync(file);
  } catch {
    index = undefined;
  }
  const fast = index && parseWithIndex(bytes, index, digest, opts);
  if (fast) return fast;
  const btf = parseBtf(bytes, opts);
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
  return btf;
}

/** Keeps the KEEP newest index files. */
function prune(dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.btfidx'));
  if (files.length <= KEEP) return;
  const byAge = files.map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { f } of byAge.slice(KEEP)) rmSync(join(dir, f), { force: true });
}
