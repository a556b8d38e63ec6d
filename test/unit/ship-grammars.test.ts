// The TextMate grammars the VSIX ships, run by vscode-textmate (the engine VS Code uses) on
// real text: verifier logs the kernel writes when bpftool -d loads a fixture (log_level 2
// for an accepted program, the rejection of a broken one), and the disassembly document of
// the language server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vsctm from 'vscode-textmate';
import * as oniguruma from 'vscode-oniguruma';
import { fromBytes } from '../../server/src/lsp/loaded';
import { documentText } from '../../server/src/lsp/documents';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIX = path.join(ROOT, 'build', 'fixtures');
const pins: string[] = [];
after(() => {
  for (const p of pins) fs.rmSync(p, { recursive: true, force: true });
});

async function registry(): Promise<vsctm.Registry> {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const files: Record<string, string> = {
    'source.bpf-verifier-log': 'bpf-verifier-log.tmLanguage.json',
    'source.bpf-disasm': 'bpf-disasm.tmLanguage.json',
  };
  return new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (s) => new oniguruma.OnigScanner(s),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      const f = files[scope];
      if (!f) return null;
      const p = path.join(ROOT, 'syntaxes', f);
      return vsctm.parseRawGrammar(fs.readFileSync(p, 'utf8'), p);
    },
  });
}

