// The BTF inputs the dump, round-trip and fuzz tests share: every fixture object, the
// cilium/ebpf test objects (both byte orders), cilium's vmlinux BTF and its split
// btf_testmod, this machine's kernel BTF and its modules' split BTF.
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { readFileSync } from 'fs';
import { CILIUM, FIXTURES } from './helpers';

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
  return readdirSync(dir).filter((f) => f.endsWith(suffix)).sort().map((f) => path.join(dir, f));
}

/** Module BTFs of the running kernel, at most `max` (split on /sys/kernel/btf/vmlinux). */
export function moduleBtfs(max = 20): string[] {
  return readdirSync(SYS_BTF).filter((f) => f !== 'vmlinux').sort().slice(0, max).map((f) => path.join(SYS_BTF, f));
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
