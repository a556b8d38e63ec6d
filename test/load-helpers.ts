// Shared by the load tests: load an object with BPF Lens (loadObject) or with libbpf
// (`bpftool prog loadall`), describe what either created as bpftool sees it, craft packets,
// read maps. Everything that opens FDs or pins has a cleanup the caller runs in finally/t.after.
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'fs';
import { after } from 'node:test';
import * as path from 'path';
import {
  BPF_MAP_TYPE,
  type Fd,
  closeFd,
  getFdById,
  isKernelError,
  localKernel,
  mapLookupElem,
  progInfo,
  userValueSize,
} from '../server/src/kernel';
import { loadObject } from '../server/src/load';
import type { LoadOptions, LoadResult, LoadedMap } from '../server/src/load/types';
import { openObject } from '../server/src/object';
import type { BpfObject } from '../server/src/object/model';
import { run } from './helpers';
import { bpffsDir } from './kernel/kernel-env';

export const BPFFS = '/sys/fs/bpf';

/** Reads and models an object file, as `bpf-lens load` does before loading. */
export function openFile(file: string): BpfObject {
  return openObject(new Uint8Array(readFileSync(file)), file);
}

/** Loads an object (a path or an already edited model) into this kernel with BPF Lens. */
export async function lensLoad(obj: string | BpfObject, opts: Partial<LoadOptions> = {}): Promise<LoadResult> {
  const model = typeof obj === 'string' ? openFile(obj) : obj;
  return loadObject(model, { kernel: localKernel, ...opts });
}

/** Names of the maps an object pins by name (libbpf pins them under /sys/fs/bpf whatever we ask). */
export function pinnedByName(obj: BpfObject): string[] {
  return obj.maps.filter((m) => m.pinning === 'by_name').map((m) => m.name);
}

/**
 * For a test file that loads `files` through the CLI (`load`, `verify`) without a pin root: their
 * maps pinned by name go to /sys/fs/bpf and stay. An after hook removes those that were not
 * there when the file started, even when a test failed.
 */
export function removeByNamePinsAfter(files: readonly string[]): void {
  const pins = [...new Set(files.flatMap((f) => pinnedByName(openFile(f)).map((n) => path.join(BPFFS, n))))];
  const existed = new Set(pins.filter((p) => existsSync(p)));
  after(() => {
    for (const p of pins) if (!existed.has(p)) rmSync(p, { force: true });
  });
}

// ---- what the kernel holds, as bpftool shows it ----

export interface BpftoolProg {
  id: number;
  type: string;
  name: string;
  tag: string;
  gpl_compatible: boolean;
  bytes_xlated: number;
  map_ids?: number[];
  btf_id?: number;
}

export interface BpftoolMap {
  id: number;
  type: string;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen: number;
  btf_id?: number;
}

/** The comparable shape of a program: everything libbpf and BPF Lens must agree on. */
export interface ProgShape {
  type: string;
  kernelName: string;
  tag: string;
  bytes_xlated: number;
  verified_insns: number;
  gpl_compatible: boolean;
  maps: string[];
  btf: boolean;
}

/** The comparable shape of a map, with the initial contents of plain arrays and the names in outer maps/prog-arrays. */
export interface MapShape {
  type: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen: number;
  btf: boolean;
  contents?: string;
}

export interface Snapshot {
  progs: Map<string, ProgShape>;
  /** By kernel map name. */
  maps: Map<string, MapShape>;
}

const json = <T>(args: string[]): T => JSON.parse(run('bpftool', ['-j', ...args])) as T;

function verifiedInsns(id: number): number {
  const fd = getFdById('prog', id);
  try {
    return progInfo(fd).verifiedInsns;
  } finally {
    closeFd(fd);
  }
}

interface DumpEntry {
  key: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
}

const hex = (bytes: string[]) => bytes.map((b) => b.replace(/^0x/, '')).join('');

function hexU32(bytes: string[]): number {
  return Number.parseInt(
    [...bytes]
      .slice(0, 4)
      .reverse()
      .map((b) => b.replace(/^0x/, ''))
      .join(''),
    16,
  );
}