interface Tok {
  text: string;
  scopes: string[];
}
function tokenize(g: vsctm.IGrammar, text: string): Tok[][] {
  let stack = vsctm.INITIAL;
  return text.split('\n').map((line) => {
    const r = g.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return r.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}
/** Scopes of the token holding the first occurrence of `needle` (at index `at` of the match) on a line. */
function scopesAt(line: Tok[], needle: string): string[] {
  const text = line.map((t) => t.text).join('');
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `'${needle}' not in '${text}'`);
  let pos = 0;
  for (const t of line) {
    if (i >= pos && i < pos + t.text.length) return t.scopes;
    pos += t.text.length;
  }
  return [];
}
const has = (scopes: string[], s: string) => scopes.some((x) => x.startsWith(s));

/** bpftool -d prog loadall: libbpf's debug output, with the kernel's log_level 2 verifier log. */
function bpftoolLoad(obj: string): { ok: boolean; out: string } {
  const pin = `/sys/fs/bpf/bpf-lens-ship-${process.pid}-${pins.length}`;
  pins.push(pin);
  const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', obj, pin], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

test('verifier log grammar: an accepted program at log_level 2 (bpftool -d)', async () => {
  const g = (await (await registry()).loadGrammar('source.bpf-verifier-log'))!;
  const { ok, out } = bpftoolLoad(path.join(FIX, 'ship_verifier.o'));
  assert.ok(ok, out);
  const lines = out.split('\n');
  const toks = tokenize(g, out);
  const log = lines.findIndex((l) => l.includes('-- BEGIN PROG LOAD LOG --'));
  const end = lines.findIndex((l) => l.includes('-- END PROG LOAD LOG --'));
  assert.ok(log >= 0 && end > log, out);
  let insns = 0,
    sources = 0,
    states = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const t = toks[i];
    // Nothing in an accepted program's log is painted as an error.
    assert.ok(!t.some((x) => has(x.scopes, 'invalid')), `false error on: ${l}`);
    if (l.startsWith('libbpf:')) assert.ok(has(scopesAt(t, 'libbpf:'), 'entity.name.tag.libbpf'), l);
    if (i <= log || i >= end) continue;
    let m = /^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; (.*))?$/.exec(l);
    if (m) {
      insns++;
      assert.ok(has(scopesAt(t, `${m[1]}:`), 'constant.numeric.address'), l);
      assert.ok(has(scopesAt(t, `(${m[2]})`.slice(1)), 'constant.numeric.opcode'), l);
      const reg = /\br\d+\b/.exec(m[3]);
      if (reg) assert.ok(has(scopesAt(t, reg[0]), 'variable.language.register'), l);
      const helper = /call (\w+)#\d+/.exec(m[3]);
      if (helper) assert.ok(has(scopesAt(t, helper[1]), 'entity.name.function.helper'), l);
      if (m[4]) {
        const st = /\b(R\d+)(?:_\w+)?=([a-z_]\w*)/.exec(m[4]);
        if (st) {
          states++;
          const at = l.lastIndexOf(' ; ') + 3;
          const rest = t
            .map((x) => x.text)
            .join('')
            .slice(at);
          assert.ok(rest.includes(st[0]), l);
          assert.ok(has(scopesAt(t, `${st[0]}`), 'variable.language.register'), l);
          assert.ok(
            t.some((x) => x.text === st[2] && has(x.scopes, 'support.type.reg-type')),
            `${st[2]} as a register type: ${l}`,
          );
        }
      }
      continue;
    }
    m = /^; (.*) @ (\S+):(\d+)$/.exec(l);
    if (m) {
      sources++;
      assert.ok(has(scopesAt(t, m[1] || ';'), 'comment.line.source'), l);
      assert.ok(
        t.some((x) => x.text === m![3] && has(x.scopes, 'constant.numeric.line')),
        l,
      );
      continue;
    }
    m = /^processed (\d+) insns/.exec(l);
    if (m)
      assert.ok(
        t.some((x) => x.text === m[1] && has(x.scopes, 'constant.numeric.insns')),
        l,
      );
    if (/^func#\d+/.test(l)) assert.ok(has(scopesAt(t, 'func#'), 'entity.name.function'), l);
    if (/^\s+\d+: [.0-9]{10,11} \(/.test(l))
      assert.ok(
        t.some((x) => /^[.0-9]{10,11}$/.test(x.text) && has(x.scopes, 'variable.other.liveness')),
        l,
      );
  }
  assert.ok(insns > 10 && sources > 3 && states > 5, `instructions ${insns}, source lines ${sources}, states ${states}:\n${out}`);
});

test('verifier log grammar: the rejection of a program without its NULL check', async () => {
  const g = (await (await registry()).loadGrammar('source.bpf-verifier-log'))!;
  const { ok, out } = bpftoolLoad(path.join(FIX, 'ship_verifier_reject.o'));
  assert.ok(!ok, 'the broken fixture must be refused');
  const lines = out.split('\n');
  const toks = tokenize(g, out);
  const bad = lines.findIndex((l) => /^R\d+ invalid mem access 'map_value_or_null'$/.test(l));
  assert.ok(bad >= 0, out);
  assert.ok(
    toks[bad].every((x) => has(x.scopes, 'invalid.illegal')),
    `${lines[bad]} is the error`,
  );
  // Only the complaint is an error; the state before it names the NULL-able pointer as a type.
  const errors = lines.filter((_, i) => toks[i].some((x) => has(x.scopes, 'invalid.illegal')) && !lines[i].startsWith('libbpf:'));
  assert.deepEqual(errors, [lines[bad]]);
  const orNull = lines.findIndex((l) => /R0(_w)?=map_value_or_null/.test(l));
  assert.ok(
    toks[orNull].some((x) => x.text === 'map_value_or_null' && has(x.scopes, 'support.type.reg-type')),
    lines[orNull],
  );
});

test("disassembly grammar: the language server's disassembly document of a fixture", async () => {
  const g = (await (await registry()).loadGrammar('source.bpf-disasm'))!;
  const file = path.join(FIX, 'ship_verifier.o');
  const bytes = fs.readFileSync(file);
  const o = fromBytes({ path: file, size: bytes.length, mtimeMs: 0 }, bytes, () => undefined);
  const text = documentText(o, { path: file, kind: 'disasm' }).text;
  const lines = text.split('\n');
  const toks = tokenize(g, text);
  // Cross-check instruction addresses and the helper call against llvm-objdump's view.
  const objdump = execFileSync('llvm-objdump', ['-d', '--no-show-raw-insn', file], { encoding: 'utf8' });
  assert.match(objdump, /call 1$/m, 'the fixture calls bpf_map_lookup_elem (helper 1)');
  let insns = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const m = /^\s*(\d+):/.exec(l);
    if (!m) continue;
    insns++;
    assert.ok(has(scopesAt(toks[i], m[1]), 'constant.numeric.address'), l);
    const reg = /\br\d+\b/.exec(l.slice(m[0].length));
    if (reg)
      assert.ok(
        toks[i].some((x) => x.text === reg[0] && has(x.scopes, 'variable.language.register')),
        l,
      );
    if (/\bcall\b/.test(l))
      assert.ok(
        toks[i].some((x) => x.text === 'call' && has(x.scopes, 'keyword.control')),
        l,
      );
  }
  assert.ok(insns >= 8, text);
  const lookup = lines.findIndex((l) => /call\s+bpf_map_lookup_elem/.test(l));
  assert.ok(lookup >= 0, text);
  assert.ok(
    toks[lookup].some((x) => x.text === 'bpf_map_lookup_elem' && has(x.scopes, 'entity.name.function')),
    lines[lookup],
  );
});
