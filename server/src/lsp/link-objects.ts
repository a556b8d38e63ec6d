/**
 * The language server's side of linking: `bpfLens/linkObjects` runs the static linker on
 * files and writes the output; `withResolvedExterns` says, for each object's link externs
 * (functions, variables, maps it declares but does not define), which workspace object
 * defines them — the linker's rule, strong before weak.
 */
import { readFile, writeFile } from 'fs/promises';
import { FormatError } from '../common/errors';
import { definitionsAcross, isKernelExtern } from '../link/externs';
import { LinkError, linkObjects } from '../link/linker';
import type { LinkObjectsParams, LinkObjectsResult, ObjectSummary } from '../../../protocol/lsp';

/**
 * `objects` with `resolvedIn` filled in, looking for definitions among `all` (default:
 * `objects`) and those of `objects` that `all` lacks.
 */
export function withResolvedExterns(objects: readonly ObjectSummary[], all: readonly ObjectSummary[] = objects): ObjectSummary[] {
  const known = new Set(all.map((a) => a.path));
  const definedIn = definitionsAcross([...all, ...objects.filter((o) => !known.has(o.path))]);
  return objects.map((o) => {
    let resolved = false;
    const externs = o.externs.map((e) => {
      const at = isKernelExtern(e.kind) ? undefined : definedIn(e.name);
      if (!at) return e;
      resolved = true;
      return { ...e, resolvedIn: at };
    });
    return resolved ? { ...o, externs } : o;
  });
}

export async function linkObjectsRequest(p: LinkObjectsParams): Promise<LinkObjectsResult> {
  if (!p.inputs.length) return { ok: false, lines: ['nothing to link'] };
  const inputs = await Promise.all(p.inputs.map(async (file) => ({ file, bytes: new Uint8Array(await readFile(file)) })));
  try {
    const t0 = process.hrtime.bigint();
    const r = linkObjects(inputs);
    await writeFile(p.output, r.bytes);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const lines = [
      `${p.output}: ${inputs.length} objects, ${r.sections.length} sections, ${r.symbols} symbols${r.btf ? `, BTF ${r.btf.typesIn} → ${r.btf.typesOut} types` : ''} (${ms.toFixed(0)} ms)`,
    ];
    for (const g of r.globals) {
      if (!g.usedBy.length && !g.weakLosers.length) continue;
      const where = g.definedIn ? `${g.definedIn} (${g.section})` : `the kernel (${g.kernel})`;
      lines.push(
        `${g.name} → ${where}${g.usedBy.length ? `, used by ${g.usedBy.join(', ')}` : ''}${g.weakLosers.length ? `; overrides __weak in ${g.weakLosers.join(', ')}` : ''}`,
      );
    }
    return { ok: true, lines, output: p.output };
  } catch (e) {
    if (e instanceof LinkError) return { ok: false, lines: [...e.problems] };
    if (e instanceof FormatError) return { ok: false, lines: [e.message] };
    throw e;
  }
}
