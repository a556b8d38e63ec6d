/**
 * A map's elements as `bpftool map dump` prints them (v7.1): with `-j` an array of
 * {"key": ["0x.."], "value": [...] | "values": [{"cpu", "value"}], "formatted": {...}} objects
 * (`formatted` when the map's value has BTF); without it, the pretty BTF text when the map has
 * BTF, else hex lines and "Found N elements". Elements whose lookup failed appear as bpftool
 * shows them (an empty prog array or map-of-maps slot not at all).
 */
import { type Btf } from '../btf/btf';
import { JsonWriter, OutputLimitError } from '../btf/json-writer';
import { writeValue } from '../btf/value-format';
import { type MapInfo } from '../kernel';
import { type MapElement, type MapRead, holdsIds, isPerCpu, valueStride } from './map-read';

export interface DumpInput {
  readonly info: MapInfo;
  /** The map's BTF (undefined without one). */
  readonly btf?: Btf;
  readonly read: MapRead;
  /** Possible CPUs of the target (per-CPU maps). */
  readonly cpus: number;
}

export interface DumpOptions {
  readonly json: boolean;
  /** `bpftool -p`: pretty JSON. */
  readonly pretty?: boolean;
  /** Stop with OutputLimitError past this many characters. */
  readonly maxChars?: number;
}

const STRERROR: Readonly<Record<number, string>> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  7: 'Argument list too long',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  22: 'Invalid argument',
  28: 'No space left on device',
  95: 'Operation not supported',
  524: 'Unknown error 524',
};
function strerror(errno: number): string {
  return STRERROR[errno] ?? `Unknown error ${errno}`;
}

/** The text bpftool prints for the dump (its trailing newline included). */
export function formatMapDump(input: DumpInput, opts: DumpOptions): string {
  const { info } = input;
  // bpftool decodes with BTF only when the value has a BTF type (get_map_kv_btf)
  const btf = info.btfValueTypeId || info.btfVmlinuxValueTypeId ? input.btf : undefined;
  if (opts.json) {
    const w = new JsonWriter({ pretty: opts.pretty, maxChars: opts.maxChars });
    w.startArray();
    for (const e of input.read.elements) {
      if (e.value) entryJson(w, input, btf, e.key, e.value);
      else entryErrorJson(w, info, e);
    }
    w.endArray();
    return w.text() + '\n';
  }
  if (info.btfId) {
    // bpftool's plain output for a map with BTF: its own pretty writer around every element
    const w = new JsonWriter({ pretty: true, maxChars: opts.maxChars });
    w.startArray();
    for (const e of input.read.elements) {
      if (!e.value) w.verbatim(entryErrorPlain(info, e));
      else if (btf) dumpBtf(w, input, btf, e.key, e.value, true);
      else w.verbatim(entryPlain(info, input.cpus, e.key, e.value));
    }
    w.endArray();
    return w.text() + '\n';
  }
  let out = '';
  let n = 0;
  for (const e of input.read.elements) {
    if (e.value) {
      out += entryPlain(info, input.cpus, e.key, e.value);
      n++;
    } else out += entryErrorPlain(info, e);
    if (opts.maxChars !== undefined && out.length > opts.maxChars) throw new OutputLimitError(opts.maxChars);
  }
  return out + `Found ${n} element${n !== 1 ? 's' : ''}\n`;
}

/** `"0x00"` … `"0xff"`: bpftool's print_hex_data_json items. */
const HEX_ITEMS = Array.from({ length: 256 }, (_, b) => `"0x${b.toString(16).padStart(2, '0')}"`);

function hexJson(w: JsonWriter, bytes: Uint8Array): void {
  w.startArray();
  if (!bytes.length) return w.endArray();
  let s = HEX_ITEMS[bytes[0]];
  for (let i = 1; i < bytes.length; i++) s += ',' + HEX_ITEMS[bytes[i]];
  w.rawItems([s]);
  w.endArray();
}

