// The verifier logs of Debian's 6.1 and 6.12 kernels (booted under qemu, verifier-guest.ts loads
// every verifier_* fixture there at log levels 1 and 2) parsed and explained the same way as
// this host's: the same family per fixture, the related location on the fixture's ORIGIN line
// (6.12 marks `@ file:line`; 6.1 prints only the source text, compared as text), the stats.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { explainRejection, parseVerifierLog } from '../../server/src/verifier';
import { ROOT } from '../helpers';
import { debianKernel, type DebianKernelVersion } from '../kernels';
import { runHostRootGuest } from '../qemu-host-root';

const SRC = path.join(ROOT, 'test', 'fixtures');

function expected(name: string): { family: string; line?: number; text?: string } {
  const lines = readFileSync(path.join(SRC, `${name}.bpf.c`), 'utf8').split('\n');
  const at = (mark: string) => lines.findIndex((l) => l.includes(mark));
  const i = at('ORIGIN') >= 0 ? at('ORIGIN') : at('REJECTED');
  return { family: /verifier family (\w+)/.exec(lines[0])![1], ...(i >= 0 ? { line: i + 1, text: lines[i].trim() } : {}) };
}

/**
 * Rejections whose source line the loader gives, not the log: the poisoned call stands where
 * a CO-RE relocation was, and clang emits no line_info of its own for that instruction, so the
 * log's last marker is an earlier line (the loader places it by the relocation's record).
 */
const PLACED_BY_LOADER = new Set(['verifier_poisoned_call']);

for (const version of ['6.1', '6.12'] as DebianKernelVersion[]) {
  test(`Debian ${version} under qemu: its verifier logs parsed and explained like this host's`, (t) => {
    const k = debianKernel(version);
    const command = [process.execPath, path.join(__dirname, 'verifier-guest.js'), path.join(ROOT, 'build', 'fixtures'), k.config].join(' ');
    const g = runHostRootGuest({ version, command, timeoutMs: 900_000 }).result;
    assert.ok(g.release.startsWith(`${version}.`), g.release);
    const names = readdirSync(SRC)
      .filter((f) => /^verifier_\w+\.bpf\.c$/.test(f))
      .map((f) => f.replace(/\.bpf\.c$/, ''));
    const explained = new Set<string>();
    for (const name of names) {
      const want = expected(name);
      for (const [level, r] of Object.entries<{ rejected: boolean; log: string }>(g.logs[name] ?? {})) {
        const where = `${version} ${name} level ${level}`;
        // as root the kernel reads uninitialised stack; 6.1 lacks the kfuncs (the loader says so before the verifier)
        if (!r.rejected || r.log.startsWith('NOT VERIFIER')) continue;
        const m = parseVerifierLog(r.log);
        assert.ok(m.stats, `${where}: stats`); // 6.1 checks a global function before walking: `processed 0 insns`
        assert.equal(m.level, Number(level), where);
        const x = explainRejection(m);
        assert.equal(x?.family, want.family, `${where}: ${m.errors.join(' | ')}`);
        explained.add(want.family);
        const r0 = x.related[0];
        if (PLACED_BY_LOADER.has(name)) continue;
        if (r0?.line !== undefined) assert.equal(r0.line, want.line, `${where}: ${JSON.stringify(x.related)}`);
        else if (r0?.text && want.text) assert.equal(r0.text.trim(), want.text, `${where}: ${JSON.stringify(x.related)}`);
      }
    }
    t.diagnostic(`${version}: ${explained.size} families explained: ${[...explained].sort().join(', ')}`);
    assert.ok(explained.size >= 20, `${explained.size} families`);
  });
}
