// Targets in the language server over a real LSP connection: bpfLens/selectTarget connects to
// a real SSH host (sshd in a netns, the agent deployed there) or reads a kernel's BTF file, the
// CO-RE diagnostics of a C source follow the selected kernel (Debian 6.1 lacks what the
// fixture reads; 6.12 has it), and loads go through the target's agent into its kernel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { kernelIdAlive as alive } from '../load-helpers';
import { debianKernel } from '../kernels';
import { type SshHost, startSshHost } from '../ssh-host';
import { type Diagnostic, LspClient, makeWorkspace } from './lsp-client';
import { CLI, run } from '../helpers';

interface TargetInfo {
  name: string;
  kind: string;
  release: string;
  canLoad: boolean;
  hasBtf: boolean;
  features: Record<string, boolean>;
  ms: number;
}
interface SelectResult {
  ok: boolean;
  info?: TargetInfo;
  error?: { code: string; message: string };
  core?: { objects: number; relocations: number; problems: number; ms: number };
}
interface Loaded {
  handle: number;
  target: string;
  programs: { name: string; id: number }[];
  maps: { name: string; id: number }[];
}
interface LoadResult {
  ok: boolean;
  loaded?: Loaded;
  error?: { message: string; stage: string; code?: string; source?: { line: number }; log?: string };
  ms: number;
}

const ws = makeWorkspace(['core_target.bpf.c', 'load_globals.bpf.c', 'loader_reject.bpf.c', 'argctx_shared.bpf.c']);
const argCtxUri = pathToFileURL(path.join(ws.src, 'argctx_shared.bpf.c')).href;
const argCtxNotes = () => (lsp.diagnostics.get(argCtxUri) ?? []).filter((d) => d.code === 'arg-ctx').map((d) => d.message);
const coreSrc = path.join(ws.src, 'core_target.bpf.c');
const coreUri = pathToFileURL(coreSrc).href;
const lineOf = (file: string, marker: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(marker));
let host: SshHost;
let lsp: LspClient;

function oldNode(): string {
  const f = path.join(host.dir, 'node16');
  writeFileSync(f, '#!/bin/sh\n[ "$1" = -v ] && echo v16.20.2 && exit 0\necho "node16 stand-in: not runnable" >&2; exit 1\n', {
    mode: 0o755,
  });
  return f;
}

// A BTF file target whose file is not BTF.
const notBtf = path.join(ws.dir, 'not-btf.btf');
writeFileSync(notBtf, 'this is not BTF\n');

// A Debian 6.1 module with its base distilled (.BTF.base), for the base diff against the selected target.
const bbr = path.join(ws.build, 'tcp_bbr.ko');

before(async () => {
  const k61 = debianKernel('6.1');
  run(process.execPath, [CLI, 'distill', k61.modules().find((m) => m.endsWith('/tcp_bbr.ko'))!, '--base', k61.vmlinuxBtf, '-o', bbr]);
  host = startSshHost();
  // The server's ssh reads the test host's ssh_config (never ~/.ssh).
  process.env.BPF_LENS_SSH_CONFIG = host.config;
  lsp = await LspClient.start(ws.dir, {
    targets: [
      { name: 'debian-6.1', btf: debianKernel('6.1').vmlinuxBtf },
      { name: 'debian-6.12', btf: debianKernel('6.12').vmlinuxBtf },
      { name: 'lab', host: 'bpflens-test' },
      { name: 'nowhere', host: `ssh://root@${host.addr}:2999` },
      // A non-root user whose agent runs without sudo: bpf() refused.
      { name: 'unprivileged', host: host.addr, user: host.user, sudo: false },
      // Sessions that see no /sys/kernel/btf: a kernel built without BTF.
      { name: 'no-btf', host: `ssh://root@${host.addr}:2223` },
      // nodePath naming a node too old for the agent (a stand-in that answers -v like Node 16).
      { name: 'old-node', host: 'bpflens-test', nodePath: oldNode() },
      { name: 'broken' }, // neither host nor btf: dropped with a log line
      { name: 'bad-btf', btf: notBtf },
    ],
  });
  await lsp.request('bpfLens/objects', {});
});
after(async () => {
  await lsp?.stop();
  host?.stop();
  delete process.env.BPF_LENS_SSH_CONFIG;
  ws.cleanup();
});

