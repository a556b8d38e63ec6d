/**
 * Attach, Detach and Test Run… from the editor: on a load the server holds (bpfLens/loadObject),
 * through that load's KernelTarget (this kernel in-process, or the target's agent), the same
 * calls `bpf-lens run` and `test-run` make. The tree reads what is attached from
 * bpfLens/loadedObjects.
 */
import {
  type AttachPlaceResult,
  AttachPlaceRequest,
  AttachObjectRequest,
  type AttachObjectResult,
  DetachObjectRequest,
  type KernelAttachment,
  type TestRunProgramParams,
  TestRunProgramRequest,
  type TestRunProgramResult,
} from '../../../protocol/lsp';
import { placeNeed } from '../attach/place-need';
import { MAX_SOURCE_BYTES, readRegularFile } from '../host/read-file';
import { secDefFor } from '../object/section-defs';
import { buildPacket } from '../run/packet';
import { retvalName } from '../run/retval';
import { testRunText } from '../run/test-run';
import { AttachFailure, type AttachmentJson } from '../targets/target';
import { handler, type RequestHandler } from './handlers';
import type { HeldLoad } from './kernel-loads';
import type { Session } from './session';

const attachment = (a: AttachmentJson): KernelAttachment => ({
  program: a.program,
  kind: a.kind,
  target: a.target,
  mechanism: a.mechanism,
  linkIds: [...a.linkIds],
});

const NOT_LOADED = (handle: number) => `nothing is loaded under handle ${handle} (it was unloaded)`;

export function attachRequests(d: Session): RequestHandler[] {
  return [
    handler(AttachObjectRequest, async (p): Promise<AttachObjectResult> => {
      const h = d.loads.get(p.handle);
      const none = { attached: [], skipped: [], iterOutput: [] };
      if (!h) return { ok: false, ...none, error: { message: NOT_LOADED(p.handle) } };
      try {
        const r = await h.target.attach(h.kernelHandle, {
          ...(p.programs ? { programs: p.programs } : {}),
          ...(p.places ? { places: p.places } : {}),
        });
        h.attached.push(...r.attached.map(attachment));
        d.log(`attach ${h.info.path}: ${r.attached.map((a) => `${a.program} → ${a.kind} ${a.target}`).join(', ') || 'nothing'}`);
        return { ok: true, attached: r.attached.map(attachment), skipped: r.skipped, iterOutput: r.iterOutput };
      } catch (e) {
        if (!(e instanceof AttachFailure)) return { ok: false, ...none, error: { message: (e as Error).message } };
        return {
          ok: false,
          ...none,
          error: { message: e.message, ...(e.program ? { program: e.program } : {}), ...(e.needsPlace ? { needsPlace: true } : {}) },
        };
      }
    }),
    handler(AttachPlaceRequest, async (p): Promise<AttachPlaceResult> => {
      const h = d.loads.get(p.handle);
      if (!h) return { interfaces: [], cgroups: [], error: NOT_LOADED(p.handle) };
      const section = h.sections.get(p.program);
      if (section === undefined) return { interfaces: [], cgroups: [], error: `no program '${p.program}' in ${h.info.path}` };
      const need = placeNeed({ name: p.program, section });
      if (!need || (need.kind !== 'interface' && need.kind !== 'cgroup')) return { ...(need ? { need } : {}), interfaces: [], cgroups: [] };
      try {
        const places = await h.target.places();
        if (need.kind === 'interface') return { need, interfaces: places.interfaces, cgroups: [] };
        return { need, interfaces: [], ...(places.cgroupRoot ? { cgroupRoot: places.cgroupRoot } : {}), cgroups: places.cgroups };
      } catch (e) {
        return { need, interfaces: [], cgroups: [], error: `${h.target.label} cannot list its places: ${(e as Error).message}` };
      }
    }),
    handler(DetachObjectRequest, async (p) => {
      const h = d.loads.get(p.handle);
      if (!h) return { detached: [], errors: [NOT_LOADED(p.handle)] };
      const r = await h.target.detach(h.kernelHandle, p.programs);
      const gone = new Set(r.detached.map((a) => a.program));
      h.attached = h.attached.filter((a) => !gone.has(a.program));
      return { detached: r.detached.map(attachment), errors: r.errors };
    }),
    handler(TestRunProgramRequest, async (p) => {
      const h = d.loads.get(p.handle);
      if (!h) return { ok: false, lines: [], error: NOT_LOADED(p.handle) };
      try {
        return await testRun(h, p);
      } catch (e) {
        return { ok: false, lines: [], error: (e as Error).message };
      }
    }),
  ];
}

async function testRun(h: HeldLoad, p: TestRunProgramParams): Promise<TestRunProgramResult> {
  const prog = h.info.programs.find((x) => x.name === p.program);
  if (!prog) throw new Error(`${h.info.path} has no loaded program '${p.program}'`);
  const data =
    p.packet !== undefined ? buildPacket(p.packet) : p.dataFile !== undefined ? readRegularFile(p.dataFile, MAX_SOURCE_BYTES) : undefined;
  const ctx = p.ctxFile !== undefined ? readRegularFile(p.ctxFile, MAX_SOURCE_BYTES) : undefined;
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  const r = await h.target.testRun({
    handle: h.kernelHandle,
    program: p.program,
    ...(data ? { data: b64(data) } : {}),
    ...(ctx ? { ctx: b64(ctx) } : {}),
    ...(p.repeat ? { repeat: p.repeat } : {}),
  });
  const hex = (s?: string) => (s ? Buffer.from(s, 'base64').toString('hex') : '');
  const section = h.sections.get(p.program);
  const name = retvalName(prog.type, r.retval, section ? (secDefFor(section)?.def.attachType ?? undefined) : undefined) ?? null;
  const report = {
    retval: r.retval,
    retval_name: name,
    data_out: hex(r.dataOut),
    duration_ns: r.duration,
    ...(r.ctxOut ? { ctx_out: hex(r.ctxOut) } : {}),
    repeat: p.repeat ?? 1,
  };
  return {
    ok: true,
    retval: r.retval,
    retvalName: name,
    durationNs: r.duration,
    dataOut: report.data_out,
    ...(report.ctx_out ? { ctxOut: report.ctx_out } : {}),
    lines: testRunText(report, data).trimEnd().split('\n'),
  };
}
