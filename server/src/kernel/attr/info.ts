// The structs BPF_OBJ_GET_INFO_BY_FD fills: bpf_prog_info, bpf_map_info, bpf_btf_info,
// bpf_link_info (common head). Decoders read what the kernel wrote; a shorter struct from an
// older kernel leaves the newer fields zero.
import { type Layout, defineLayout, readBytes, readName, readU32, readU64 } from './layout';

export const PROG_INFO_LAYOUT = defineLayout('bpf_prog_info', 'struct bpf_prog_info', '', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['tag', 'u8[8]'],
  ['jited_prog_len', 'u32'],
  ['xlated_prog_len', 'u32'],
  ['jited_prog_insns', 'ptr'],
  ['xlated_prog_insns', 'ptr'],
  ['load_time', 'u64'],
  ['created_by_uid', 'u32'],
  ['nr_map_ids', 'u32'],
  ['map_ids', 'ptr'],
  ['name', 'char[16]'],
  ['ifindex', 'u32'],
  // u32 gpl_compatible:1 (a bitfield: no offsetof; we read bit 0 of this word).
  ['gpl_compatible_word', 'u32'],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['nr_jited_ksyms', 'u32'],
  ['nr_jited_func_lens', 'u32'],
  ['jited_ksyms', 'ptr'],
  ['jited_func_lens', 'ptr'],
  ['btf_id', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'ptr'],
  ['nr_func_info', 'u32'],
  ['nr_line_info', 'u32'],
  ['line_info', 'ptr'],
  ['jited_line_info', 'ptr'],
  ['nr_jited_line_info', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['jited_line_info_rec_size', 'u32'],
  ['nr_prog_tags', 'u32'],
  ['prog_tags', 'ptr'],
  ['run_time_ns', 'u64'],
  ['run_cnt', 'u64'],
  ['recursion_misses', 'u64'],
  ['verified_insns', 'u32'],
  ['attach_btf_obj_id', 'u32'],
  ['attach_btf_id', 'u32'],
] as const);

export interface ProgInfo {
  readonly type: number;
  readonly id: number;
  /** The program's tag (hash of its instructions), as bpftool prints it: 16 hex digits. */
  readonly tag: string;
  readonly name: string;
  readonly jitedProgLen: number;
  readonly xlatedProgLen: number;
  readonly loadTime: bigint;
  readonly createdByUid: number;
  readonly nrMapIds: number;
  readonly gplCompatible: boolean;
  readonly btfId: number;
  readonly nrFuncInfo: number;
  readonly nrLineInfo: number;
  readonly verifiedInsns: number;
  readonly attachBtfObjId: number;
  readonly attachBtfId: number;
  readonly runTimeNs: bigint;
  readonly runCnt: bigint;
}

export function decodeProgInfo(buf: Uint8Array): ProgInfo {
  const L = PROG_INFO_LAYOUT;
  const u32 = (n: Parameters<typeof L.field>[0]) => readU32(buf, L.field(n));
  return {
    type: u32('type'),
    id: u32('id'),
    tag: Buffer.from(readBytes(buf, L.field('tag'))).toString('hex'),
    name: readName(buf, L.field('name')),
    jitedProgLen: u32('jited_prog_len'),
    xlatedProgLen: u32('xlated_prog_len'),
    loadTime: readU64(buf, L.field('load_time')),
    createdByUid: u32('created_by_uid'),
    nrMapIds: u32('nr_map_ids'),
    gplCompatible: (u32('gpl_compatible_word') & 1) !== 0,
    btfId: u32('btf_id'),
    nrFuncInfo: u32('nr_func_info'),
    nrLineInfo: u32('nr_line_info'),
    verifiedInsns: u32('verified_insns'),
    attachBtfObjId: u32('attach_btf_obj_id'),
    attachBtfId: u32('attach_btf_id'),
    runTimeNs: readU64(buf, L.field('run_time_ns')),
    runCnt: readU64(buf, L.field('run_cnt')),
  };
}

