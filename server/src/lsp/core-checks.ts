/**
 * CO-RE relocations of an object computed against a target's BTF, as libbpf would at load
 * time, without loading: the relocations that do not resolve there, on their source lines.
 * Results are kept per (object file, mtime, target BTF).
 */
import { promises as fsp } from 'fs';
import { parseBtf } from '../btf/btf';
import { parseBtfExt } from '../btf/ext';
import { CandidateCache, CoreReloReport, relocateCore } from '../core';
import { ElfFile } from '../elf/reader';
import type { TargetBtfs } from './targets';

export interface CoreFinding {
  readonly section: string;
  readonly report: CoreReloReport;
}

export interface CoreCheck {
  readonly relocations: number;
  /** Every relocation (the hover shows them on their fields). */
  readonly all: readonly CoreFinding[];
  /** Relocations whose status is not `ok`. */
  readonly findings: readonly CoreFinding[];
  readonly ms: number;
}

export class CoreChecks {
  private readonly done = new Map<string, { key: string; check: Promise<CoreCheck> }>();

  /** The object's CO-RE relocations against `target` (an object without any: none). */
  check(file: string, mtimeMs: number, target: TargetBtfs): Promise<CoreCheck> {
    const key = `${mtimeMs}:${target.key}`;
    const have = this.done.get(file);
    if (have?.key === key) return have.check;
    const check = compute(file, target);
    this.done.set(file, { key, check });
    return check;
  }

  /** Drops a file's result (it changed or is gone). */
  forget(file: string): void {
    this.done.delete(file);
  }
}

async function compute(file: string, target: TargetBtfs): Promise<CoreCheck> {
  const t0 = performance.now();
  const bytes = new Uint8Array(await fsp.readFile(file));
  const elf = new ElfFile(bytes, file);
  const btfSec = elf.section('.BTF');
  const extSec = elf.section('.BTF.ext');
  if (!btfSec || !extSec) return { relocations: 0, all: [], findings: [], ms: performance.now() - t0 };
  const localBtf = parseBtf(btfSec.data, { file, section: '.BTF' });
  const ext = parseBtfExt(extSec.data, localBtf, file);
  if (!ext.coreRelos.length) return { relocations: 0, all: [], findings: [], ms: performance.now() - t0 };
  const cache = new CandidateCache(localBtf, target.btfs);
  const all: CoreFinding[] = [];
  for (const sec of ext.coreRelos) {
    const code = elf.section(sec.section);
    if (!code) continue;
    const lineInfo = ext.lineInfo.find((l) => l.section === sec.section)?.records;
    const out = relocateCore({ localBtf, relos: sec.records, insns: code.data.slice(), targets: target.btfs, cache, ...(lineInfo ? { lineInfo } : {}) });
    for (const report of out.reports) all.push({ section: sec.section, report });
  }
  return { relocations: all.length, all, findings: all.filter((f) => f.report.status !== 'ok'), ms: performance.now() - t0 };
}
