// Runs inside a qemu guest (see arg-ctx-qemu.test.ts): loads the __arg_ctx fixtures into the
// guest's kernel in each fallback mode and prints the reports as one JSON line on the console.
import { readFileSync } from 'fs';
import { localKernel } from '../../server/src/kernel';
import { loadObject } from '../../server/src/load';
import { LoadError } from '../../server/src/load/types';
import type { BpfObject } from '../../server/src/object';
import { openObject } from '../../server/src/object';
import { loadArgCtxObject } from './arg-ctx-load';
import { writeGuestResult } from './guest-result';

/** The product's own pipeline (what `bpf-lens load --arg-ctx-fallback MODE` runs). */
function pipeline(obj: BpfObject, mode: 'auto' | 'always' | 'never'): unknown {
  try {
    const r = loadObject(obj, { kernel: localKernel, argCtxFallback: mode });
    const progs = r.programs.map((p) => ({ name: p.name, verifiedInsns: p.verifiedInsns }));
    r.close();
    return { ok: true, progs };
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    return { ok: false, message: e.message, program: e.details.program, log: e.details.log };
  }
}

function main(): unknown {
  const [shared, fentry] = process.argv.slice(2);
  const started = process.hrtime.bigint();
  const obj = openObject(readFileSync(shared), shared);
  const fobj = openObject(readFileSync(fentry), fentry);
  const out = {
    auto: loadArgCtxObject(obj, 'auto'),
    never: loadArgCtxObject(obj, 'never'),
    always: loadArgCtxObject(obj, 'always'),
    fentry: loadArgCtxObject(fobj, 'auto', ['argctx_fentry_xdp']),
    fentryXdp: loadArgCtxObject(fobj, 'auto', ['argctx_fentry']),
    pipeline: { auto: pipeline(obj, 'auto'), never: pipeline(obj, 'never'), fentry: pipeline(fobj, 'auto') },
  };
  return { ...out, loadMs: Number(process.hrtime.bigint() - started) / 1e6 };
}

writeGuestResult(main);
