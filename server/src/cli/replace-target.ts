/**
 * `--replace TARGET` (bpf-lens load EXT.o --replace TARGET): the loaded program whose
 * functions `SEC("freplace/<func>")` programs replace, by id (`123`) or pinned path, with the
 * BTF the kernel holds for it and the slot of each extension program (link/freplace.ts).
 * For the load pipeline's `replaceTargetFd`; the caller closes `fd`.
 */
import { Btf, parseBtf } from '../btf/btf';
import { BPF_PROG_TYPE, Fd, ProgInfo, btfInfo, closeFd, getFdById, objGet, progInfo } from '../kernel';
import { ReplaceSlot, freplaceSlots } from '../link/freplace';
import type { BpfObject } from '../object/model';
import { UsageError } from './command';

export interface ReplaceTarget {
  readonly fd: Fd;
  readonly info: ProgInfo;
  /** The target's BTF as the kernel holds it. */
  readonly btf: Btf;
  /** `name (id N)`, for messages. */
  readonly label: string;
  /** Where each extension program of `ext` plugs in; LinkError when one cannot. */
  slots(ext: BpfObject): ReplaceSlot[];
}

export function openReplaceTarget(target: string): ReplaceTarget {
  if (!target) throw new UsageError('--replace needs a program id or a pinned path');
  const fd = /^\d+$/.test(target) ? getFdById('prog', Number(target)) : objGet(target);
  try {
    const info = progInfo(fd);
    const label = `${info.name || 'program'} (id ${info.id})`;
    if (info.type === BPF_PROG_TYPE.BPF_PROG_TYPE_EXT) throw new UsageError(`${label} is itself an extension; replace functions of the program it extends`);
    if (!info.btfId) throw new UsageError(`${label} was loaded without BTF; freplace needs the target's BTF to find its functions`);
    const btfFd = getFdById('btf', info.btfId);
    let btf: Btf;
    try {
      btf = parseBtf(btfInfo(btfFd, true).data!, { file: `${label} BTF`, section: 'BTF' });
    } finally {
      closeFd(btfFd);
    }
    return { fd, info, btf, label, slots: (ext) => freplaceSlots(ext, btf, label) };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}
