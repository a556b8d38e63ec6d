/**
 * `map dump` / `map update` / `map delete` for one kernel, as the CLI and the agent run them:
 * a map by id or pin path, read through KernelOps, printed as bpftool prints it.
 */
import { isKernelError } from '../kernel';
import type {
  MapDeleteParams,
  MapDeleteResult,
  MapDumpParams,
  MapDumpResult,
  MapRefParams,
  MapUpdateParams,
} from '../../../protocol/agent';
import { formatMapDump } from './map-dump';
import { keysContaining, previewElements } from './map-text';
import { type MapKernel, type MapRef, mapBtf, readMap, withMap } from './map-read';
import { deleteMapElement, updateMapElement } from './map-write';

/** The most text one dump may produce (JS strings stop near 512 MiB; the agent's messages at 384 MiB). */
export const MAX_DUMP_CHARS = 256 << 20;

export function mapRef(p: MapRefParams): MapRef {
  if (p.pinned !== undefined) return { pinned: p.pinned };
  if (p.id !== undefined) return { id: p.id };
  throw new Error('a map is named by id or by pinned path');
}

export function dumpMap(k: MapKernel, p: MapDumpParams): MapDumpResult {
  return withMap(k, mapRef(p), (m) => {
    const btf = mapBtf(k, m.info);
    const read = readMap(k, m, p.maxElements !== undefined ? { maxElements: p.maxElements } : {});
    const text = p.noText
      ? ''
      : formatMapDump(
          { info: m.info, btf, read, cpus: k.possibleCpus() },
          { json: p.json ?? false, pretty: p.pretty ?? false, maxChars: MAX_DUMP_CHARS },
        );
    const e = read.error;
    const shown = p.keyFilter !== undefined ? keysContaining(m.info, btf, read.elements, p.keyFilter) : read.elements;
    return {
      text,
      elements: read.elements.filter((x) => x.value).length,
      truncated: read.truncated,
      ...(e ? { error: { errno: e.errno, errnoName: e.errnoName, message: e.message } } : {}),
      ...(p.preview ? { preview: previewElements(m.info, btf, shown.slice(0, p.preview), k.possibleCpus()) } : {}),
      ...(p.keyFilter !== undefined ? { matched: shown.length, read: read.elements.length } : {}),
    };
  });
}

export function updateMap(k: MapKernel, p: MapUpdateParams): void {
  updateMapElement(k, mapRef(p), { ...(p.key !== undefined ? { key: p.key } : {}), value: p.value, ...(p.flag ? { flag: p.flag } : {}) });
}

export function deleteMap(k: MapKernel, p: MapDeleteParams): MapDeleteResult {
  try {
    return { deleted: deleteMapElement(k, mapRef(p), p.key) };
  } catch (e) {
    // arrays cannot delete (EINVAL): say so rather than "not found"
    if (isKernelError(e, 'EINVAL')) throw new Error(`delete refused by the kernel: ${e.message} (arrays keep every index)`, { cause: e });
    throw e;
  }
}