function entryJson(w: JsonWriter, input: DumpInput, btf: Btf | undefined, key: Uint8Array, value: Uint8Array): void {
  const { info } = input;
  w.startObject();
  w.name('key');
  hexJson(w, key);
  if (!isPerCpu(info.type)) {
    w.name('value');
    hexJson(w, value);
  } else {
    const step = valueStride(info);
    w.name('values');
    w.startArray();
    for (let i = 0; i < input.cpus; i++) {
      w.startObject();
      w.name('cpu');
      w.raw(String(i));
      w.name('value');
      hexJson(w, value.subarray(i * step, i * step + info.valueSize));
      w.endObject();
    }
    w.endArray();
  }
  if (btf) {
    w.name('formatted');
    dumpBtf(w, input, btf, key, value, false);
  }
  w.endObject();
}

/** bpftool's do_dump_btf: {"key": …, "value": …} or per CPU {"key", "values": [{"cpu", "value"}]}. */
function dumpBtf(w: JsonWriter, input: DumpInput, btf: Btf, key: Uint8Array, value: Uint8Array, plain: boolean): void {
  const { info } = input;
  w.startObject();
  try {
    if (info.btfKeyTypeId) {
      w.name('key');
      if (!writeValue(btf, info.btfKeyTypeId, key, w, { plain })) return;
    }
    if (!isPerCpu(info.type)) {
      w.name('value');
      writeValue(btf, info.btfValueTypeId, value, w, { plain });
      return;
    }
    const step = valueStride(info);
    w.name('values');
    w.startArray();
    for (let i = 0; i < input.cpus; i++) {
      w.startObject();
      w.name('cpu');
      w.raw(String(i));
      w.name('value');
      const ok = writeValue(btf, info.btfValueTypeId, value.subarray(i * step, i * step + info.valueSize), w, { plain });
      w.endObject();
      if (!ok) break;
    }
    w.endArray();
  } finally {
    w.endObject();
  }
}

/** bpftool's fprint_hex: bytes in hex, two spaces after every 8th, a new line after every 16th. */
export function fprintHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i === 0) s += '';
    else if (i % 16 === 0) s += '\n';
    else if (i % 8 === 0) s += '  ';
    else s += ' ';
    s += bytes[i].toString(16).padStart(2, '0');
  }
  return s;
}

function entryPlain(info: MapInfo, cpus: number, key: Uint8Array, value: Uint8Array): string {
  if (!isPerCpu(info.type)) {
    const breakNames = info.keySize > 16 || info.valueSize > 16;
    const singleLine = info.keySize + info.valueSize <= 24 && !breakNames;
    const sep = breakNames ? '\n' : ' ';
    return `key:${sep}${fprintHex(key)}${singleLine ? '  ' : '\n'}value:${sep}${fprintHex(value)}\n`;
  }
  const step = valueStride(info);
  let s = `key:\n${fprintHex(key)}\n`;
  for (let i = 0; i < cpus; i++) {
    s += `value (CPU ${String(i).padStart(2, '0')}):${info.valueSize > 16 ? '\n' : ' '}`;
    s += fprintHex(value.subarray(i * step, i * step + info.valueSize)) + '\n';
  }
  return s;
}

function entryErrorJson(w: JsonWriter, info: MapInfo, e: MapElement): void {
  const errno = e.errno ?? 2;
  // an empty slot of a prog array or map of maps is no element
  if (holdsIds(info.type) && errno === 2) return;
  w.startObject();
  w.name('key');
  hexJson(w, e.key);
  w.name('value');
  w.startObject();
  w.name('error');
  w.string(strerror(errno));
  w.endObject();
  w.endObject();
}

function entryErrorPlain(info: MapInfo, e: MapElement): string {
  const errno = e.errno ?? 2;
  if (holdsIds(info.type) && errno === 2) return '';
  const msg = errno === 2 ? '<no entry>' : errno === 28 && info.type === 20 /* REUSEPORT_SOCKARRAY */ ? '<cannot read>' : strerror(errno);
  const breakNames = info.keySize > 16 || msg.length > 16;
  const singleLine = info.keySize + msg.length <= 24 && !breakNames;
  const sep = breakNames ? '\n' : ' ';
  return `key:${sep}${fprintHex(e.key)}${singleLine ? '  ' : '\n'}value:${sep}${msg}\n`;
}
