// The BTF inputs the dump, round-trip and fuzz tests share: every fixture object, the
// cilium/ebpf test objects (both byte orders), cilium's vmlinux BTF and its split
// btf_testmod, this machine's kernel BTF and its modules' split BTF (if any are loaded),
// and Debian 6.1's vmlinux BTF with 20 of its modules.
import { execFileSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { readFileSync } from 'fs';
import { CILIUM, FIXTURES, ROOT } from './helpers';

export interface BtfInput {
  /** Short name for test titles. */
  readonly name: string;
  readonly file: string;
  /** Base BTF file for split BTF. */
  readonly base?: string;
}

export const SYS_BTF = '/sys/kernel/btf';
export const VMLINUX = path.join(SYS_BTF, 'vmlinux');

let scratch: string | undefined;
/** A temporary directory for this test process. */
export function tmp(): string {
  if (!scratch) {
    const dir = (scratch = mkdtempSync(path.join(tmpdir(), 'bpf-lens-btf-')));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

/** cilium/ebpf's gzipped vmlinux BTF, unpacked once into the temp dir. */
export function ciliumVmlinux(): string {
  const out = path.join(tmp(), 'cilium-vmlinux.btf');
  if (!existsSync(out)) writeFileSync(out, gunzipSync(readFileSync(path.join(CILIUM, 'btf', 'testdata', 'vmlinux.btf.gz'))));
  return out;
}

function list(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Module BTFs of the running kernel, at most `max` (split on /sys/kernel/btf/vmlinux). */
export function moduleBtfs(max = 20): string[] {
  return readdirSync(SYS_BTF)
    .filter((f) => f !== 'vmlinux')
    .sort()
    .slice(0, max)
    .map((f) => path.join(SYS_BTF, f));
}

/**
 * Real module BTF on a real base, for machines whose kernel has no modules loaded (this
 * one's /sys/kernel/btf holds only vmlinux): Debian 6.1's cloud kernel package, unpacked
 * once into build/debian-6.1 — its vmlinux BTF (from vmlinuz, with cilium's extract-vmlinux)
 * and `max` of its modules, spread over the tree. The package comes from apt's cache or
 * `apt-get download`.
 */
export function debianModules(max = 20): { base: string; modules: string[] } {
  const dir = path.join(ROOT, 'build', 'debian-6.1');
  const base = path.join(dir, 'vmlinux.btf');
  const modDir = path.join(dir, 'modules');
  if (!existsSync(base) || !existsSync(modDir)) {
    const work = mkdtempSync(path.join(tmpdir(), 'bpf-lens-deb-'));
    try {
      const deb = debianKernelDeb(work);
      const root = path.join(work, 'root');
      execFileSync('dpkg-deb', ['-x', deb, root]);
      const vmlinuz = readdirSync(path.join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'))!;
      const vmlinux = path.join(work, 'vmlinux');
      writeFileSync(
        vmlinux,
        execFileSync('bash', [path.join(CILIUM, 'testdata', 'extract-vmlinux'), path.join(root, 'boot', vmlinuz)], { maxBuffer: 1 << 30 }),
      );
      mkdirSync(dir, { recursive: true });
      execFileSync('llvm-objcopy', ['--dump-section', `.BTF=${path.join(work, 'vmlinux.btf')}`, vmlinux, path.join(work, 'discard')]);
      const kos = execFileSync('find', [path.join(root, 'lib', 'modules'), '-name', '*.ko'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .sort();
      const picked = path.join(work, 'modules');
      mkdirSync(picked);
      for (let i = 0; i < max && i < kos.length; i++) {
        const ko = kos[Math.floor((i * kos.length) / max)];
        copyFileSync(ko, path.join(picked, path.basename(ko)));
      }
      // another test process may have got there first: its copy is as good as ours
      try {
        renameSync(picked, modDir);
      } catch (e) {
        if (!existsSync(modDir)) throw e;
      }
      renameSync(path.join(work, 'vmlinux.btf'), base);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return {
    base,
    modules: readdirSync(modDir)
      .sort()
      .slice(0, max)
      .map((f) => path.join(modDir, f)),
  };
}

/** A linux-image-6.1.0-*-cloud-amd64 package: from apt's cache, else downloaded into `work`. */
function debianKernelDeb(work: string): string {
  const cache = '/var/cache/apt/archives';
  const cached = existsSync(cache)
    ? readdirSync(cache)
        .filter((f) => /^linux-image-6\.1\.0-\d+-cloud-amd64_.*_amd64\.deb$/.test(f))
        .sort()
    : [];
  if (cached.length) return path.join(cache, cached[cached.length - 1]);
  const download = () => {
    // the metapackage names the current image package
    const deps = execFileSync('apt-cache', ['depends', 'linux-image-cloud-amd64'], { encoding: 'utf8' });
    const name = /Depends: (linux-image-6\.1\.0-\d+-cloud-amd64)\b/.exec(deps)?.[1];
    if (!name) throw new Error(`no Debian 6.1 cloud kernel package in apt's lists:\n${deps}`);
    execFileSync('apt-get', ['download', '-qq', name], { cwd: work });
  };
  try {
    download();
  } catch {
    execFileSync('apt-get', ['update', '-qq']);
    download();
  }
  return path.join(
    work,
    readdirSync(work).find((f) => f.endsWith('.deb'))!,
  );
}

export function fixtureObjects(): string[] {
  return list(FIXTURES, '.o');
}

export function btfInputs(): BtfInput[] {
  const inputs: BtfInput[] = [];
  for (const f of fixtureObjects()) inputs.push({ name: `fixture ${path.basename(f)}`, file: f });
  for (const f of [...list(path.join(CILIUM, 'testdata'), '.elf'), ...list(path.join(CILIUM, 'btf', 'testdata'), '.elf')]) {
    inputs.push({ name: `cilium ${path.basename(f)}`, file: f });
  }
  const cv = ciliumVmlinux();
  inputs.push({ name: 'cilium vmlinux.btf', file: cv });
  inputs.push({ name: 'cilium btf_testmod.btf (split)', file: path.join(CILIUM, 'btf', 'testdata', 'btf_testmod.btf'), base: cv });
  inputs.push({ name: 'this kernel vmlinux', file: VMLINUX });
  for (const m of moduleBtfs()) inputs.push({ name: `module ${path.basename(m)}`, file: m, base: VMLINUX });
  const deb = debianModules();
  inputs.push({ name: 'Debian 6.1 vmlinux', file: deb.base });
  for (const m of deb.modules) inputs.push({ name: `Debian 6.1 module ${path.basename(m)}`, file: m, base: deb.base });
  return inputs;
}

export interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** `bpftool [-j] btf dump file FILE [--base-btf BASE]`, as raw bytes. */
export function bpftoolDump(input: { file: string; base?: string }, json = false): ToolResult {
  const args = [...(json ? ['-j'] : []), 'btf', 'dump', 'file', input.file, ...(input.base ? ['--base-btf', input.base] : [])];
  try {
    const stdout = execFileSync('bpftool', args, { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { code: err.status ?? -1, stdout: err.stdout ?? Buffer.alloc(0), stderr: String(err.stderr ?? '') };
  }
}
