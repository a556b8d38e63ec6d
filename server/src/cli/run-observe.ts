// What `bpf-lens run` shows while programs run: each ring/perf buffer record decoded with its
// record type (--decode MAP=TYPE, else inferred from the object, else hex) and bpf_trace_printk
// lines tied to the object's program (and source line) by their format string.
import type { EventBatch } from '../../../protocol/agent';
import type { BpfObject } from '../object/model';
import { matchPrintk, printkFormats } from '../observe/printk-match';
import { decodeRecord, inferRecordTypes, type RecordType, userRecordType } from '../observe/record-types';
import { parsePrintkLine } from '../observe/trace-pipe';
import type { RunEvent } from '../run/events';
import type { KernelTarget } from '../targets';

export interface ObserveArgs {
  readonly decode: ReadonlyMap<string, string>;
  readonly printk: boolean;
}

/** The record type of each buffer map: --decode first, then what the object tells. */
export function recordTypes(obj: BpfObject, decode: ReadonlyMap<string, string>): Map<string, RecordType> {
  const types = inferRecordTypes(obj);
  for (const [map, type] of decode) {
    if (!obj.maps.some((m) => m.name === map)) throw new Error(`--decode: no map '${map}' in ${obj.file}`);
    types.set(map, userRecordType(obj, type));
  }
  return types;
}

/** Turns a batch into run events. */
export function batchEvents(obj: BpfObject, types: ReadonlyMap<string, RecordType>): (b: EventBatch) => RunEvent[] {
  const formats = printkFormats(obj);
  return (b) => {
    const out: RunEvent[] = [];
    for (const r of b.records) {
      const bytes = Buffer.from(r.data, 'base64');
      out.push({
        event: r.kind,
        map: r.map,
        ...(r.cpu !== undefined ? { cpu: r.cpu } : {}),
        read_at: r.readAt,
        ...(r.kernelTime !== undefined ? { written_at: r.kernelTime } : {}),
        ...decodeRecord(obj.btf, types.get(r.map), bytes),
      });
    }
    for (const [i, l] of b.printk.entries()) {
      const p = parsePrintkLine(l);
      if (!p) continue;
      const readAt = b.printkReadAt?.[i];
      const f = matchPrintk(formats, p.text);
      out.push({
        event: 'printk',
        text: p.text,
        pid: p.pid,
        cpu: p.cpu,
        task: p.task,
        ...(readAt !== undefined ? { read_at: readAt } : {}),
        trace_time: p.timestamp,
        ...(f ? { program: f.programs.join(',') } : {}),
        ...(f?.source ? { source: { file: f.source.file, line: f.source.line } } : {}),
      });
    }
    return out;
  };
}

/** Starts streaming a load's events to `emit`; the returned stop reads what is left and emits the counts. */
export async function startObserving(
  t: KernelTarget,
  handle: number,
  obj: BpfObject,
  a: ObserveArgs,
  emit: (e: RunEvent) => void,
): Promise<() => Promise<void>> {
  const types = recordTypes(obj, a.decode);
  const toEvents = batchEvents(obj, types);
  const r = await t.observe({ handle, printk: a.printk }, (b) => {
    for (const e of toEvents(b)) emit(e);
  });
  if (a.printk && !r.printk) emit({ event: 'warning', message: `bpf_printk lines are not shown: ${r.printkError ?? 'no trace pipe'}` });
  return async () => {
    const s = await t.observeStop(handle);
    // Nothing to read (no buffers, no printk): no counts to tell.
    if (r.maps.length === 0 && !r.printk) return;
    emit({ event: 'observed', records: s.records, printk: s.printk, dropped: s.dropped, lost: { ...s.lost } });
  };
}