/** Initial contents worth comparing: plain arrays byte for byte, outer maps and prog-arrays by the names in their slots. */
function contents(m: BpftoolMap): string | undefined {
  const slotNames = m.type === 'prog_array' || m.type === 'array_of_maps' || m.type === 'hash_of_maps';
  if (m.type !== 'array' && !slotNames) return undefined;
  const entries = json<DumpEntry[]>(['map', 'dump', 'id', String(m.id)]);
  return entries
    .map((e) => {
      const key = hex(e.key);
      if (!slotNames) return `${key}=${hex(e.value ?? [])}`;
      const id = hexU32(e.value ?? []);
      const name =
        m.type === 'prog_array'
          ? json<BpftoolProg>(['prog', 'show', 'id', String(id)]).name
          : json<BpftoolMap>(['map', 'show', 'id', String(id)]).name;
      return `${key}->${name}`;
    })
    .sort()
    .join(' ');
}

function mapShape(m: BpftoolMap): MapShape {
  return {
    type: m.type,
    flags: m.flags,
    bytes_key: m.bytes_key,
    bytes_value: m.bytes_value,
    max_entries: m.max_entries,
    frozen: m.frozen,
    btf: (m.btf_id ?? 0) > 0,
    contents: contents(m),
  };
}

function progShape(p: BpftoolProg, mapNames: Map<number, string>): ProgShape {
  return {
    type: p.type,
    kernelName: p.name,
    tag: p.tag,
    bytes_xlated: p.bytes_xlated,
    verified_insns: verifiedInsns(p.id),
    gpl_compatible: p.gpl_compatible,
    maps: (p.map_ids ?? []).map((id) => mapNames.get(id) ?? `#${id}`).sort(),
    btf: (p.btf_id ?? 0) > 0,
  };
}

/** Inner maps and programs reachable through outer maps (libbpf's pins may not name them). */
function reachableMapIds(ids: Iterable<number>, show: (id: number) => BpftoolMap): Set<number> {
  const seen = new Set<number>();
  const todo = [...ids];
  while (todo.length) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const m = show(id);
    if (m.type === 'array_of_maps' || m.type === 'hash_of_maps') {
      for (const e of json<DumpEntry[]>(['map', 'dump', 'id', String(id)])) todo.push(hexU32(e.value ?? []));
    }
  }
  return seen;
}

function snapshot(progs: Map<string, BpftoolProg>, mapIds: Iterable<number>): Snapshot {
  // each map shown once (a bpftool run each: the selftests corpus makes thousands)
  const shown = new Map<number, BpftoolMap>();
  const show = (id: number) => shown.get(id) ?? shown.set(id, json<BpftoolMap>(['map', 'show', 'id', String(id)])).get(id)!;
  const maps = [...reachableMapIds(mapIds, show)].map(show);
  const names = new Map(maps.map((m) => [m.id, m.name]));
  return {
    progs: new Map([...progs].map(([name, p]) => [name, progShape(p, names)])),
    maps: new Map(maps.map((m) => [m.name, mapShape(m)])),
  };
}

/** What a BPF Lens load created, seen through bpftool like libbpf's. */
export function lensSnapshot(r: LoadResult): Snapshot {
  const progs = new Map(r.programs.map((p) => [p.name, json<BpftoolProg>(['prog', 'show', 'id', String(p.id)])]));
  return snapshot(
    progs,
    r.maps.map((m) => m.id),
  );
}

/** The differences between two snapshots, one line each (empty when equal). */
export function snapshotDifferences(lib: Snapshot, ours: Snapshot): string[] {
  const out: string[] = [];
  const keys = (m: Map<string, unknown>) => [...m.keys()].sort().join(',');
  if (keys(lib.progs) !== keys(ours.progs)) out.push(`programs: libbpf ${keys(lib.progs)}, BPF Lens ${keys(ours.progs)}`);
  if (keys(lib.maps) !== keys(ours.maps)) out.push(`maps: libbpf ${keys(lib.maps)}, BPF Lens ${keys(ours.maps)}`);
  for (const [name, p] of lib.progs) {
    const mine = ours.progs.get(name);
    if (mine && JSON.stringify(mine) !== JSON.stringify(p))
      out.push(`program ${name}: libbpf ${JSON.stringify(p)}, BPF Lens ${JSON.stringify(mine)}`);
  }
  for (const [name, m] of lib.maps) {
    const mine = ours.maps.get(name);
    if (mine && JSON.stringify(mine) !== JSON.stringify(m))
      out.push(`map ${name}: libbpf ${JSON.stringify(m)}, BPF Lens ${JSON.stringify(mine)}`);
  }
  return out;
}

