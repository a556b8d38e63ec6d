/**
 * `bpf-lens load OBJ --target A --target B ...`: the object on every target at once (bounded,
 * each within --timeout), a matrix of programs × targets. Exit 0 only when every target
 * loaded every program; 1 otherwise (a target that could not be used included).
 */
import { openObject } from '../object';
import type { TargetBtf } from '../core';
import type { BpfProgram } from '../object/model';
import type { TargetMatrix } from '../targets/matrix';
import type { HelloResult, KernelTarget, LoadRequest } from '../targets/target';
import type { CliIo } from './command';
import { readInput, readWithoutDwarf } from './input';
import type { LoadArgs } from './load';
import { openCliTarget } from './target-args';

type ConnectTimings = { probeMs?: number; deployMs?: number; deployed?: boolean; startMs?: number };

export async function loadOnTargets(a: LoadArgs, io: CliIo): Promise<number> {
  const bytes = readWithoutDwarf(a.file);
  const off = new Set(a.values['no-autoload'] ?? []);
  const obj = openObject(bytes, a.file);
  const programs = obj.programs.map((p) => p.name).filter((n) => !off.has(n));
  const { analyzeArgCtx } = await import('../object/arg-ctx');
  // Loads either way where auto lets it; say which kernels ran the tagged arguments as written.
  const tagged = analyzeArgCtx(obj).length > 0 && a.mode !== 'never';
  const notes = (h: HelloResult) =>
    !tagged
      ? []
      : a.mode === 'always'
        ? ['__arg_ctx: emulated (--arg-ctx-fallback always)']
        : h.features.arg_ctx_tag
          ? ['__arg_ctx: native (the kernel knows arg:ctx)']
          : ['__arg_ctx: emulated (no native arg:ctx before 6.8: the tagged arguments were rewritten to the context type, as libbpf does)'];
  const btf = a.values.btf !== undefined ? { name: a.values.btf, bytes: readInput(a.values.btf) } : undefined;
  const req: LoadRequest = {
    name: a.file,
    object: bytes,
    logLevel: a.level,
    noAutoload: [...off],
    set: a.set,
    ...(a.values.register ? { registerStructOps: true } : {}),
    ...(a.mode ? { argCtxFallback: a.mode } : {}),
    ...(btf ? { btf } : {}),
  };
  const { coreReloCount } = await import('../targets/core-notes');
  const corable = coreReloCount(bytes, a.file) > 0;
  const { fanout } = await import('../targets/fanout');
  const { loadMatrixRow } = await import('../targets/matrix');
  const { requireLoad } = await import('../remote/agent-client');
  const { formatMatrixJson, formatMatrixText } = await import('../targets/matrix-format');
  // A remote target's connection times, for the "timing" one target's load --json has.
  const opened = new WeakMap<KernelTarget, { conn: ConnectTimings; connectMs: number }>();
  const results = await fanout(
    a.targets,
    async (spec, signal) => {
      const conn: ConnectTimings = {};
      const t0 = performance.now();
      const target = await openCliTarget(spec, io, {
        signal,
        inProcess: true,
        timings: conn,
        ...(a.values['no-sudo'] ? { sudo: false } : {}),
      });
      opened.set(target, { conn, connectMs: performance.now() - t0 });
      return target;
    },
    async (target) => {
      // bpf-not-permitted, saying why, before the object travels (in-process, the load says so itself)
      const loaded = await loadMatrixRow(target, req, programs, (t) => (t.inProcess ? t.hello() : requireLoad(t)), notes);
      const row = corable ? await withCore(loaded, target, a.file, bytes, obj.programs, btf) : loaded;
      const o = opened.get(target);
      if (target.inProcess || !o || !row.outcome.ok) return row;
      const timing = {
        connect_ms: Math.round(o.connectMs),
        deploy_ms: Math.round(o.conn.deployMs ?? 0),
        deployed_now: o.conn.deployed ?? false,
        load_ms: Math.round(row.loadMs ?? 0),
        agent_load_ms: Math.round(row.outcome.loaded.ms),
      };
      return { ...row, timing };
    },
    a.fan,
  );
  io.out(a.values.json ? formatMatrixJson(results) : formatMatrixText(a.file, results, programs));
  return results.every((r) => r.ok && r.value.outcome.ok) ? 0 : 1;
}

/**
 * The row with the object's CO-RE relocations checked against what the load relocated them
 * against (--btf, else the target's own vmlinux BTF, and on this machine its modules' too), as
 * the editor's matrix view does; a BTF that cannot be had is a note.
 */
async function withCore(
  row: TargetMatrix,
  target: KernelTarget,
  file: string,
  bytes: Uint8Array,
  programs: readonly BpfProgram[],
  btf: { name: string; bytes: Uint8Array } | undefined,
): Promise<TargetMatrix> {
  const { checkCore, coreSummary } = await import('../targets/core-notes');
  const { btfFromBytes } = await import('../btf/input');
  try {
    let btfs: TargetBtf[];
    if (btf) btfs = [{ name: btf.name, btf: btfFromBytes(btf.bytes, btf.name) }];
    else if (target.inProcess) btfs = (await import('../kernel/sysfs-btf')).sysfsKernelBtfs();
    else {
      const { AgentTarget } = await import('../targets/agent');
      if (!(target instanceof AgentTarget)) return row;
      const b = await target.client.targetBtf();
      btfs = [{ name: `vmlinux (${target.label})`, btf: btfFromBytes(b.data, `${target.label}:/sys/kernel/btf/vmlinux`) }];
    }
    return { ...row, core: coreSummary(programs, checkCore(bytes, file, btfs)) };
  } catch (e) {
    return { ...row, notes: [...row.notes, `CO-RE not checked: ${(e as Error).message.split('\n')[0]}`] };
  }
}
