/**
 * The one conversion from what the pipeline returns (LoadResult, LoadError) to the summary
 * every front end shows and the agent sends: names, kernel ids, types, pins, logs.
 */
import type { LoadError, LoadResult } from '../load/types';
import type { LoadFailure, LoadSummary } from './target';

export function loadSummary(handle: number, ms: number, r: LoadResult): LoadSummary {
  return {
    handle,
    ms,
    warnings: [...r.warnings],
    programs: r.programs.map((x) => ({
      name: x.name,
      section: x.section,
      type: x.type,
      id: x.id,
      verifiedInsns: x.verifiedInsns,
      ...(x.pinnedAt ? { pinnedAt: x.pinnedAt } : {}),
      ...(x.log ? { log: x.log.replace(/\0+$/, '') } : {}),
    })),
    maps: r.maps.map((m) => ({
      name: m.name,
      kernelName: m.kernelName,
      id: m.id,
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      ...(m.pinnedAt ? { pinnedAt: m.pinnedAt } : {}),
      ...(m.reused ? { reused: true } : {}),
    })),
  };
}

export function loadFailure(e: LoadError): LoadFailure {
  const d = e.details;
  return {
    message: e.message,
    stage: e.stage,
    ...(d.program !== undefined ? { program: d.program } : {}),
    ...(d.insn !== undefined ? { insn: d.insn } : {}),
    ...(d.source ? { source: { file: d.source.file, line: d.source.line, column: d.source.column, text: d.source.text } } : {}),
    ...(d.log !== undefined ? { log: d.log.replace(/\0+$/, '') } : {}),
    ...(d.interrupted ? { interrupted: true } : {}),
    ...(d.explanation ? { explanation: d.explanation } : {}),
  };
}
