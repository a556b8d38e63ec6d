/**
 * Load on All Targets: the object on `local` and every bpfLens.targets entry with a kernel
 * (SSH hosts, VMs) at once, through the connections the editor keeps, as a side document: the
 * programs × targets table, what each kernel noted, and one line per rejection that starts with
 * `SOURCE:LINE` (the client makes it a link to that line) and names the kernel.
 */
import { basename } from 'path';
import { requireLoad } from '../remote/agent-client';
import { fanout, type FanoutResult } from '../targets/fanout';
import { loadMatrixRow, type TargetMatrix } from '../targets/matrix';
import { formatMatrixText } from '../targets/matrix-format';
import { readFileSync } from 'fs';
import { openObject } from '../object';
import { analyzeArgCtx } from '../object/arg-ctx';
import type { Targets } from './targets';

/** Per target: connect (or boot) and load within this time. */
const TIMEOUT_MS = 600_000;

export async function loadMatrixDocument(
  targets: Targets,
  path: string,
  resolveSource: (file: string) => string | undefined,
): Promise<string> {
  const t0 = performance.now();
  const bytes = new Uint8Array(readFileSync(path));
  const obj = openObject(bytes, path);
  const programs = obj.programs.map((p) => p.name);
  const tagged = analyzeArgCtx(obj).length > 0;
  const names = targets.kernelNames();
  const results: FanoutResult<TargetMatrix>[] = await fanout(
    names,
    (name) => targets.kernelTarget(name),
    (t) =>
      loadMatrixRow(
        t,
        { name: t.inProcess ? path : basename(path), object: bytes },
        programs,
        (k) => (k.inProcess ? k.hello() : requireLoad(k)),
        (h) =>
          !tagged
            ? []
            : [
                h.features.arg_ctx_tag
                  ? '__arg_ctx: native'
                  : '__arg_ctx: emulated (no native arg:ctx before 6.8: the tagged arguments were rewritten)',
              ],
      ),
    { timeoutMs: TIMEOUT_MS, keepOpen: true },
  );
  // The table and notes as the CLI prints them, with the settings' names as columns.
  const text = formatMatrixText(basename(path), results, programs);
  const links: string[] = [];
  for (const r of results) {
    if (!r.ok) continue;
    for (const c of r.value.cells)
      if (c.status === 'rejected' && c.source)
        links.push(`${resolveSource(c.source.file) ?? c.source.file}:${c.source.line}  ${r.target}: ${c.program} rejected: ${c.error}`);
  }
  return `${text}${links.length ? `\nRejected lines (open one to see it):\n${links.join('\n')}\n` : ''}\n(${names.length} targets in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`;
}
