/**
 * "Run an object" as events: what `bpf-lens run` prints (one JSON object per line with --json)
 * while it loads, attaches, runs and detaches through a KernelTarget. Pure: shapes and the one
 * conversion from an attachment as it travels.
 */
import type { AttachmentJson } from '../../../protocol/agent';

/** What happens during a run, one event per line in `run --json`. */
export type RunEvent =
  | {
      event: 'loaded';
      object: string;
      programs: { name: string; id: number; type: string }[];
      maps: { name: string; id: number; type: string }[];
    }
  | { event: 'attached'; program: string; kind: string; target: string; mechanism: string; link_id?: number; link_ids?: number[] }
  | { event: 'skipped'; program: string; reason: string }
  | { event: 'iter'; program: string; output: string }
  | { event: 'pinned'; program: string; path: string }
  | { event: 'running'; duration: number | null }
  | { event: 'detached'; program: string; kind: string; target: string }
  | {
      event: 'ringbuf' | 'perf';
      map: string;
      cpu?: number;
      /** When the target read it (ms since the epoch, the target's clock). */
      read_at?: number;
      /** When the kernel wrote a perf sample (ms since the epoch, CLOCK_REALTIME). */
      written_at?: number;
      data?: unknown;
      hex?: string;
    }
  | {
      event: 'printk';
      text: string;
      pid?: number;
      cpu?: number;
      task?: string;
      /** When the target read the line from the trace pipe (ms since the epoch, the target's clock). */
      read_at?: number;
      /** The line's timestamp as the trace clock printed it (seconds; since boot with the default clock). */
      trace_time?: number;
      program?: string;
      source?: { file: string; line: number };
    }
  | { event: 'maps'; maps: Record<string, unknown> }
  | { event: 'observed'; records: number; printk: number; dropped: number; lost: Record<string, number> }
  | { event: 'warning'; message: string }
  | { event: 'error'; message: string; program?: string };

export function attachedEvent(a: AttachmentJson): RunEvent {
  const ids = a.linkIds;
  return {
    event: 'attached',
    program: a.program,
    kind: a.kind,
    target: a.target,
    mechanism: a.mechanism,
    ...(ids.length === 1 ? { link_id: ids[0] } : ids.length > 1 ? { link_ids: [...ids] } : {}),
  };
}