const coreDiags = () => (lsp.diagnostics.get(coreUri) ?? []).filter((d) => d.code === 'core');
const select = (name: string) => lsp.request<SelectResult>('bpfLens/selectTarget', { name });
/** The CO-RE diagnostics once they name `target` (or there are none, when `none`). */
const coreFor = (target: string, none = false) =>
  lsp.until(`CO-RE diagnostics on ${target}`, () => {
    const d = coreDiags();
    if (none) return d.length === 0 && lsp.diagnostics.has(coreUri) ? ([] as Diagnostic[]) : undefined;
    return d.length && d.every((x) => x.message.includes(`on ${target}`)) ? d : undefined;
  });

test('CO-RE diagnostics follow the selected target: Debian 6.1 lacks two fields the program reads, 6.12 has them', async () => {
  const r61 = await select('debian-6.1');
  assert.ok(r61.ok, r61.error?.message);
  assert.equal(r61.info!.kind, 'btf');
  assert.equal(r61.info!.canLoad, false);
  assert.equal(r61.core!.problems, 2);
  const d61 = await coreFor('debian-6.1');
  const byLine = new Map(d61.map((d) => [d.range.start.line, d]));
  assert.equal(d61.length, 2, d61.map((d) => d.message).join('\n'));
  const missing = byLine.get(lineOf(coreSrc, 'CORE-MISSING-6.1'));
  const poisoned = byLine.get(lineOf(coreSrc, 'CORE-POISONED-6.1'));
  assert.ok(missing && poisoned, d61.map((d) => `${d.range.start.line}: ${d.message}`).join('\n'));
  // A field check answering 0 is information; a read that cannot be relocated fails if reached.
  assert.equal(missing.severity, 3);
  assert.match(missing.message, /core_target\.o: CO-RE on debian-6\.1 .*task_struct->dl_server \(FIELD_EXISTS\) is absent there/);
  assert.equal(poisoned.severity, 2);
  assert.match(poisoned.message, /inode->i_mtime_sec \(FIELD_BYTE_OFFSET\) does not resolve: .*similar: i_mtime/);
  // The range is the field's name on that line.
  const text = readFileSync(coreSrc, 'utf8').split('\n')[poisoned.range.start.line];
  assert.equal(text.slice(poisoned.range.start.character, poisoned.range.end.character), 'i_mtime_sec');

  // __arg_ctx notes follow the target too: a BTF file cannot be asked whether it supports the tag.
  await lsp.until(
    'arg-ctx notes on debian-6.1',
    () => argCtxNotes().length && argCtxNotes().every((m) => m.includes('cannot tell whether debian-6.1')),
  );

  const r612 = await select('debian-6.12');
  assert.ok(r612.ok);
  assert.equal(r612.core!.problems, 0);
  assert.equal(r612.core!.relocations, r61.core!.relocations);
  await coreFor('debian-6.12', true);
  console.log(
    `CO-RE check of the workspace: ${r61.core!.relocations} relocations, 6.1 ${r61.core!.ms.toFixed(0)} ms, 6.12 ${r612.core!.ms.toFixed(0)} ms`,
  );
});

test('an SSH target: hello through the deployed agent, and CO-RE checked against the BTF it sends (the same kernel as local here)', async () => {
  const local = await select('local');
  assert.ok(local.ok);
  assert.equal(local.info!.kind, 'local');
  await lsp.until(
    'diagnostics after selecting local',
    () => lsp.diagnostics.has(coreUri) && coreDiags().every((d) => d.message.includes('on local')),
  );
  const atLocal = coreDiags().map((d) => `${d.range.start.line}:${d.severity}`);

  const lab = await select('lab');
  assert.ok(lab.ok, lab.error?.message);
  assert.equal(lab.info!.kind, 'ssh');
  assert.equal(lab.info!.release, spawnSync('uname', ['-r']).stdout.toString().trim());
  assert.equal(lab.info!.canLoad, true);
  assert.equal(lab.info!.hasBtf, true);
  assert.ok(Object.keys(lab.info!.features).length > 10);
  assert.deepEqual(lab.core, { ...lab.core!, relocations: local.core!.relocations, problems: local.core!.problems });
  await lsp.until(
    'diagnostics after selecting lab',
    () => coreDiags().every((d) => d.message.includes('on lab')) && coreDiags().length === atLocal.length,
  );
  assert.deepEqual(
    coreDiags().map((d) => `${d.range.start.line}:${d.severity}`),
    atLocal,
  );
  // What the agent probed there decides the __arg_ctx notes (this kernel: native).
  await lsp.until('arg-ctx notes on lab', () =>
    argCtxNotes().some((m) => new RegExp(`native on lab \\(kernel ${lab.info!.release}\\)`).test(m)),
  );
  console.log(
    `select lab (connect, deploy if needed, hello): ${lab.info!.ms.toFixed(0)} ms; CO-RE vs its BTF ${lab.core.ms.toFixed(0)} ms`,
  );
});