export interface LibbpfLoad {
  ok: boolean;
  /** libbpf's and bpftool's messages. */
  stderr: string;
  snapshot?: Snapshot;
}

/**
 * `bpftool prog loadall FILE DIR [pinmaps DIR] [type T]`: libbpf 1.1's load (`opts.bpftool`: another
 * bpftool, e.g. the libbpf 1.5 one of test/refs.ts). Every map is pinned
 * (pinmaps) unless the object pins maps by name itself (libbpf then refuses a second pin path);
 * the maps are then found through the programs and the by-name pins. All pins are removed
 * before returning, so nothing outlives the call.
 */
export function libbpfLoad(file: string, opts: { type?: string; bpftool?: string } = {}): LibbpfLoad {
  const byName = pinnedByName(openFile(file)).map((n) => path.join(BPFFS, n));
  const { dir, done } = bpffsDir('libbpf');
  try {
    for (const p of byName) rmSync(p, { force: true });
    const progDir = path.join(dir, 'progs');
    const mapDir = path.join(dir, 'maps');
    mkdirSync(mapDir);
    const args = [
      'prog',
      'loadall',
      file,
      progDir,
      ...(byName.length ? [] : ['pinmaps', mapDir]),
      ...(opts.type ? ['type', opts.type] : []),
    ];
    const r = spawnSync(opts.bpftool ?? 'bpftool', args, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) return { ok: false, stderr: r.stderr };
    const progs = new Map<string, BpftoolProg>();
    for (const name of existsSync(progDir) ? readdirSync(progDir) : []) {
      progs.set(name, json<BpftoolProg>(['prog', 'show', 'pinned', path.join(progDir, name)]));
    }
    const mapIds = new Set<number>([...progs.values()].flatMap((p) => p.map_ids ?? []));
    for (const name of readdirSync(mapDir)) mapIds.add(json<BpftoolMap>(['map', 'show', 'pinned', path.join(mapDir, name)]).id);
    for (const p of byName) if (existsSync(p)) mapIds.add(json<BpftoolMap>(['map', 'show', 'pinned', p]).id);
    return { ok: true, stderr: r.stderr, snapshot: snapshot(progs, mapIds) };
  } finally {
    for (const p of byName) rmSync(p, { force: true });
    done();
  }
}

export interface OneProgram {
  ok: boolean;
  stderr: string;
  shape?: ProgShape;
}

/**
 * One program of an object loaded alone by libbpf: test/tools/load-one.c (built against libbpf
 * 1.5 by test/refs.ts) turns every other program's autoload off, loads, and pins that one, which
 * is read back through bpftool. By-name map pins are removed before and after, as libbpfLoad does.
 */
export function libbpfLoadOne(file: string, prog: string, tool: string): OneProgram {
  const byName = pinnedByName(openFile(file)).map((n) => path.join(BPFFS, n));
  const { dir, done } = bpffsDir('libbpf1');
  try {
    for (const p of byName) rmSync(p, { force: true });
    const pin = path.join(dir, 'prog');
    const r = spawnSync(tool, [file, prog, pin], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) return { ok: false, stderr: r.stderr };
    const shown = json<BpftoolProg>(['prog', 'show', 'pinned', pin]);
    return { ok: true, stderr: r.stderr, shape: snapshot(new Map([[prog, shown]]), shown.map_ids ?? []).progs.get(prog) };
  } finally {
    for (const p of byName) rmSync(p, { force: true });
    done();
  }
}

/** The same program loaded alone by BPF Lens (`noAutoload`: every other program of the object). */
export async function lensLoadOne(file: string, prog: string, opts: Partial<LoadOptions> = {}): Promise<OneProgram> {
  const obj = openFile(file);
  const { dir, done } = bpffsDir('lens1');
  try {
    const others = obj.programs.filter((p) => p.name !== prog).map((p) => p.name);
    const r = await lensLoad(obj, { pinRoot: dir, ...opts, noAutoload: others });
    try {
      return { ok: true, stderr: '', shape: lensSnapshot(r).progs.get(prog) };
    } finally {
      r.close();
    }
  } catch (e) {
    return { ok: false, stderr: e instanceof Error ? e.message : String(e) };
  } finally {
    done();
  }
}

