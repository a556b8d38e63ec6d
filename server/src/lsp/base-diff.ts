/**
 * Kernel modules in the editor: the distilled base of a `.ko` (its `.BTF.base`, or one
 * distilled on the original base the user names) against the target's vmlinux BTF, as
 * rows for the tree, one diagnostic per type that would not relocate, and the diff text.
 * Target bases are parsed and indexed once per file (and re-read when it changes).
 */
import { promises as fsp } from 'fs';
import type { Diagnostic } from 'vscode-languageserver/node';
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import { type ModuleBaseDiff, moduleBaseDiff } from '../btf/base-diff';
import { formatBaseDiff } from '../btf/base-diff-text';
import type { Btf } from '../btf/btf';
import { btfFromBytes } from '../btf/input';
import { RELOCATABLE, TargetIndex } from '../btf/relocate';
import { ElfFile } from '../elf/reader';
import { VMLINUX_BTF } from '../kernel/sysfs-btf';
import type { BaseDiffItem, BaseDiffParams, BaseDiffResult, BaseDiffStatus } from '../../../protocol/lsp';

const USED_BY = 5;

interface Cached<T> {
  readonly key: string;
  readonly value: T;
}

export class ModuleDiffs {
  private readonly targets = new Map<string, Cached<{ btf: Btf; index: TargetIndex }>>();
  private readonly bases = new Map<string, Cached<Btf>>();

  async diff(p: BaseDiffParams): Promise<{ result: BaseDiffResult; diff?: ModuleBaseDiff }> {
    const t0 = performance.now();
    const target = p.target || VMLINUX_BTF;
    const buf = await fsp.readFile(p.path);
    const elf = new ElfFile(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), p.path);
    if (!elf.section('.BTF')) throw new Error(`${p.path} has no .BTF section`);
    if (!elf.section('.BTF.base') && !p.origBase) {
      return {
        result: {
          path: p.path,
          target,
          noBase: true,
          rows: [],
          ms: performance.now() - t0,
          message: `${p.path.split('/').pop()} has no .BTF.base (not distilled): name the vmlinux BTF it was built for to distill its base and diff it`,
        },
      };
    }
    const orig = p.origBase ? await this.base(p.origBase) : undefined;
    const diff = moduleBaseDiff(elf, (await this.target(target)).index, orig);
    const rows: BaseDiffItem[] = diff.rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      name: r.name,
      size: r.size,
      status: r.status satisfies BaseDiffStatus,
      ...(r.targetId !== undefined ? { targetId: r.targetId } : {}),
      ...(r.targetSize !== undefined ? { targetSize: r.targetSize } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
      usedBy: r.dependents.slice(0, USED_BY).map((d) => `${d.kind.toLowerCase()} ${d.name || `[${d.id}]`}`),
      usedByCount: r.dependents.length,
    }));
    return {
      result: {
        path: p.path,
        target,
        distilledFrom: diff.distilledFrom === '.BTF.base' ? '.BTF.base' : p.origBase!,
        relocates: diff.relocates,
        counts: diff.counts,
        rows,
        ms: performance.now() - t0,
      },
      diff,
    };
  }

  private async target(file: string): Promise<{ btf: Btf; index: TargetIndex }> {
    const key = await stamp(file);
    const have = this.targets.get(file);
    if (have?.key === key) return have.value;
    const btf = await readBtf(file);
    const value = { btf, index: new TargetIndex(btf) };
    this.targets.set(file, { key, value });
    return value;
  }

  private async base(file: string): Promise<Btf> {
    const key = await stamp(file);
    const have = this.bases.get(file);
    if (have?.key === key) return have.value;
    const btf = await readBtf(file);
    this.bases.set(file, { key, value: btf });
    return btf;
  }
}

/** The diff document (every row, reasons under the failing ones). */
export function baseDiffText(result: BaseDiffResult, diff: ModuleBaseDiff | undefined): string {
  if (!diff) return `${result.message}\n`;
  return formatBaseDiff(diff, { module: result.path, target: result.target, distilledFrom: result.distilledFrom! });
}

/** One diagnostic per distilled type that does not relocate, on the module (line 0: it is a binary). */
export function baseDiffDiagnostics(r: BaseDiffResult): Diagnostic[] {
  if (r.noBase) return [];
  const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  return r.rows
    .filter((x) => !RELOCATABLE.has(x.status))
    .map((x) => ({
      range: at,
      severity: DiagnosticSeverity.Error,
      source: 'bpf-lens',
      code: x.status,
      message:
        `${x.kind.toLowerCase()} ${x.name || `[${x.id}]`}: ${x.status} against ${r.target}${x.reason ? ` — ${x.reason}` : ''}` +
        (x.usedByCount
          ? `; used by ${x.usedBy.join(', ')}${x.usedByCount > x.usedBy.length ? ` (+${x.usedByCount - x.usedBy.length})` : ''}`
          : ''),
    }));
}

async function stamp(file: string): Promise<string> {
  const st = await fsp.stat(file);
  return `${st.size}:${st.mtimeMs}`;
}

async function readBtf(file: string): Promise<Btf> {
  const buf = await fsp.readFile(file);
  return btfFromBytes(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
}
