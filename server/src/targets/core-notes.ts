/**
 * What one kernel's BTF makes of an object's CO-RE relocations, computed here as libbpf would at
 * load time: every relocation, and those that do not resolve, with the program each is in. The
 * one computation behind the editor's CO-RE diagnostics, its matrix view and the CLI's
 * multi-target matrix (`load --target A --target B`), so they say the same thing.
 */
import { parseBtf } from '../btf/btf';
import { parseBtfExt } from '../btf/ext';
import { CandidateCache, type CoreReloReport, relocateCore, reloReason, type TargetBtf } from '../core';
import { ElfFile } from '../elf/reader';
import type { BpfProgram } from '../object/model';

export interface CoreFinding {
  readonly section: string;
  readonly report: CoreReloReport;
}

/** A relocation that does not resolve on a kernel, as the CO-RE diagnostics word it. */
export interface CoreProblem {
  readonly program: string;
  /** `task_struct->dl_server`. */
  readonly access: string;
  readonly kind: string;
  readonly status: 'missing' | 'poisoned' | 'ambiguous' | 'invalid';
  /** `is absent there (its check answers 0)`. */
  readonly message: string;
  readonly report: CoreReloReport;
}

/** Per target: how many relocations the object has, and those that do not resolve there. */
export interface CoreSummary {
  readonly relocations: number;
  readonly problems: readonly CoreProblem[];
}

/** How many CO-RE relocations the object has (0: no kernel BTF needed to check them). */
export function coreReloCount(bytes: Uint8Array, file: string): number {
  const elf = new ElfFile(bytes, file);
  const btfSec = elf.section('.BTF');
  const extSec = elf.section('.BTF.ext');
  if (!btfSec || !extSec) return 0;
  const ext = parseBtfExt(extSec.data, parseBtf(btfSec.data, { file, section: '.BTF' }), file);
  return ext.coreRelos.reduce((n, s) => n + s.records.length, 0);
}

/** Every CO-RE relocation of the object against `btfs` ([vmlinux, ...modules]); none without .BTF.ext. */
export function checkCore(bytes: Uint8Array, file: string, btfs: readonly TargetBtf[]): CoreFinding[] {
  const elf = new ElfFile(bytes, file);
  const btfSec = elf.section('.BTF');
  const extSec = elf.section('.BTF.ext');
  if (!btfSec || !extSec) return [];
  const localBtf = parseBtf(btfSec.data, { file, section: '.BTF' });
  const ext = parseBtfExt(extSec.data, localBtf, file);
  if (!ext.coreRelos.length) return [];
  const cache = new CandidateCache(localBtf, btfs);
  const relocations: CoreFinding[] = [];
  for (const sec of ext.coreRelos) {
    const code = elf.section(sec.section);
    if (!code) continue;
    const lineInfo = ext.lineInfo.find((l) => l.section === sec.section)?.records;
    const out = relocateCore({
      localBtf,
      relos: sec.records,
      insns: code.data.slice(),
      targets: btfs,
      cache,
      ...(lineInfo ? { lineInfo } : {}),
    });
    for (const report of out.reports) relocations.push({ section: sec.section, report });
  }
  return relocations;
}

/** What a relocation's status means for the load, in words (diagnostics, Load on All Targets, the CLI). */
export function coreVerdict(status: string): string {
  switch (status) {
    case 'poisoned':
      return 'does not resolve: the instruction fails verification if reached';
    case 'missing':
      return 'is absent there (its check answers 0)';
    case 'ambiguous':
      return 'is ambiguous: libbpf refuses to load';
    default:
      return 'is invalid: libbpf refuses to load';
  }
}

/** The relocations that do not resolve, each with the program whose instructions hold it. */
export function coreSummary(programs: readonly BpfProgram[], relocations: readonly CoreFinding[]): CoreSummary {
  const problems: CoreProblem[] = [];
  for (const { section, report: r } of relocations) {
    if (r.status === 'ok') continue;
    const program =
      programs.find((p) => p.section === section && r.sectionInsnIndex >= p.insnOffset && r.sectionInsnIndex < p.insnOffset + p.insnCount)
        ?.name ?? section;
    const why = reloReason(r);
    problems.push({
      program,
      access: r.access,
      kind: r.kindName,
      status: r.status,
      message: `${coreVerdict(r.status)}${why ? `: ${why}` : ''}`,
      report: r,
    });
  }
  return { relocations: relocations.length, problems };
}

/** The last name an access reaches (`task_struct->se.vruntime` → vruntime, `enum e::TWO` → TWO). */
const accessedName = (access: string) => /([A-Za-z_][A-Za-z0-9_]*)[^A-Za-z0-9_]*$/.exec(access)?.[1] ?? access;

/** `2 of 5 CO-RE relocations do not resolve: dl_server, i_mtime_sec` (undefined: all resolve). */
export function coreNoteLine(c: CoreSummary): string | undefined {
  if (!c.problems.length) return undefined;
  const names = [...new Set(c.problems.map((p) => accessedName(p.access)))];
  return `${c.problems.length} of ${c.relocations} CO-RE relocations do not resolve: ${names.join(', ')}`;
}
