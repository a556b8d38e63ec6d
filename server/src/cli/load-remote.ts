import { readInput } from './input';
import type { CliIo } from './command';

export interface RemoteLoadOptions {
  readonly logLevel: number;
  readonly set: Record<string, string>;
  readonly noAutoload: readonly string[];
  readonly pinProgramsDir?: string;
  readonly argCtxFallback?: 'auto' | 'always' | 'never';
  readonly json: boolean;
  /** A vmlinux BTF file sent along for CO-RE (libbpf's btf_custom_path). */
  readonly btf?: string;
  /** `--no-sudo`: run the agent as the SSH user even when that user is not root. */
  readonly sudo?: boolean;
}

/**
 * `bpf-lens load OBJ --target ssh://...`: the object's bytes go to the agent on the target,
 * which runs the pipeline against its own kernel. Without --pin everything is released when
 * the command exits (the agent ends with the connection).
 */
export async function loadRemote(file: string, spec: string, o: RemoteLoadOptions, io: CliIo): Promise<number> {
  const { connectTarget, TargetError, formatTargetError, isLoadError, requireLoad } = await import('../remote');
  const bytes = readInput(file);
  const timings: { probeMs?: number; deployMs?: number; deployed?: boolean; startMs?: number } = {};
  const t0 = performance.now();
  let client;
  try {
    client = await connectTarget(spec, { timings, ...(o.sudo === false ? { sudo: false } : {}) });
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    io.err(formatTargetError(e));
    return 2;
  }
  const connectMs = performance.now() - t0;
  try {
    const h = await requireLoad(client);
    const t1 = performance.now();
    let r;
    try {
      r = await client.load({
        name: file, object: Buffer.from(bytes).toString('base64'), logLevel: o.logLevel, set: o.set, noAutoload: o.noAutoload,
        ...(o.pinProgramsDir !== undefined ? { pinProgramsDir: o.pinProgramsDir } : {}), ...(o.argCtxFallback ? { argCtxFallback: o.argCtxFallback } : {}),
        ...(o.btf !== undefined ? { btf: Buffer.from(readInput(o.btf)).toString('base64') } : {}),
      });
    } catch (e) {
      if (!isLoadError(e)) throw e;
      // TargetError (no-btf, agent-crashed) goes to the outer catch: exit 2.
      const d = e.data!;
      if (o.json) io.out(`${JSON.stringify({ ok: false, target: spec, progs: [], maps: [], error: { message: e.message, ...d } }, null, 2)}\n`);
      else {
        const lines = [`error: ${e.message}`];
        if (d.source) lines.push(`  --> ${d.source.file}:${d.source.line}:${d.source.column}`, `   | ${d.source.text.trim()}`);
        if (d.log) lines.push('verifier log (last lines):', ...d.log.replace(/\0+$/, '').trimEnd().split('\n').slice(-20).map((l) => `  ${l}`));
        io.err(`${lines.join('\n')}\n`);
      }
      return 1;
    }
    const loadMs = performance.now() - t1;
    const timing = { connect_ms: Math.round(connectMs), deploy_ms: Math.round(timings.deployMs ?? 0), deployed_now: timings.deployed ?? false, load_ms: Math.round(loadMs), agent_load_ms: Math.round(r.ms) };
    if (o.json) {
      io.out(`${JSON.stringify({
        ok: true, target: spec, kernel_release: h.release, timing,
        progs: r.programs.map((p) => ({ name: p.name, id: p.id, type: p.type, verified_insns: p.verifiedInsns })),
        maps: r.maps.map((m) => ({ name: m.kernelName, id: m.id, type: m.type, bytes_key: m.keySize, bytes_value: m.valueSize, max_entries: m.maxEntries, flags: m.flags })),
      }, null, 2)}\n`);
    } else {
      const lines = [`loaded ${file} on ${spec} (${h.release}): ${r.programs.length} program(s), ${r.maps.length} map(s)`];
      for (const p of r.programs) {
        lines.push(`  prog ${String(p.id).padStart(5)}  ${p.type.padEnd(14)} ${p.name}  (${p.verifiedInsns} insns verified)${p.pinnedAt ? `  pinned ${p.pinnedAt}` : ''}`);
        if (p.log) lines.push(...p.log.trimEnd().split('\n').map((l) => `      ${l}`));
      }
      for (const m of r.maps) lines.push(`  map  ${String(m.id).padStart(5)}  ${m.type.padEnd(14)} ${m.kernelName}  key ${m.keySize}B value ${m.valueSize}B max_entries ${m.maxEntries}`);
      for (const w of r.warnings) lines.push(`warning: ${w}`);
      lines.push(`connect ${timing.connect_ms} ms (deploy ${timing.deployed_now ? `${timing.deploy_ms} ms` : 'cached'}), load ${timing.load_ms} ms (agent ${timing.agent_load_ms} ms)`);
      if (o.pinProgramsDir === undefined) lines.push('(not pinned: released on exit)');
      io.out(`${lines.join('\n')}\n`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    io.err(formatTargetError(e));
    return 2;
  } finally {
    await client.close();
  }
}
