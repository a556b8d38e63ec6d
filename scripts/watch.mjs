// npm run watch: webpack --watch for the bundles in dist/ (what F5's Extension Development
// Host runs) and tsc --watch for out/ (the tests), together in one terminal, each line
// prefixed with its source; Ctrl+C stops both. Plain node instead of a runner package.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const jobs = {
  webpack: [bin('webpack'), ['--mode', 'development', '--watch']],
  tsc: [bin('tsc'), ['-p', '.', '--watch', '--preserveWatchOutput']],
};

const children = Object.entries(jobs).map(([name, [cmd, args]]) => {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (b) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop();
      for (const l of lines) process.stdout.write(`[${name}] ${l}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`[${name}] exited (${signal ?? code})\n`);
    stop(code ?? 1);
  });
  return child;
});

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  process.exitCode = code;
}
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => stop(0));