test('a load on an SSH target goes through its agent: kernel ids, progress, listed with the target, unload releases them', async () => {
  const obj = path.join(ws.build, 'load_globals.o');
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: obj, target: 'lab', token: 'lab-1' });
  assert.ok(r.ok, r.error?.message);
  const l = r.loaded!;
  assert.equal(l.target, 'lab');
  assert.ok(l.programs.length > 0 && l.maps.length > 0);
  // The SSH host is this machine's kernel in another network namespace: its ids are visible here.
  for (const p of l.programs) assert.ok(alive('prog', p.id), `prog ${p.name} ${p.id}`);
  await lsp.until('progress from the agent', () => {
    const stages = lsp.notifications
      .filter((n) => n.method === 'bpfLens/loadProgress' && (n.params as { token: string }).token === 'lab-1')
      .map((n) => (n.params as { stage: string }).stage);
    return stages.includes('connect') && stages.includes('maps') ? stages : undefined;
  });
  const listed = await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects');
  assert.deepEqual(
    listed.loaded.map((x) => [x.handle, x.target]),
    [[l.handle, 'lab']],
  );
  const u = await lsp.request<{ closed: boolean }>('bpfLens/unloadObject', { handle: l.handle });
  assert.equal(u.closed, true);
  await lsp.until('kernel ids gone', () => l.programs.every((p) => !alive('prog', p.id)), 5000);
  assert.deepEqual((await lsp.request<{ loaded: Loaded[] }>('bpfLens/loadedObjects')).loaded, []);
  console.log(`load through lab's agent: ${r.ms.toFixed(0)} ms`);
});

test('a verifier rejection on the SSH target: its log, and an error diagnostic on the rejected line', async () => {
  const r = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'loader_reject.o'), target: 'lab' });
  assert.equal(r.ok, false);
  assert.equal(r.error!.stage, 'programs');
  assert.match(r.error!.log!, /invalid mem access/);
  const src = path.join(ws.src, 'loader_reject.bpf.c');
  const want = lineOf(src, 'REJECTED');
  assert.equal(r.error!.source!.line, want);
  const diags = await lsp.until('rejection diagnostic', () =>
    lsp.diagnostics.get(pathToFileURL(src).href)?.filter((d) => d.code === 'verifier'),
  );
  assert.deepEqual(
    diags.map((d) => [d.range.start.line, d.severity]),
    [[want, 1]],
  );
});

test('targets that cannot be used say why, and the selection stays where it was', async () => {
  const before = await select('lab');
  assert.ok(before.ok);
  const nowhere = await select('nowhere');
  assert.equal(nowhere.ok, false);
  assert.equal(nowhere.error!.code, 'unreachable');
  assert.match(nowhere.error!.message, /unreachable: check the address, port and that sshd runs there/);
  const old = await select('old-node');
  assert.equal(old.error!.code, 'node-too-old');
  assert.match(old.error!.message, /is v16\.20\.2: BPF Lens's agent needs Node\.js 20 or newer; set nodePath/);
  const unknown = await select('no-such-target');
  assert.equal(unknown.error!.code, 'bad-target');
  assert.match(unknown.error!.message, /known: local, debian-6\.1, debian-6\.12, lab, nowhere, unprivileged, no-btf, old-node, bad-btf\)/);
  const bad = await select('bad-btf');
  assert.equal(bad.ok, false);
  assert.match(bad.error!.message, /not-btf\.btf.*neither raw BTF nor an ELF file/);
  // CO-RE diagnostics stay on the last good target.
  assert.ok(coreDiags().every((d) => d.message.includes('on lab')));

  const obj = path.join(ws.build, 'load_globals.o');
  const viaNowhere = await lsp.request<LoadResult>('bpfLens/loadObject', { path: obj, target: 'nowhere' });
  assert.deepEqual([viaNowhere.ok, viaNowhere.error!.stage, viaNowhere.error!.code], [false, 'target', 'unreachable']);
  const viaBtf = await lsp.request<LoadResult>('bpfLens/loadObject', { path: obj, target: 'debian-6.1' });
  assert.deepEqual([viaBtf.ok, viaBtf.error!.stage, viaBtf.error!.code], [false, 'target', 'bad-target']);
  assert.match(viaBtf.error!.message, /BTF file target: it has no kernel to load into/);
  // The entry with neither host nor btf was dropped, and the server said so in its log.
  assert.ok(
    lsp.notifications.some(
      (n) =>
        n.method === 'window/logMessage' && /bpfLens\.targets\[7\] \(broken\): needs host/.test((n.params as { message: string }).message),
    ),
  );
});