export const MAP_INFO_LAYOUT = defineLayout('bpf_map_info', 'struct bpf_map_info', '', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['name', 'char[16]'],
  ['ifindex', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['btf_id', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_id', 'u32'],
  ['map_extra', 'u64'],
] as const);

export interface MapInfo {
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly name: string;
  readonly ifindex: number;
  readonly btfVmlinuxValueTypeId: number;
  readonly btfId: number;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  readonly btfVmlinuxId: number;
  readonly mapExtra: bigint;
}

export function decodeMapInfo(buf: Uint8Array): MapInfo {
  const L = MAP_INFO_LAYOUT;
  const u32 = (n: Parameters<typeof L.field>[0]) => readU32(buf, L.field(n));
  return {
    type: u32('type'),
    id: u32('id'),
    keySize: u32('key_size'),
    valueSize: u32('value_size'),
    maxEntries: u32('max_entries'),
    mapFlags: u32('map_flags'),
    name: readName(buf, L.field('name')),
    ifindex: u32('ifindex'),
    btfVmlinuxValueTypeId: u32('btf_vmlinux_value_type_id'),
    btfId: u32('btf_id'),
    btfKeyTypeId: u32('btf_key_type_id'),
    btfValueTypeId: u32('btf_value_type_id'),
    btfVmlinuxId: u32('btf_vmlinux_id'),
    mapExtra: readU64(buf, L.field('map_extra')),
  };
}

export const BTF_INFO_LAYOUT = defineLayout('bpf_btf_info', 'struct bpf_btf_info', '', [
  ['btf', 'ptr'],
  ['btf_size', 'u32'],
  ['id', 'u32'],
  ['name', 'ptr'],
  ['name_len', 'u32'],
  ['kernel_btf', 'u32'],
] as const);

export interface BtfInfo {
  readonly id: number;
  readonly btfSize: number;
  /** 'vmlinux', a module name, or '' for BTF loaded by a program. */
  readonly name: string;
  /** True for vmlinux and module BTF (the kernel's own). */
  readonly kernelBtf: boolean;
}

export const LINK_INFO_LAYOUT = defineLayout('bpf_link_info', 'struct bpf_link_info', '', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['prog_id', 'u32'],
  ['raw_tracepoint.tp_name', 'ptr'],
  ['raw_tracepoint.tp_name_len', 'u32'],
  ['tracing.attach_type', 'u32', { at: 'raw_tracepoint.tp_name' }],
  ['tracing.target_obj_id', 'u32'],
  ['tracing.target_btf_id', 'u32'],
  ['cgroup.cgroup_id', 'u64', { at: 'raw_tracepoint.tp_name' }],
  ['cgroup.attach_type', 'u32'],
  ['netns.netns_ino', 'u32', { at: 'raw_tracepoint.tp_name' }],
  ['netns.attach_type', 'u32'],
  ['xdp.ifindex', 'u32', { at: 'raw_tracepoint.tp_name' }],
  ['struct_ops.map_id', 'u32', { at: 'raw_tracepoint.tp_name' }],
  ['perf_event.type', 'u32', { at: 'raw_tracepoint.tp_name' }],
  ['tcx.ifindex', 'u32', { at: 'raw_tracepoint.tp_name' }],
  ['tcx.attach_type', 'u32'],
] as const);

export interface LinkInfo {
  readonly type: number;
  readonly id: number;
  readonly progId: number;
  /** Where it is attached, for the kinds that say: interface (xdp, tcx), cgroup id, netns inode, attach type. */
  readonly ifindex?: number;
  readonly cgroupId?: bigint;
  readonly netnsIno?: number;
  readonly attachType?: number;
  /** struct_ops links: the map registered. */
  readonly mapId?: number;
}

const LINK_TYPE_XDP = 6,
  LINK_TYPE_TCX = 11,
  LINK_TYPE_CGROUP = 3,
  LINK_TYPE_NETNS = 5,
  LINK_TYPE_STRUCT_OPS = 9,
  LINK_TYPE_TRACING = 2;

export function decodeLinkInfo(buf: Uint8Array): LinkInfo {
  const L = LINK_INFO_LAYOUT;
  const u32 = (n: Parameters<typeof L.field>[0]) => readU32(buf, L.field(n));
  const head = { type: u32('type'), id: u32('id'), progId: u32('prog_id') };
  switch (head.type) {
    case LINK_TYPE_XDP:
      return { ...head, ifindex: u32('xdp.ifindex') };
    case LINK_TYPE_TCX:
      return { ...head, ifindex: u32('tcx.ifindex'), attachType: u32('tcx.attach_type') };
    case LINK_TYPE_CGROUP:
      return { ...head, cgroupId: readU64(buf, L.field('cgroup.cgroup_id')), attachType: u32('cgroup.attach_type') };
    case LINK_TYPE_NETNS:
      return { ...head, netnsIno: u32('netns.netns_ino'), attachType: u32('netns.attach_type') };
    case LINK_TYPE_STRUCT_OPS:
      return { ...head, mapId: u32('struct_ops.map_id') };
    case LINK_TYPE_TRACING:
      return { ...head, attachType: u32('tracing.attach_type') };
    default:
      return head;
  }
}

/** Room for any of the info structs (the kernel copies at most what we offer). */
export const INFO_BUF_SIZE = 256;

export const INFO_LAYOUTS: readonly Layout[] = [PROG_INFO_LAYOUT, MAP_INFO_LAYOUT, BTF_INFO_LAYOUT, LINK_INFO_LAYOUT];
