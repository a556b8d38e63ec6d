// Field tables for the kernel's bpf(2) structs (`union bpf_attr` members, `struct bpf_*_info`).
// One table per command drives both encoding and decoding, and is exported so the tests can
// compare every offset with the UAPI header (gcc offsetof) and with the running kernel's BTF.

/** Scalar kinds as the UAPI spells them; `ptr` is a __u64 holding a user address; `char[N]` a name. */
export type FieldType = 'u8' | 'u32' | 's32' | 'u64' | 'ptr' | `char[${number}]` | `u8[${number}]`;

export interface Field {
  /** Member name in the UAPI struct (inside anonymous structs/unions as C lets you write it). */
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
  readonly size: number;
}

export interface Layout<N extends string = string> {
  /** e.g. 'bpf_attr.map_create'. */
  readonly title: string;
  /** The C type the fields live in: 'union bpf_attr' or 'struct bpf_prog_info'. */
  readonly cType: string;
  /** Path of the named member holding the fields ('test', 'info', 'link_create'), or ''. */
  readonly cMember: string;
  readonly fields: readonly Field[];
  /** Offset just past the last field (what libbpf passes as offsetofend). */
  readonly size: number;
  field(name: N): Field;
}

/** A table entry: name and type; `at` puts the field at another field's offset (a union). */
export type FieldSpec<N extends string> = readonly [N, FieldType] | readonly [N, FieldType, { at: N }];

function sizeAlign(t: FieldType): [number, number] {
  switch (t) {
    case 'u8':
      return [1, 1];
    case 'u32':
    case 's32':
      return [4, 4];
    case 'u64':
    case 'ptr':
      return [8, 8];
  }
  const n = Number(/\[(\d+)\]/.exec(t)![1]);
  return [n, 1];
}

/** Lays fields out with C's natural alignment, as the kernel's headers are written. */
export function defineLayout<N extends string>(title: string, cType: string, cMember: string, specs: readonly FieldSpec<N>[]): Layout<N> {
  const fields: Field[] = [];
  const byName = new Map<string, Field>();
  let end = 0;
  // Where the next field goes: just past the previous one, even after a union branch
  // (fields of one branch follow each other; the layout's size is the furthest end).
  let cursor = 0;
  for (const spec of specs) {
    const [name, type] = spec;
    const [size, align] = sizeAlign(type);
    let offset: number;
    if (spec.length === 3) {
      const other = byName.get(spec[2].at);
      if (!other) throw new Error(`${title}: ${name} placed at unknown ${spec[2].at}`);
      offset = other.offset;
    } else {
      offset = Math.ceil(cursor / align) * align;
    }
    const f = { name, type, offset, size };
    fields.push(f);
    byName.set(name, f);
    cursor = offset + size;
    end = Math.max(end, cursor);
  }
  return {
    title,
    cType,
    cMember,
    fields,
    size: end,
    field(name: N): Field {
      const f = byName.get(name);
      if (!f) throw new Error(`${title}: no field ${name}`);
      return f;
    },
  };
}

/** A value for one field: numbers/bigints for scalars, a string for char[] names, bytes for u8[]. */
export type FieldValue = number | bigint | string | Uint8Array;

/**
 * Writes the given fields into a zeroed buffer of the layout's size (the kernel requires every
 * byte it does not know to be zero). `ptr` fields take an address (bigint) — see sys.addressOf.
 */
export function encode<N extends string>(layout: Layout<N>, values: Partial<Record<N, FieldValue | undefined>>): Buffer {
  const buf = Buffer.alloc(layout.size);
  for (const [name, value] of Object.entries(values) as [N, FieldValue | undefined][]) {
    if (value === undefined) continue;
    writeField(buf, layout.field(name), value, layout.title);
  }
  return buf;
}

export function writeField(buf: Buffer, f: Field, value: FieldValue, where = ''): void {
  switch (f.type) {
    case 'u8':
      buf.writeUInt8(Number(value), f.offset);
      return;
    case 'u32':
      buf.writeUInt32LE(Number(value) >>> 0, f.offset);
      return;
    case 's32':
      buf.writeInt32LE(Number(value) | 0, f.offset);
      return;
    case 'u64':
    case 'ptr':
      buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value as number | bigint)), f.offset);
      return;
  }
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : (value as Uint8Array);
  // char[N] keeps a terminating NUL, as the kernel checks.
  const room = f.type.startsWith('char') ? f.size - 1 : f.size;
  if (bytes.length > room) throw new RangeError(`${where}.${f.name}: ${bytes.length} bytes do not fit in ${f.type}`);
  buf.set(bytes, f.offset);
}

/** Reads one field from a buffer the kernel filled (zero when the kernel's struct is shorter). */
export function readU32(buf: Uint8Array, f: Field): number {
  if (f.offset + 4 > buf.length) return 0;
  return Buffer.from(buf.buffer, buf.byteOffset, buf.length).readUInt32LE(f.offset);
}

export function readU64(buf: Uint8Array, f: Field): bigint {
  if (f.offset + 8 > buf.length) return 0n;
  return Buffer.from(buf.buffer, buf.byteOffset, buf.length).readBigUInt64LE(f.offset);
}

export function readS32(buf: Uint8Array, f: Field): number {
  return readU32(buf, f) | 0;
}

export function readName(buf: Uint8Array, f: Field): string {
  if (f.offset >= buf.length) return '';
  const raw = buf.subarray(f.offset, Math.min(buf.length, f.offset + f.size));
  const nul = raw.indexOf(0);
  return Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString('latin1');
}

export function readBytes(buf: Uint8Array, f: Field): Uint8Array {
  return Uint8Array.from(buf.subarray(f.offset, f.offset + f.size));
}
