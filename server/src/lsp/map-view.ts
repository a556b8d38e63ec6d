/**
 * The map view's requests on a loaded map: its elements as C-like text (filtered on key text,
 * per-CPU values per CPU with their sum), and writes from the same text (bpfLens/mapUpdate,
 * bpfLens/mapDelete) through the load's target, so a remote map is edited where it lives.
 */
import type {
  MapAccess,
  MapDeleteParams,
  MapElementsParams,
  MapElementsResult,
  MapUpdateParams,
  MapWriteResult,
} from '../../../protocol/lsp';
import type { HeldLoad } from './kernel-loads';

/** Elements the view reads (and counts, and a filter looks through), where the map is. */
const READ_MAX = 100_000;

/** Maps whose keys come and go from user space; arrays keep every index. */
const HASH_LIKE = new Set(['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash', 'lpm_trie']);
/** Maps whose values user space writes as data (not ids, fds or records). */
const WRITABLE = new Set([...HASH_LIKE, 'array', 'percpu_array']);

/**
 * What the view offers for a map: a frozen .rodata or .kconfig (the loader froze it), a ring or
 * perf buffer, a prog array or map of maps (ids, not data), queues and storage maps get no edits.
 */
export function mapAccess(m: { readonly name: string; readonly type: string }): MapAccess {
  const frozen = /^\.(rodata|kconfig)/.test(m.name) || /\.(rodata|kconfig)/.test(m.name);
  const update = WRITABLE.has(m.type) && !frozen;
  const hash = update && HASH_LIKE.has(m.type);
  return { update, delete: hash, insert: hash };
}

type Found = { h: HeldLoad; m: HeldLoad['info']['maps'][number] } | { error: string };

function find(h: HeldLoad | undefined, handle: number, map: string): Found {
  const m = h?.info.maps.find((x) => x.name === map || x.kernelName === map);
  return h && m ? { h, m } : { error: `no map ${map} in load ${handle}` };
}

export async function viewElements(held: HeldLoad | undefined, p: MapElementsParams): Promise<MapElementsResult> {
  if (!held) return { count: 0, truncated: false, elements: [], error: `load ${p.handle} was unloaded`, unloaded: true };
  const f = find(held, p.handle, p.map);
  if ('error' in f) return { count: 0, truncated: false, elements: [], error: f.error };
  const access = mapAccess(f.m);
  const limit = Math.max(0, Math.min(p.limit ?? 200, 1000));
  const filter = p.filter?.trim();
  try {
    // The target filters (an agent too): only the elements shown come back as text.
    const r = await f.h.target.mapDump({
      id: f.m.id,
      maxElements: READ_MAX,
      preview: limit,
      noText: true,
      ...(filter ? { keyFilter: filter } : {}),
    });
    const shown = r.preview ?? [];
    const cpus = shown.find((e) => e.cpus)?.cpus?.length;
    return {
      count: r.elements,
      truncated: r.truncated,
      elements: shown,
      ...(filter ? { matched: r.matched, scanned: r.read } : {}),
      access,
      ...(cpus ? { cpus } : {}),
      ...(r.error ? { error: r.error.message } : {}),
    };
  } catch (e) {
    return { count: 0, truncated: false, elements: [], access, error: (e as Error).message };
  }
}

/** A write's failure: the field a parse error names (`field 'value.pt.x': …`, local or from an agent). */
function failed(e: unknown): MapWriteResult {
  const error = (e as Error).message;
  const field = /^field '([^']*)'/.exec(error)?.[1] ?? (e as { field?: string }).field;
  return { ok: false, error, ...(field ? { field } : {}) };
}

export async function viewUpdate(held: HeldLoad | undefined, p: MapUpdateParams): Promise<MapWriteResult> {
  const f = find(held, p.handle, p.map);
  if ('error' in f) return { ok: false, error: f.error };
  if (!mapAccess(f.m).update) return { ok: false, error: `${f.m.name} (${f.m.type}) is not writable from user space here` };
  try {
    await f.h.target.mapUpdate({ id: f.m.id, key: p.key, value: p.value, ...(p.flag ? { flag: p.flag } : {}) });
    return { ok: true };
  } catch (e) {
    return failed(e);
  }
}

export async function viewDelete(held: HeldLoad | undefined, p: MapDeleteParams): Promise<MapWriteResult> {
  const f = find(held, p.handle, p.map);
  if ('error' in f) return { ok: false, error: f.error };
  if (!mapAccess(f.m).delete) return { ok: false, error: `${f.m.name} (${f.m.type}) keeps its keys: nothing to delete` };
  try {
    const r = await f.h.target.mapDelete({ id: f.m.id, key: p.key });
    return { ok: true, deleted: r.deleted };
  } catch (e) {
    return failed(e);
  }
}