test('a target where bpf() is refused, and one without kernel BTF: selectable, and loads fail with their own code', async () => {
  const unpriv = await select('unprivileged');
  assert.ok(unpriv.ok, unpriv.error?.message);
  assert.equal(unpriv.info!.canLoad, false);
  const obj = path.join(ws.build, 'load_globals.o');
  const refused = await lsp.request<LoadResult>('bpfLens/loadObject', { path: obj, target: 'unprivileged' });
  assert.deepEqual([refused.ok, refused.error!.stage, refused.error!.code], [false, 'target', 'bpf-not-permitted']);
  assert.match(refused.error!.message, new RegExp(`runs as uid \\d+ without CAP_BPF.*connect as root`));

  const noBtf = await select('no-btf');
  assert.ok(noBtf.ok, noBtf.error?.message);
  assert.deepEqual([noBtf.info!.hasBtf, noBtf.info!.canLoad, noBtf.core], [false, true, undefined]);
  // Without CO-RE an object loads there; with CO-RE relocations it cannot.
  const plain = await lsp.request<LoadResult>('bpfLens/loadObject', { path: obj, target: 'no-btf' });
  assert.ok(plain.ok, plain.error?.message);
  await lsp.request('bpfLens/unloadObject', { handle: plain.loaded!.handle });
  const core = await lsp.request<LoadResult>('bpfLens/loadObject', { path: path.join(ws.build, 'core_target.o'), target: 'no-btf' });
  assert.deepEqual([core.ok, core.error!.code], [false, 'no-btf']);
  assert.match(core.error!.message, /BTF/);
});

interface BaseDiff {
  target: string;
  relocates?: boolean;
  rows: { name: string; status: string; targetId?: number }[];
}

test("a module's base diff is against the selected target: a BTF file, or the BTF an SSH target sent", async () => {
  const rows = (d: BaseDiff) => d.rows.map((r) => `${r.name}:${r.status}:${r.targetId ?? '-'}`);
  assert.ok((await select('debian-6.12')).ok);
  const on612 = await lsp.request<BaseDiff>('bpfLens/baseDiff', { path: bbr });
  assert.match(on612.target, /^debian-6\.12 \(.*vmlinux\.btf\)$/);
  const file612 = await lsp.request<BaseDiff>('bpfLens/baseDiff', { path: bbr, target: debianKernel('6.12').vmlinuxBtf });
  assert.deepEqual(rows(on612), rows(file612));

  const lab = await select('lab');
  assert.ok(lab.ok);
  const onLab = await lsp.request<BaseDiff>('bpfLens/baseDiff', { path: bbr });
  assert.equal(onLab.target, `lab (${lab.info!.release})`);
  // The SSH host runs this kernel: its BTF, fetched through the agent, gives this kernel's answer.
  const here = await lsp.request<BaseDiff>('bpfLens/baseDiff', { path: bbr, target: '/sys/kernel/btf/vmlinux' });
  assert.deepEqual(rows(onLab), rows(here));
  assert.notDeepEqual(rows(onLab), rows(on612));
});

test("hover on a field a CO-RE relocation reads: the compiled value and the selected target's, as `bpf-lens relocate` computes them", async () => {
  const text = readFileSync(coreSrc, 'utf8');
  const uri = await lsp.open(coreSrc, text);
  const lines = text.split('\n');
  const at = (marker: string, word: string) => {
    const l = lines.findIndex((x) => x.includes(marker));
    return [l, lines[l].indexOf(word) + 1] as const;
  };
  const k612 = debianKernel('6.12').vmlinuxBtf;
  const relo = JSON.parse(run(process.execPath, [CLI, 'relocate', path.join(ws.build, 'core_target.o'), '--btf', k612, '--json'])) as {
    sections: { relocations: { access: string; targetValue: string }[] }[];
  };
  const pidOn612 = relo.sections[0].relocations.find((r) => r.access === 'task_struct->pid')!.targetValue;
  assert.ok((await select('debian-6.12')).ok);
  const pid = await lsp.hover(uri, ...at('CORE-OK', 'pid'));
  assert.match(pid ?? '', /\*\*CO-RE\*\* on debian-6\.12 \(vmlinux\.btf\)/);
  assert.match(pid ?? '', new RegExp(`\\| \`task_struct->pid\` \\| FIELD_BYTE_OFFSET \\| 0 \\| \\*\\*${pidOn612}\\*\\* \\|`));
  assert.ok((await select('debian-6.1')).ok);
  const mtime = await lsp.hover(uri, ...at('CORE-POISONED-6.1', 'i_mtime_sec'));
  assert.match(mtime ?? '', /`inode->i_mtime_sec` \| FIELD_BYTE_OFFSET \| 0 \| poisoned: fails verification if reached/);
  assert.match(mtime ?? '', /similar: i_mtime/);
  // Not on a relocated field: no CO-RE hover.
  assert.equal(await lsp.hover(uri, ...at('CORE-OK', 'BPF_CORE_READ')), undefined);
});

