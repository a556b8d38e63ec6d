/**
 * The Events panel's stream: a held load's ring/perf buffers (and the trace pipe) read through
 * its KernelTarget's observe (this kernel in-process, or the target's agent), each target batch
 * offered to an EventPump, and every 100 ms at most one bpfLens/events notification per load
 * leaves with what the pump lets through, decoded only then (the CLI's record types: a type the
 * user picked, else inferred from the object, else hex). A notification is written before the
 * next one is made, so a slow editor slows the stream, never the server.
 */
import {
  type EventMapInfo,
  type EventRow,
  EventsDecodeRequest,
  EventsNotification,
  type EventsNotificationParams,
  type ObserveEventsParams,
  ObserveEventsRequest,
  type ObserveEventsResult,
  type PrintkRow,
  StopEventsRequest,
  type StopEventsResult,
} from '../../../protocol/lsp';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import { openObject, type BpfObject } from '../object';
import { callsTracePrintk, matchPrintk, type PrintkFormat, printkFormats } from '../observe/printk-match';
import { decodeRecord, inferRecordTypes, type RecordType, userRecordType } from '../observe/record-types';
import { parsePrintkLine } from '../observe/trace-pipe';
import { EventPump, type PumpOut } from './event-pump';
import { handler, type RequestHandler } from './handlers';
import type { HeldLoad } from './kernel-loads';
import type { Session } from './session';

/** Milliseconds between notifications of one load. */
const TICK_MS = 100;
/** Records the target may queue while the server is behind (the pump's own queue is smaller). */
const TARGET_QUEUE = 4096;

interface Observation {
  readonly handle: number;
  readonly held: HeldLoad;
  readonly obj: BpfObject;
  readonly types: Map<string, RecordType>;
  readonly formats: readonly PrintkFormat[];
  readonly pump: EventPump;
  result: ObserveEventsResult;
  inFlight?: Promise<void>;
  /** Unloaded: stops once the target's unload has answered (its last batches are in the pump by then). */
  ending?: Promise<unknown>;
}

/** The top-level field names of a record type (none for a scalar or array type). */
function fieldsOf(obj: BpfObject, t: RecordType | undefined): string[] {
  if (!t || !obj.btf) return [];
  const [, type] = skipModsAndTypedefs(obj.btf, t.typeId);
  return type && (type.kind === 'STRUCT' || type.kind === 'UNION') ? type.members.map((m) => m.name).filter(Boolean) : [];
}

function structNames(obj: BpfObject): string[] {
  const btf = obj.btf;
  if (!btf) return [];
  const out = new Set<string>();
  for (let id = 1; id < btf.length; id++) {
    const t = btf.get(id);
    if (t && (t.kind === 'STRUCT' || t.kind === 'UNION') && t.name) out.add(t.name);
  }
  return [...out].sort();
}

function mapInfo(o: Pick<Observation, 'obj' | 'types'>, name: string, kind: 'ringbuf' | 'perf'): EventMapInfo {
  const t = o.types.get(name);
  return { name, kind, ...(t ? { type: t.name, how: t.how } : {}), fields: fieldsOf(o.obj, t) };
}

