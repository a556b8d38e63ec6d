/**
 * freplace (dynamic re-linking): which function of an already loaded program each
 * `SEC("freplace/<func>")` program replaces. Pure: given the BTF the kernel holds for the
 * target program (its info's btf_id), answers the FUNC id to load with (`attach_btf_id`,
 * with `attach_prog_fd`) and to attach with (LINK_CREATE `target_btf_id`) — and checks
 * beforehand what the verifier would refuse less clearly: a missing or static function, or
 * a prototype that differs from the extension's.
 */
import type { Btf } from '../btf/btf';
import { BTF_FUNC_STATIC, type TypeId } from '../btf/types';
import type { BpfObject } from '../object/model';
import { btfMismatch } from './btf-compat';
import { LinkError } from './errors';

export interface ReplaceSlot {
  /** The extension program (its C name). */
  readonly program: string;
  /** The target function it replaces. */
  readonly func: string;
  /** FUNC id in the target's BTF. */
  readonly btfId: TypeId;
}

/** Every extension program of `ext` matched to its function in `target` (named `targetName` in errors). */
export function freplaceSlots(ext: BpfObject, target: Btf, targetName = 'the target program'): ReplaceSlot[] {
  const problems: string[] = [];
  const slots: ReplaceSlot[] = [];
  const programs = ext.programs.filter((p) => p.progType === 'ext');
  if (programs.length === 0) problems.push(`${ext.file} has no SEC("freplace/<function>") program`);
  for (const p of programs) {
    const func = p.attachTo;
    if (!func) {
      problems.push(`${p.name}: SEC("${p.section}") names no function to replace (freplace/<function>)`);
      continue;
    }
    const cands = target
      .byName(func)
      .map((id) => target.type(id))
      .filter((t) => t.kind === 'FUNC');
    if (cands.length === 0) {
      const have = [...target.all()].filter((t) => t.kind === 'FUNC' && t.linkage !== BTF_FUNC_STATIC).map((t) => t.name);
      problems.push(
        `${p.name}: ${targetName} has no function '${func}'${have.length ? ` (its global functions: ${have.join(', ')})` : ''}`,
      );
      continue;
    }
    const f = cands[0];
    if (f.kind !== 'FUNC') continue;
    if (f.linkage === BTF_FUNC_STATIC) {
      problems.push(
        `${p.name}: '${func}' is static in ${targetName}; only global (non-static, e.g. __weak __noinline) functions can be replaced`,
      );
      continue;
    }
    const mine = p.btfFuncId !== undefined && ext.btf ? ext.btf.get(p.btfFuncId) : undefined;
    if (mine?.kind === 'FUNC') {
      const why = btfMismatch(ext.btf!, mine.type, target, f.type, true);
      if (why) {
        problems.push(`${p.name}: its prototype does not match '${func}' in ${targetName}: ${why}`);
        continue;
      }
    } else {
      problems.push(`${p.name}: no BTF for the extension program (compile with -g); the kernel needs it to check the prototype`);
      continue;
    }
    slots.push({ program: p.name, func, btfId: f.id });
  }
  if (problems.length) throw new LinkError(problems);
  return slots;
}