test("the targets the tree lists, and each target's vmlinux BTF as a file the server pages like an object's", async () => {
  assert.ok((await select('lab')).ok);
  const t = await lsp.request<{ selected: string; targets: { name: string; kind: string; where?: string; info?: TargetInfo }[] }>(
    'bpfLens/targets',
  );
  assert.equal(t.selected, 'lab');
  assert.deepEqual(
    t.targets.map((x) => [x.name, x.kind]),
    [
      ['local', 'local'],
      ['debian-6.1', 'btf'],
      ['debian-6.12', 'btf'],
      ['lab', 'ssh'],
      ['nowhere', 'ssh'],
      ['unprivileged', 'ssh'],
      ['no-btf', 'ssh'],
      ['old-node', 'ssh'],
      ['bad-btf', 'btf'],
    ],
  );
  assert.equal(t.targets.find((x) => x.name === 'lab')!.info?.release, spawnSync('uname', ['-r']).stdout.toString().trim());
  assert.equal(t.targets.find((x) => x.name === 'nowhere')!.info, undefined);

  const page = async (name: string) => {
    const b = await lsp.request<{ path: string; label: string }>('bpfLens/targetBtf', { name });
    const r = await lsp.request<{ total: number; items: { name: string }[] }>('bpfLens/btfTypes', {
      path: b.path,
      kind: 'STRUCT',
      search: 'inode',
      offset: 0,
      limit: 500,
    });
    return { ...b, total: r.total, names: r.items.map((i) => i.name) };
  };
  const on61 = await page('debian-6.1');
  assert.equal(on61.path, debianKernel('6.1').vmlinuxBtf);
  assert.ok(on61.names.includes('inode'));
  // lab's BTF came through its agent; it is this kernel's.
  const lab = await page('lab');
  const here = await lsp.request<{ total: number }>('bpfLens/btfTypes', {
    path: '/sys/kernel/btf/vmlinux',
    kind: 'STRUCT',
    search: 'inode',
    offset: 0,
    limit: 1,
  });
  assert.equal(lab.total, here.total);
  assert.equal(readFileSync(lab.path).equals(readFileSync('/sys/kernel/btf/vmlinux')), true);
});

test("the tree's CO-RE relocations of an object: each one against the selected target, on the line naming its field", async () => {
  assert.ok((await select('debian-6.1')).ok);
  const obj = path.join(ws.build, 'core_target.o');
  const summary = (await lsp.request<{ objects: { coreRelocations?: number }[] }>('bpfLens/objects', { path: obj })).objects[0];
  assert.equal(summary.coreRelocations, 3);
  const r = await lsp.request<{
    target: string;
    items: {
      access: string;
      kind: string;
      status: string;
      compiled?: string;
      onTarget?: string;
      message?: string;
      source?: { file: string; line: number };
    }[];
  }>('bpfLens/coreRelocations', { path: obj });
  assert.match(r.target, /^debian-6\.1 /);
  const by = new Map(r.items.map((i) => [i.access, i]));
  const relo = JSON.parse(run(process.execPath, [CLI, 'relocate', obj, '--btf', debianKernel('6.1').vmlinuxBtf, '--json'])) as {
    sections: { relocations: { access: string; status: string; targetValue?: string }[] }[];
  };
  assert.deepEqual(r.items.map((i) => [i.access, i.status]).sort(), relo.sections[0].relocations.map((x) => [x.access, x.status]).sort());
  assert.equal(
    by.get('task_struct->pid')!.onTarget,
    relo.sections[0].relocations.find((x) => x.access === 'task_struct->pid')!.targetValue,
  );
  assert.equal(by.get('inode->i_mtime_sec')!.source!.line, lineOf(coreSrc, 'CORE-POISONED-6.1'));
  assert.equal(by.get('task_struct->dl_server')!.source!.line, lineOf(coreSrc, 'CORE-MISSING-6.1'));
  assert.equal(by.get('inode->i_mtime_sec')!.source!.file, coreSrc);
  assert.match(by.get('inode->i_mtime_sec')!.message!, /similar: i_mtime/);
});
