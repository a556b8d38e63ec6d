/**
 * BTF-defined map definitions (`struct { __uint(type, ...); __type(key, ...); } name SEC(".maps")`)
 * decoded and validated as libbpf's parse_btf_map_def does — but every problem is collected
 * as a diagnostic naming the map and the field, instead of stopping at the first.
 */
import type { Btf } from '../btf/btf';
import { sizeOf } from '../btf/layout';
import { skipModsAndTypedefs } from '../btf/skip-mods';
import type { BtfComposite, BtfType, TypeId } from '../btf/types';
import type { ObjectDiagnostic } from './model';
import { BPF_MAP_TYPE } from '../common/uapi';
import { mapTypeName } from './uapi-names';

const {
  BPF_MAP_TYPE_PROG_ARRAY: MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_ARRAY_OF_MAPS: MAP_TYPE_ARRAY_OF_MAPS,
  BPF_MAP_TYPE_HASH_OF_MAPS: MAP_TYPE_HASH_OF_MAPS,
} = BPF_MAP_TYPE;

/** The fields of one map definition, as found (undefined = not given). */
export interface MapDefFields {
  type?: number;
  keySize?: number;
  valueSize?: number;
  keyTypeId?: TypeId;
  valueTypeId?: TypeId;
  maxEntries?: number;
  flags?: number;
  numaNode?: number;
  pinning?: number;
  mapExtra?: bigint;
  /** `values` member: its byte offset in the definition struct. */
  valuesOffset?: number;
  /** Inner map definition (map-in-map `__array(values, struct {...})`). */
  inner?: MapDefFields;
  innerDefTypeId?: TypeId;
  /** Prog-array `__array(values, int (void *))`. */
  valuesAreProgs?: boolean;
}

function kindOf(t: BtfType | undefined): string {
  return t ? t.kind : 'void';
}

export class MapDefParser {
  /** True while parsing the inner definition of a map-in-map (errors say so). */
  private inInner = false;

  constructor(
    private readonly btf: Btf,
    private readonly diags: ObjectDiagnostic[],
  ) {}

  private error(map: string, field: string | undefined, message: string): void {
    const where = this.inInner ? `map '${map}' (inner map definition)` : `map '${map}'`;
    this.diags.push({ severity: 'error', map, ...(field ? { field } : {}), message: `${where}: ${message}` });
  }

  /** `__uint(name, v)`: a pointer to an array of v elements. */
  private uint(map: string, field: string, id: TypeId): number | undefined {
    const [, t] = skipModsAndTypedefs(this.btf, id);
    if (t?.kind !== 'PTR') {
      this.error(map, field, `attr '${field}': expected PTR, got ${kindOf(t)}`);
      return undefined;
    }
    const [, arr] = skipModsAndTypedefs(this.btf, t.type);
    if (arr?.kind !== 'ARRAY') {
      this.error(map, field, `attr '${field}': expected ARRAY, got ${kindOf(arr)}`);
      return undefined;
    }
    return arr.nelems;
  }

  /** map_extra: `__uint` or `__ulong` (a one-value ENUM/ENUM64). */
  private ulong(map: string, field: string, id: TypeId): bigint | undefined {
    const [, t] = skipModsAndTypedefs(this.btf, id);
    if (t?.kind === 'ENUM' || t?.kind === 'ENUM64') {
      if (t.values.length !== 1) {
        this.error(map, field, `attr '${field}': invalid __ulong, expected one enum value, got ${t.values.length}`);
        return undefined;
      }
      const v = t.values[0].value;
      return BigInt.asUintN(64, BigInt(v));
    }
    const n = this.uint(map, field, id);
    return n === undefined ? undefined : BigInt(n);
  }

  /** `__type(name, T)`: a pointer to T; returns T's id and size. */
  private typeRef(map: string, field: string, id: TypeId): [TypeId, number] | undefined {
    const [, t] = skipModsAndTypedefs(this.btf, id);
    if (t?.kind !== 'PTR') {
      this.error(map, field, `${field} spec is not PTR: ${kindOf(t)}`);
      return undefined;
    }
    let size: number;
    try {
      size = sizeOf(this.btf, t.type);
    } catch {
      size = 0;
    }
    if (size <= 0 && t.type !== 0) {
      this.error(map, field, `can't determine ${field} size for type [${t.type}]`);
      return undefined;
    }
    return [t.type, size];
  }

