// Modern references built in the test setup (scripts/build-refs.sh: libbpf 1.5, bpftool 7.5
// and veristat from Debian's linux-source-6.12) and the differential corpus of the kernel's BPF
// selftests (scripts/selftests-corpus.sh, from linux-source-6.1). Both are cached outside the
// checkout; the first call builds them (minutes), later calls only look.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'fs';
import * as path from 'path';
import { ROOT } from './helpers';

export interface Refs {
  readonly dir: string;
  /** bpftool 7.5 with libbpf 1.5. */
  readonly bpftool: string;
  readonly veristat: string;
  /** libbpf 1.5's headers (bpf/*.h) and the matching UAPI linux/bpf.h. */
  readonly include: string;
  readonly libbpf: string;
}

export interface Corpus {
  readonly dir: string;
  /** Object files that compiled, sorted. */
  readonly objects: string[];
  /** Sources that did not compile. */
  readonly skipped: string[];
  readonly sources: number;
}

function script(name: string): string {
  return execFileSync('bash', [path.join(ROOT, 'scripts', name)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  }).trim();
}

let refs: Refs | undefined;
export function modernRefs(): Refs {
  if (refs) return refs;
  const dir = script('build-refs.sh');
  refs = {
    dir,
    bpftool: path.join(dir, 'bpftool'),
    veristat: path.join(dir, 'veristat'),
    include: path.join(dir, 'include'),
    libbpf: path.join(dir, 'libbpf.a'),
  };
  return refs;
}

let corpus: Corpus | undefined;
export function selftestsCorpus(): Corpus {
  if (corpus) return corpus;
  const dir = script('selftests-corpus.sh');
  const objs = path.join(dir, 'objs');
  corpus = {
    dir,
    objects: readdirSync(objs)
      .filter((f) => f.endsWith('.o'))
      .sort()
      .map((f) => path.join(objs, f)),
    skipped: readFileSync(path.join(dir, 'skipped'), 'utf8').split('\n').filter(Boolean),
    sources: Number(readFileSync(path.join(dir, 'sources'), 'utf8').trim()),
  };
  return corpus;
}

let loadOne: string | undefined;
/**
 * test/tools/load-one.c compiled against the libbpf 1.5 of modernRefs() (a second), cached by
 * the hash of its source and the refs directory.
 */
export function loadOneTool(): string {
  if (loadOne) return loadOne;
  const r = modernRefs();
  const src = path.join(ROOT, 'test', 'tools', 'load-one.c');
  const key = createHash('sha256').update(readFileSync(src)).update(r.dir).digest('hex').slice(0, 16);
  const dir = path.join(process.env.BPF_LENS_CACHE ?? '/var/cache/bpf-lens', 'tools', key);
  const bin = path.join(dir, 'load-one');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}`;
    execFileSync('gcc', ['-O2', '-Wall', `-I${r.include}`, '-o', tmp, src, r.libbpf, '-lelf', '-lz'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    renameSync(tmp, bin);
  }
  return (loadOne = bin);
}
