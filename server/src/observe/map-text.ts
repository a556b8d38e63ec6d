/**
 * Map elements as C-like text for hovers and views: keys and values through the map's BTF
 * (btf/value-text.ts), hex bytes without it, per-CPU values as `{ [0] = …, [1] = … }`.
 * A value the BTF cannot describe shows as hex rather than failing the preview.
 */
import { type Btf } from '../btf/btf';
import { formatValueC } from '../btf/value-text';
import { type MapInfo } from '../kernel';
import type { MapElementText } from '../../../protocol/agent';
import { fprintHex } from './map-dump';
import { sumPerCpu } from './map-sum';
import { type MapElement, isPerCpu, valueStride } from './map-read';

/** Bounds one element's text (a hover shows a few lines, not megabytes). */
const MAX_TEXT = 4096;

function text(btf: Btf | undefined, typeId: number, bytes: Uint8Array): string {
  if (btf && typeId) {
    try {
      return formatValueC(btf, typeId, bytes, { maxChars: MAX_TEXT });
    } catch {
      /* hex below */
    }
  }
  const hex = fprintHex(bytes).replace(/\s+/g, ' ');
  return hex.length > MAX_TEXT ? hex.slice(0, MAX_TEXT) + '…' : hex;
}

/** The elements whose key, as previewElements writes it, contains `needle` (case-insensitive). */
export function keysContaining(info: MapInfo, btf: Btf | undefined, elements: readonly MapElement[], needle: string): MapElement[] {
  const want = needle.trim().toLowerCase();
  if (!want) return [...elements];
  return elements.filter((e) => info.keySize > 0 && text(btf, info.btfKeyTypeId, e.key).toLowerCase().includes(want));
}

export function previewElements(info: MapInfo, btf: Btf | undefined, elements: readonly MapElement[], cpus: number): MapElementText[] {
  return elements.map((e) => {
    const key = info.keySize ? text(btf, info.btfKeyTypeId, e.key) : '';
    if (!e.value) return { key, value: `<error ${e.errno ?? 2}>` };
    if (!isPerCpu(info.type)) return { key, value: text(btf, info.btfValueTypeId, e.value) };
    const step = valueStride(info);
    const values: Uint8Array[] = [];
    for (let i = 0; i < cpus; i++) values.push(e.value.subarray(i * step, i * step + info.valueSize));
    const each = values.map((v) => text(btf, info.btfValueTypeId, v));
    const sum = btf && sumPerCpu(btf, info.btfValueTypeId, info.valueSize, values);
    return {
      key,
      value: `{ ${each.map((v, i) => `[${i}] = ${v}`).join(', ')} }`,
      cpus: each,
      ...(sum ? { sum: text(btf, info.btfValueTypeId, sum) } : {}),
    };
  });
}