  /**
   * Decodes a definition struct. `inner` is true for the definition inside `values`
   * (one level only, not pinnable).
   */
  parse(map: string, def: BtfComposite, inner = false): MapDefFields {
    const f: MapDefFields = {};
    def.members.forEach((m, i) => {
      const name = m.name;
      switch (name) {
        case 'type':
          f.type = this.uint(map, name, m.type);
          break;
        case 'max_entries':
          f.maxEntries = this.uint(map, name, m.type);
          break;
        case 'map_flags':
          f.flags = this.uint(map, name, m.type);
          break;
        case 'numa_node':
          f.numaNode = this.uint(map, name, m.type);
          break;
        case 'map_extra':
          f.mapExtra = this.ulong(map, name, m.type);
          break;
        case 'key_size':
        case 'value_size': {
          const sz = this.uint(map, name, m.type);
          if (sz === undefined) break;
          const which = name === 'key_size' ? 'key' : 'value';
          const had = which === 'key' ? f.keySize : f.valueSize;
          if (had !== undefined && had !== sz) this.error(map, name, `conflicting ${which} size ${had} != ${sz}`);
          if (which === 'key') f.keySize = sz;
          else f.valueSize = sz;
          break;
        }
        case 'key':
        case 'value': {
          const r = this.typeRef(map, name, m.type);
          if (!r) break;
          const [tid, sz] = r;
          const had = name === 'key' ? f.keySize : f.valueSize;
          if (had !== undefined && had !== sz) this.error(map, name, `conflicting ${name} size ${had} != ${sz}`);
          if (name === 'key') {
            f.keySize = sz;
            f.keyTypeId = tid;
          } else {
            f.valueSize = sz;
            f.valueTypeId = tid;
          }
          break;
        }
        case 'pinning': {
          if (inner) {
            this.error(map, name, `can't be pinned`);
            break;
          }
          const v = this.uint(map, name, m.type);
          if (v === undefined) break;
          if (v !== 0 && v !== 1) {
            this.error(map, name, `invalid pinning value ${v} (expected LIBBPF_PIN_NONE 0 or LIBBPF_PIN_BY_NAME 1)`);
            break;
          }
          f.pinning = v;
          break;
        }
        case 'values':
          this.values(map, def, f, i, inner);
          break;
        default:
          this.error(map, name || undefined, `unknown field '${name}'`);
      }
    });
    if (f.type === undefined && !def.members.some((m) => m.name === 'type')) this.error(map, 'type', `map type isn't specified`);
    return f;
  }

  private values(map: string, def: BtfComposite, f: MapDefFields, i: number, inner: boolean): void {
    const m = def.members[i];
    const field = 'values';
    if (inner) {
      this.error(map, field, `multi-level inner maps are not supported`);
      return;
    }
    if (i !== def.members.length - 1) {
      this.error(map, field, `'values' must be the last member`);
      return;
    }
    const isMapInMap = f.type === MAP_TYPE_ARRAY_OF_MAPS || f.type === MAP_TYPE_HASH_OF_MAPS;
    const isProgArray = f.type === MAP_TYPE_PROG_ARRAY;
    if (!isMapInMap && !isProgArray) {
      const what = f.type === undefined ? 'no map type given before it' : `map type ${mapTypeName(f.type)}`;
      this.error(map, field, `should be map-in-map or prog-array (${what})`);
      return;
    }
    const [, arr] = skipModsAndTypedefs(this.btf, m.type);
    if (arr?.kind !== 'ARRAY' || arr.nelems !== 0) {
      this.error(map, field, `map-in-map/prog-array 'values' must be a zero-sized array of pointers, got ${kindOf(arr)}`);
      return;
    }
    const [, ptr] = skipModsAndTypedefs(this.btf, arr.type);
    if (ptr?.kind !== 'PTR') {
      this.error(map, field, `'values' array elements must be pointers, got ${kindOf(ptr)}`);
      return;
    }
    const [innerId, target] = skipModsAndTypedefs(this.btf, ptr.type);
    if (isProgArray) {
      if (target?.kind !== 'FUNC_PROTO') {
        this.error(map, field, `prog-array 'values' must point to a function prototype, got ${kindOf(target)}`);
        return;
      }
      f.valuesAreProgs = true;
    } else {
      if (target?.kind !== 'STRUCT') {
        this.error(map, field, `map-in-map inner type must be a struct, got ${kindOf(target)}`);
        return;
      }
      this.inInner = true;
      try {
        f.inner = this.parse(map, target, true);
      } finally {
        this.inInner = false;
      }
      f.innerDefTypeId = innerId;
    }
    if (f.valueSize !== undefined && f.valueSize !== 4)
      this.error(map, field, `conflicting value size ${f.valueSize} != 4 (values holds 4-byte ids)`);
    f.valueSize = 4;
    f.valuesOffset = Math.floor(m.bitsOffset / 8);
  }
}
