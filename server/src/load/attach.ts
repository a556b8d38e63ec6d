/**
 * What a load does after its programs are in: struct_ops maps get their program FDs and are
 * registered (updating the value; `.struct_ops.link` maps through a BPF_STRUCT_OPS link), and
 * freplace's target functions are found in the target program's own BTF.
 */
import { parseBtf } from '../btf/btf';
import type { Fd, KernelOps } from '../kernel';
import { BPF_ATTACH_TYPE, BPF_F_LINK } from '../common/uapi';
import { freplaceSlots } from '../link/freplace';
import type { BpfObject } from '../object/model';
import type { StructOpsPlan } from './struct-ops';
import { LoadError, type LoadOptions } from './types';

/**
 * A struct_ops map's value with its programs' FDs in place (libbpf's kern_vdata after load).
 * A member whose program was not loaded (`--no-autoload`) fails here, unless `notLoaded` collects
 * it (`member -> program`) and the slot stays 0: libbpf's load accepts such a map, and only
 * registering it fails.
 */
export function structOpsValue(plan: StructOpsPlan, progFd: (name: string) => Fd | undefined, notLoaded?: string[]): Uint8Array {
  const value = Buffer.from(plan.value);
  for (const s of plan.slots) {
    const prog = progFd(s.program);
    if (prog === undefined) {
      if (!notLoaded)
        throw new LoadError(`struct_ops map '${plan.map.name}': program '${s.program}' for member '${s.member}' was not loaded`, 'maps');
      notLoaded.push(`${s.member} -> ${s.program}`);
      continue;
    }
    value.writeBigUInt64LE(BigInt(prog), s.valueOffset);
  }
  return new Uint8Array(value);
}

/**
 * Registers each struct_ops value (`load --register`; attaching does it otherwise). Returns the
 * links of `.struct_ops.link` maps by map name; plain maps get an undo (delete the value: unregister).
 */
export function registerStructOps(
  k: KernelOps,
  obj: BpfObject,
  plans: Iterable<StructOpsPlan>,
  mapFd: (index: number) => Fd,
  progFd: (name: string) => Fd | undefined,
  undo: (() => void)[],
): Map<string, Fd> {
  const links = new Map<string, Fd>();
  for (const plan of plans) {
    const fd = mapFd(obj.maps.indexOf(plan.map));
    const value = structOpsValue(plan, progFd);
    try {
      k.mapUpdateElem(fd, new Uint8Array(4), value);
    } catch (e) {
      throw new LoadError(
        `struct_ops map '${plan.map.name}' (struct ${plan.map.structOpsType}): the kernel refused its value: ${(e as Error).message}`,
        'maps',
        { cause: e },
      );
    }
    if (plan.map.flags & BPF_F_LINK) {
      links.set(
        plan.map.name,
        k.linkCreate({ prog_fd: fd, attach_type: BPF_ATTACH_TYPE.BPF_STRUCT_OPS }, `struct_ops map "${plan.map.name}"`),
      );
    } else {
      undo.push(() => k.mapDeleteElem(fd, new Uint8Array(4)));
    }
  }
  return links;
}

/**
 * `--replace PROG_ID|PINNED_PATH`: an FD of that program. An id that is no u32 (rather than a
 * rounded number), a missing one, or a pin of something other than a program is refused.
 */
export function openReplaceTarget(k: KernelOps, spec: string): Fd {
  let fd: Fd;
  try {
    if (/^\d+$/.test(spec)) {
      const id = Number(spec);
      if (!Number.isSafeInteger(id) || id < 1 || id > 0xffffffff)
        throw new LoadError(`--replace ${spec}: no program id (ids are 1 to 4294967295)`, 'programs');
      fd = k.getFdById('prog', id);
    } else {
      fd = k.objGet(spec);
    }
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(`--replace ${spec}: ${(e as Error).message}`, 'programs', { cause: e });
  }
  const kind = k.objKind(fd);
  if (kind !== 'prog') {
    k.closeFd(fd);
    throw new LoadError(`--replace ${spec}: ${kind ? `a ${kind}` : 'no BPF object'}, not a program`, 'programs');
  }
  return fd;
}

/** freplace: the FUNC id in the target program's BTF of each extension's function. */
export function replaceSlots(obj: BpfObject, opts: LoadOptions): Map<string, number> {
  const k = opts.kernel;
  const kind = k.objKind(opts.replaceTargetFd!);
  if (kind !== 'prog')
    throw new LoadError(
      `the program to replace (FD ${opts.replaceTargetFd}) is ${kind ? `a ${kind}` : 'no BPF object'}, not a program`,
      'programs',
    );
  const info = k.progInfo(opts.replaceTargetFd!);
  if (!info.btfId)
    throw new LoadError(`the program to replace (id ${info.id}, ${info.name}) was loaded without BTF: freplace needs its BTF`, 'programs');
  const fd = k.getFdById('btf', info.btfId);
  let data: Uint8Array | undefined;
  try {
    data = k.btfInfo(fd, true).data;
  } finally {
    k.closeFd(fd);
  }
  const btf = parseBtf(data!, { file: `prog ${info.id} BTF`, section: 'BTF' });
  try {
    return new Map(freplaceSlots(obj, btf, `${info.name} (id ${info.id})`).map((s) => [s.program, s.btfId]));
  } catch (e) {
    throw new LoadError((e as Error).message, 'relocate', { cause: e });
  }
}
