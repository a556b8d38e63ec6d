// Feature probe answers kept for the rest of the boot: what a kernel can do does not change
// until it reboots, and each answer costs a BPF_BTF_LOAD or BPF_PROG_LOAD (a load asks a dozen,
// ~3 ms of a cold `bpf-lens load`). One file per effective uid in $XDG_CACHE_HOME/bpf-lens (or
// ~/.cache/...), keyed by everything an answer depends on: the boot id, the kernel release,
// the effective uid and capabilities and the user namespace. A file whose key is not this
// process's, whose checksum does not hold or that does not parse is ignored and replaced;
// files are written whole under a temporary name, then renamed. BPF_LENS_NO_PROBE_CACHE=1
// turns it off.
import { mkdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'fs';
import { homedir, release } from 'os';
import { join } from 'path';
import { fnvHex } from '../common/fnv';

/** One probe's answer, as probes.ts's ProbeResult. */
export interface CachedAnswer {
  readonly supported: boolean;
  readonly errno?: string;
}

const FORMAT = 1;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1').trim();
  } catch {
    return undefined;
  }
}

/** What the answers depend on, or undefined when part of it cannot be read (then no cache). */
export function probeCacheKey(): string | undefined {
  const boot = read('/proc/sys/kernel/random/boot_id');
  const caps = /^CapEff:\s*([0-9a-f]+)$/m.exec(read('/proc/self/status') ?? '')?.[1];
  let userns: string;
  try {
    userns = readlinkSync('/proc/self/ns/user');
  } catch {
    return undefined;
  }
  if (!boot || !/^[0-9a-f-]{36}$/.test(boot) || !caps || process.geteuid === undefined) return undefined;
  return `${FORMAT} ${boot} ${release()} ${process.geteuid()} ${caps} ${userns}`;
}

const isAnswer = (v: unknown): v is CachedAnswer =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as CachedAnswer).supported === 'boolean' &&
  ((v as CachedAnswer).errno === undefined || typeof (v as CachedAnswer).errno === 'string') &&
  Object.keys(v).every((k) => k === 'supported' || k === 'errno');

/** The answers a file holds for `key`; empty when it is absent, of another key, damaged or malformed. */
export function parseProbeFile(text: string | undefined, key: string): Map<string, CachedAnswer> {
  const out = new Map<string, CachedAnswer>();
  if (!text) return out;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return out;
  }
  if (typeof doc !== 'object' || doc === null) return out;
  const { key: k, answers, sum } = doc as { key?: unknown; answers?: unknown; sum?: unknown };
  if (k !== key || typeof answers !== 'object' || answers === null || Array.isArray(answers)) return out;
  if (sum !== fnvHex(`${key}\n${JSON.stringify(answers)}`)) return out;
  for (const [name, v] of Object.entries(answers)) {
    if (!isAnswer(v)) return new Map();
    out.set(name, v.errno === undefined ? { supported: v.supported } : { supported: v.supported, errno: v.errno });
  }
  return out;
}

/** The text of a file holding `answers` for `key`. */
export function probeFileText(key: string, answers: ReadonlyMap<string, CachedAnswer>): string {
  const obj = Object.fromEntries(answers);
  return `${JSON.stringify({ key, answers: obj, sum: fnvHex(`${key}\n${JSON.stringify(obj)}`) })}\n`;
}

/** Answers of this boot for this process's credentials, read once; record() adds one and rewrites the file. */
export class ProbeCache {
  private answers?: Map<string, CachedAnswer>;

  constructor(
    private readonly dir: string,
    private readonly key: string | undefined,
    /** false: answers are probed again (and written), not read from the file. */
    private readonly readFile = true,
  ) {}

  /** The cache of this process (a no-op when turned off or the key cannot be read); `fresh`: probe again, then write. */
  static forProcess(fresh = false): ProbeCache {
    const off = process.env.BPF_LENS_NO_PROBE_CACHE;
    const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'bpf-lens');
    return new ProbeCache(dir, off ? undefined : probeCacheKey(), !fresh);
  }

  private load(): Map<string, CachedAnswer> {
    return (this.answers ??= this.readFile && this.key !== undefined ? parseProbeFile(read(this.file), this.key) : new Map());
  }

  private get file(): string {
    return join(this.dir, `probes-${process.geteuid?.() ?? 'x'}.json`);
  }

  get(name: string): CachedAnswer | undefined {
    return this.key === undefined ? undefined : this.load().get(name);
  }

  record(name: string, answer: CachedAnswer): void {
    if (this.key === undefined) return;
    const answers = this.load();
    answers.set(name, answer);
    try {
      mkdirSync(this.dir, { recursive: true });
      const tmp = `${this.file}.${process.pid}`;
      writeFileSync(tmp, probeFileText(this.key, answers));
      renameSync(tmp, this.file);
    } catch {
      // a read-only home: probe every time
    }
  }
}
