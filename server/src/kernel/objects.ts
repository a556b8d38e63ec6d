// Kernel objects by path and by id: OBJ_PIN / OBJ_GET, *_GET_NEXT_ID, *_GET_FD_BY_ID, and
// OBJ_GET_INFO_BY_FD for programs, maps, BTF and links.
import { readlinkSync } from 'fs';
import {
  type BtfInfo,
  INFO_BUF_SIZE,
  type LinkInfo,
  type MapInfo,
  type ProgInfo,
  BTF_INFO_LAYOUT,
  PROG_INFO_LAYOUT,
  decodeLinkInfo,
  decodeMapInfo,
  decodeProgInfo,
} from './attr/info';
import { encode, readU32 } from './attr/layout';
import { encodeGetId, encodeInfoAttr, encodeObj, INFO_ATTR_LAYOUT } from './attr/obj';
import { isKernelError } from './errors';
import { type Fd, addressOf, bpf } from './sys';
import { BPF_CMD } from '../common/uapi';

/** BPF_OBJ_PIN: makes `path` (inside a bpffs mount) refer to the object. */
export function objPin(fd: Fd, path: string, context = ''): void {
  const p = Buffer.from(`${path}\0`);
  bpf(BPF_CMD.BPF_OBJ_PIN, encodeObj({ pathname: addressOf(p), bpf_fd: fd }), context || `pin ${path}`);
}

/** BPF_OBJ_GET: an FD for a pinned object. `fileFlags`: BPF_F_RDONLY / BPF_F_WRONLY. */
export function objGet(path: string, fileFlags = 0): Fd {
  const p = Buffer.from(`${path}\0`);
  return bpf(BPF_CMD.BPF_OBJ_GET, encodeObj({ pathname: addressOf(p), file_flags: fileFlags }), `get ${path}`);
}

/** The kinds of kernel objects that have ids. */
export type ObjKind = 'prog' | 'map' | 'btf' | 'link';

const ANON_INODE_KIND: Readonly<Record<string, ObjKind>> = {
  'anon_inode:bpf-prog': 'prog',
  'anon_inode:bpf-map': 'map',
  'anon_inode:bpf_link': 'link',
  'anon_inode:btf': 'btf',
};

/**
 * What kind of BPF object an FD of this process is (as bpftool's get_fd_type: the anonymous
 * inode's name), or undefined when it is none (a memfd, a file).
 */
export function objKind(fd: Fd): ObjKind | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  return ANON_INODE_KIND[target];
}

const NEXT_ID = {
  prog: BPF_CMD.BPF_PROG_GET_NEXT_ID,
  map: BPF_CMD.BPF_MAP_GET_NEXT_ID,
  btf: BPF_CMD.BPF_BTF_GET_NEXT_ID,
  link: BPF_CMD.BPF_LINK_GET_NEXT_ID,
};
const FD_BY_ID = {
  prog: BPF_CMD.BPF_PROG_GET_FD_BY_ID,
  map: BPF_CMD.BPF_MAP_GET_FD_BY_ID,
  btf: BPF_CMD.BPF_BTF_GET_FD_BY_ID,
  link: BPF_CMD.BPF_LINK_GET_FD_BY_ID,
};

/** *_GET_NEXT_ID: the next id after `startId`, or undefined when there is none (ENOENT). */
export function getNextId(kind: ObjKind, startId: number): number | undefined {
  const attr = encodeGetId({ start_id: startId });
  try {
    bpf(NEXT_ID[kind], attr);
  } catch (e) {
    if (isKernelError(e, 'ENOENT')) return undefined;
    throw e;
  }
  return attr.readUInt32LE(4);
}

/** Every id of a kind, in increasing order. */
export function listIds(kind: ObjKind): number[] {
  const ids: number[] = [];
  for (let id = getNextId(kind, 0); id !== undefined; id = getNextId(kind, id)) ids.push(id);
  return ids;
}

/** *_GET_FD_BY_ID: an FD for an object by id (ENOENT if it went away meanwhile). */
export function getFdById(kind: ObjKind, id: number, openFlags = 0): Fd {
  return bpf(FD_BY_ID[kind], encodeGetId({ start_id: id, open_flags: openFlags }), `${kind} id ${id}`);
}

/** OBJ_GET_INFO_BY_FD into `info` (whose input fields the caller may have set); returns info_len. */
export function objGetInfoRaw(fd: Fd, info: Buffer): number {
  const attr = encodeInfoAttr({ bpf_fd: fd, info_len: info.length, info: addressOf(info) });
  bpf(BPF_CMD.BPF_OBJ_GET_INFO_BY_FD, attr);
  return readU32(attr, INFO_ATTR_LAYOUT.field('info_len'));
}

export function progInfo(fd: Fd): ProgInfo {
  const buf = Buffer.alloc(INFO_BUF_SIZE);
  objGetInfoRaw(fd, buf);
  return decodeProgInfo(buf);
}

/** Ids of the maps a program uses (a second call with room for them, as bpftool does). */
export function progMapIds(fd: Fd): number[] {
  const n = progInfo(fd).nrMapIds;
  if (n === 0) return [];
  const ids = Buffer.alloc(4 * n);
  const info = Buffer.alloc(INFO_BUF_SIZE);
  info.set(encode(PROG_INFO_LAYOUT, { nr_map_ids: n, map_ids: addressOf(ids) }));
  objGetInfoRaw(fd, info);
  const got = Math.min(n, readU32(info, PROG_INFO_LAYOUT.field('nr_map_ids')));
  return Array.from({ length: got }, (_, i) => ids.readUInt32LE(4 * i));
}

export function mapInfo(fd: Fd): MapInfo {
  const buf = Buffer.alloc(INFO_BUF_SIZE);
  objGetInfoRaw(fd, buf);
  return decodeMapInfo(buf);
}

export function linkInfo(fd: Fd): LinkInfo {
  const buf = Buffer.alloc(INFO_BUF_SIZE);
  objGetInfoRaw(fd, buf);
  return decodeLinkInfo(buf);
}

/** BTF object info with its name; with `withData` also the raw BTF blob the kernel holds. */
export function btfInfo(fd: Fd, withData = false): BtfInfo & { readonly data?: Uint8Array } {
  const L = BTF_INFO_LAYOUT;
  const name = Buffer.alloc(64);
  const first = Buffer.alloc(INFO_BUF_SIZE);
  first.set(encode(L, { name: addressOf(name), name_len: name.length }));
  objGetInfoRaw(fd, first);
  const size = readU32(first, L.field('btf_size'));
  let data: Buffer | undefined;
  if (withData) {
    data = Buffer.alloc(size);
    const second = Buffer.alloc(INFO_BUF_SIZE);
    second.set(encode(L, { btf: addressOf(data), btf_size: size, name: addressOf(name), name_len: name.length }));
    objGetInfoRaw(fd, second);
  }
  const nul = name.indexOf(0);
  return {
    id: readU32(first, L.field('id')),
    btfSize: size,
    name: name.toString('latin1', 0, nul < 0 ? name.length : nul),
    kernelBtf: readU32(first, L.field('kernel_btf')) !== 0,
    ...(data ? { data: new Uint8Array(data) } : {}),
  };
}