// ---- maps of a BPF Lens load ----

export function mapOf(r: LoadResult, name: string): LoadedMap {
  const m = r.maps.find((x) => x.name === name);
  if (!m) throw new Error(`the load has no map ${name} (it has ${r.maps.map((x) => x.name).join(', ')})`);
  return m;
}

export function progFd(r: LoadResult, name: string): Fd {
  const p = r.programs.find((x) => x.name === name);
  if (!p) throw new Error(`the load has no program ${name} (it has ${r.programs.map((x) => x.name).join(', ')})`);
  return p.fd;
}

const MAP_TYPE_IDS = BPF_MAP_TYPE as unknown as Record<string, number>;

/** The value at `key` (per-CPU maps: one value per possible CPU, each 8-byte aligned), or undefined. */
export function lookup(r: LoadResult, name: string, key: Uint8Array): Uint8Array | undefined {
  const m = mapOf(r, name);
  const typeId = MAP_TYPE_IDS[`BPF_MAP_TYPE_${m.type.toUpperCase()}`];
  if (typeId === undefined) throw new Error(`unknown map type ${m.type}`);
  return mapLookupElem(m.fd, key, userValueSize(typeId, m.valueSize));
}

export const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return new Uint8Array(b);
};
export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return new Uint8Array(b);
};
export const le64 = (b: Uint8Array | undefined, off = 0): bigint => {
  if (!b) throw new Error('no value');
  return Buffer.from(b.buffer, b.byteOffset, b.length).readBigUInt64LE(off);
};
export const le32 = (b: Uint8Array | undefined, off = 0): number => {
  if (!b) throw new Error('no value');
  return Buffer.from(b.buffer, b.byteOffset, b.length).readUInt32LE(off);
};

/** Sum of a per-CPU u64 value over every CPU. */
export function perCpuSum(b: Uint8Array | undefined): bigint {
  if (!b) throw new Error('no value');
  let s = 0n;
  for (let off = 0; off + 8 <= b.length; off += 8) s += le64(b, off);
  return s;
}

// ---- packets ----

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const IPPROTO = { icmp: 1, tcp: 6, udp: 17 } as const;

export interface PacketSpec {
  proto: keyof typeof IPPROTO;
  dport?: number;
  sport?: number;
  /** Payload bytes after the L4 header. */
  payload?: number;
  /** TCP data offset in 32-bit words (default 5). */
  tcpDoff?: number;
}

/** Ethernet + IPv4 (no options) + UDP/TCP/ICMP header + zero payload. Checksums are left 0. */
export function ipv4Packet(s: PacketSpec): Uint8Array {
  const l4 = s.proto === 'tcp' ? (s.tcpDoff ?? 5) * 4 : 8;
  const len = 14 + 20 + l4 + (s.payload ?? 0);
  const b = Buffer.alloc(len);
  b.fill(0x02, 0, 6);
  b.fill(0x04, 6, 12);
  b.writeUInt16BE(ETH_P_IP, 12);
  b[14] = 0x45;
  b.writeUInt16BE(len - 14, 16);
  b[22] = 64;
  b[23] = IPPROTO[s.proto];
  b.writeUInt32BE(0x0a000001, 26);
  b.writeUInt32BE(0x0a000002, 30);
  if (s.proto !== 'icmp') {
    b.writeUInt16BE(s.sport ?? 40000, 34);
    b.writeUInt16BE(s.dport ?? 80, 36);
  } else {
    b[34] = 8; // echo request
  }
  if (s.proto === 'udp') b.writeUInt16BE(8 + (s.payload ?? 0), 38);
  if (s.proto === 'tcp') b[34 + 12] = (s.tcpDoff ?? 5) << 4;
  return new Uint8Array(b);
}

/** An ARP frame (not IP). */
export function arpPacket(): Uint8Array {
  const b = Buffer.alloc(42);
  b.writeUInt16BE(ETH_P_ARP, 12);
  return new Uint8Array(b);
}

/** Is a kernel object with this id still there? (GET_FD_BY_ID answers ENOENT once it is gone.) */
export function kernelIdAlive(kind: 'prog' | 'map', id: number): boolean {
  try {
    closeFd(getFdById(kind, id));
    return true;
  } catch (e) {
    if (isKernelError(e) && e.errno === 2) return false;
    throw e;
  }
}
