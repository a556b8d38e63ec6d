// cli/args.ts: the CLI's parseArgs gives what node's util.parseArgs gives, for every command line,
// and leaves node's parser unloaded when the command line has no options.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import * as util from 'node:util';
import { parseArgs } from '../../server/src/cli/args';
import { ROOT } from '../helpers';

const CONFIGS: util.ParseArgsConfig[] = [
  // `btf dump`: strings with a default
  { allowPositionals: true, options: { base: { type: 'string', short: 'B' }, format: { type: 'string', short: 'f', default: 'raw' } } },
  // `load`-like: booleans with defaults, multiple strings
  {
    allowPositionals: true,
    options: {
      target: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      set: { type: 'string', multiple: true, default: ['a=1'] },
    },
  },
  // `probe`-like: no positionals allowed
  { options: { json: { type: 'boolean' } } },
  // not strict: positionals allowed by default
  { strict: false, options: { json: { type: 'boolean' } } },
];

const ARGVS = [
  [],
  ['x.o'],
  ['x.o', 'y.o'],
  ['-'],
  ['--'],
  ['x.o', '--json'],
  ['--json'],
  ['-f', 'json', 'x.o'],
  ['--bogus', 'x.o'],
  ['x.o', '--', '-y'],
  ['-B'],
  ['a b', 'c\u00e9'],
];

/** What a parse gives: its result, or the error's code and message. */
function outcome(parse: () => unknown): unknown {
  try {
    return { result: parse() };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { code: err.code, message: err.message };
  }
}

test("parseArgs gives util.parseArgs's result or error for every config and command line", () => {
  for (const config of CONFIGS) {
    for (const args of ARGVS) {
      const mine = outcome(() => parseArgs({ ...config, args }));
      const node = outcome(() => util.parseArgs({ ...config, args }));
      assert.deepStrictEqual(mine, node, `${JSON.stringify(config)} ${JSON.stringify(args)}`);
    }
  }
});

test("a command line without options leaves node's parseArgs unloaded; an option loads it", () => {
  const args = path.join(ROOT, 'out', 'server', 'src', 'cli', 'args.js');
  const loaded = (argv: string[]) => {
    const script = `const { parseArgs } = require(${JSON.stringify(args)});
      parseArgs({ args: ${JSON.stringify(argv)}, allowPositionals: true, options: { format: { type: 'string', default: 'raw' } } });
      process.stdout.write(String(process.moduleLoadList.some((m) => m.includes('parse_args'))));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(loaded(['x.o']), 'false');
  assert.equal(loaded(['--format', 'json', 'x.o']), 'true', "moduleLoadList names node's parser once it is used");
});