export class EventHub {
  private readonly observed = new Map<number, Observation>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: Session) {}

  private readonly starting = new Map<number, Promise<ObserveEventsResult>>();

  /** Starts observing a load (once: a second call answers what the first did). */
  start(p: ObserveEventsParams): Promise<ObserveEventsResult> {
    const known = this.observed.get(p.handle)?.result;
    if (known) return Promise.resolve(known);
    let s = this.starting.get(p.handle);
    if (!s) {
      s = this.begin(p).finally(() => this.starting.delete(p.handle));
      this.starting.set(p.handle, s);
    }
    return s;
  }

  private async begin(p: ObserveEventsParams): Promise<ObserveEventsResult> {
    const none = { maps: [], printk: false, types: [] };
    const held = this.d.loads.get(p.handle);
    if (!held) return { ok: false, ...none, error: `nothing is loaded under handle ${p.handle} (it was unloaded)` };
    const obj = openObject(held.object, held.info.path);
    const types = inferRecordTypes(obj);
    try {
      for (const [map, type] of Object.entries(p.decode ?? {})) types.set(map, userRecordType(obj, type));
    } catch (e) {
      return { ok: false, ...none, error: (e as Error).message };
    }
    const o: Observation = {
      handle: p.handle,
      held,
      obj,
      types,
      formats: printkFormats(obj),
      pump: new EventPump(),
      result: { ok: true, ...none },
    };
    const r = await held.target.observe(
      { handle: held.kernelHandle, printk: p.printk ?? callsTracePrintk(obj), maxQueued: TARGET_QUEUE },
      (b) => {
        o.pump.offer(b, Date.now());
        return o.pump.whenRoom();
      },
    );
    o.result = {
      ok: true,
      maps: r.maps.map((m) => mapInfo(o, m.name, m.kind)),
      printk: r.printk,
      ...(r.printkError ? { printkError: r.printkError } : {}),
      types: structNames(obj),
    };
    this.observed.set(p.handle, o);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
    this.d.log(`events ${held.info.path}: ${o.result.maps.map((m) => `${m.name} (${m.type ?? 'hex'})`).join(', ') || 'no buffers'}`);
    return o.result;
  }

  decode(handle: number, map: string, type: string): EventMapInfo {
    const o = this.observed.get(handle);
    if (!o) throw new Error(`load ${handle} is not observed`);
    const i = o.result.maps.findIndex((m) => m.name === map);
    if (i < 0) throw new Error(`no ring or perf buffer '${map}' is observed in ${o.held.info.path}`);
    o.types.set(map, userRecordType(o.obj, type));
    const info = mapInfo(o, map, o.result.maps[i].kind);
    o.result = { ...o.result, maps: o.result.maps.map((m, j) => (j === i ? info : m)) };
    return info;
  }

  /** Stops reading (unless the load is gone already), sends what is left with `done`. */
  async stop(handle: number): Promise<StopEventsResult> {
    const o = this.observed.get(handle);
    if (!o) return { stopped: false };
    this.observed.delete(handle);
    if (this.observed.size === 0) this.stopTimer();
    // The target sends its last batches to the pump before answering: nothing waits for a take now.
    o.pump.release();
    if (this.d.loads.get(handle)) await o.held.target.observeStop(o.held.kernelHandle).catch(() => undefined);
    while (o.inFlight) await o.inFlight;
    const out = o.pump.take(Date.now(), true)!;
    await this.send(o, out, true);
    return { stopped: true, counters: out.counters };
  }

  async dispose(): Promise<void> {
    for (const h of [...this.observed.keys()]) await this.stop(h);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const o of this.observed.values()) {
      // Unloaded: the target detaches, reads the buffers to their end and sends that before its
      // unload answers; the stream goes on until then, and `done` comes after the last of it.
      if (!this.d.loads.get(o.handle) && !o.ending) {
        const r = this.d.loads.released(o.handle);
        o.ending = (r ?? Promise.resolve()).then(() => this.stop(o.handle));
      }
      if (!o.inFlight) {
        const out = o.pump.take(now);
        if (out) void this.send(o, out, false);
      }
    }
  }

  private send(o: Observation, out: PumpOut, done: boolean): Promise<void> {
    const params: EventsNotificationParams = {
      handle: o.handle,
      rows: out.records.map(({ item: r }): EventRow => ({
        map: r.map,
        kind: r.kind,
        ...(r.cpu !== undefined ? { cpu: r.cpu } : {}),
        // when the target's consumer read it, not when it arrived here
        time: r.readAt,
        ...(r.kernelTime !== undefined ? { kernelTime: r.kernelTime } : {}),
        ...decodeRecord(o.obj.btf, o.types.get(r.map), Buffer.from(r.data, 'base64')),
      })),
      printk: out.lines.map(({ item, time }) => this.printkRow(o, item, time)).filter((r): r is PrintkRow => r !== undefined),
      counters: out.counters,
      ...(done ? { done } : {}),
    };
    const p = this.d.connection.sendNotification(EventsNotification, params).then(
      () => undefined,
      () => undefined,
    );
    o.inFlight = p.then(() => {
      o.inFlight = undefined;
    });
    return o.inFlight;
  }

  /**
   * A trace pipe line as a row, tied to the object whose format string it fits: any object
   * observed on the same target (each reader of the pipe gets some of every program's lines).
   */
  private printkRow(o: Observation, line: string, time: number): PrintkRow | undefined {
    const p = parsePrintkLine(line);
    if (!p) return undefined;
    const row: PrintkRow = { time, text: p.text, task: p.task, pid: p.pid, cpu: p.cpu };
    const peers = [o, ...[...this.observed.values()].filter((x) => x !== o && x.held.target === o.held.target)];
    // the best fit, as the pipe's hub picks: `"%s"` fits everything and yields to any format with text
    let best: { x: Observation; f: PrintkFormat } | undefined;
    for (const x of peers) {
      const f = matchPrintk(x.formats, p.text);
      if (f && (!best || f.literal > best.f.literal)) best = { x, f };
    }
    if (!best) return row;
    const { x, f } = best;
    const src = f.source && { file: this.d.index.resolveSource(x.held.info.path, f.source.file) ?? f.source.file, line: f.source.line };
    return { ...row, object: x.held.info.path, programs: f.programs, ...(src ? { source: src } : {}) };
  }
}

export function eventRequests(d: Session, hub = new EventHub(d)): RequestHandler[] {
  return [
    handler(ObserveEventsRequest, async (p) => {
      try {
        return await hub.start(p);
      } catch (e) {
        return { ok: false, error: (e as Error).message, maps: [], printk: false, types: [] };
      }
    }),
    handler(EventsDecodeRequest, (p) => {
      try {
        return { ok: true, map: hub.decode(p.handle, p.map, p.type) };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    }),
    handler(StopEventsRequest, (p) => hub.stop(p.handle)),
  ];
}
