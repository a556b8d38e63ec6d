// Runs inside a qemu guest (see arg-ctx-qemu.test.ts): loads the __arg_ctx fixtures into the
// guest's kernel in each fallback mode and prints the reports as one JSON line on the console.
import { readFileSync } from 'fs';
import { openObject } from '../../server/src/object';
import { loadArgCtxObject } from './arg-ctx-load';

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
  };
  return { ...out, loadMs: Number(process.hrtime.bigint() - started) / 1e6 };
}

let out: unknown;
try {
  out = main();
} catch (e) {
  out = { error: String((e as Error).stack ?? e) };
}
process.stdout.write(`@@JSON ${JSON.stringify(out)}\n`);
