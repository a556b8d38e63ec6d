import { readFileSync } from 'fs';
import { parseArgs } from './args';
import { buildPacket } from '../run/packet';
import { testRunText, type TestRunReport } from '../run/test-run';
import { type CliIo, type CommandRun, UsageError } from './command';
import { readWithoutDwarf } from './input';
import { checkTargetSpecs } from './target-args';
import { onTarget } from './on-target';

function parse(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        id: { type: 'string' },
        pinned: { type: 'string' },
        'data-in': { type: 'string' },
        packet: { type: 'string' },
        'ctx-in': { type: 'string' },
        repeat: { type: 'string' },
        json: { type: 'boolean', default: false },
        target: { type: 'string' },
        'no-sudo': { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals: pos } = parsed;
  const sources = [pos.length > 0, v.id !== undefined, v.pinned !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give the program once: OBJ PROG, --id N or --pinned PATH');
  if (pos.length && pos.length !== 2)
    throw new UsageError(pos.length === 1 ? 'missing PROG (the program in OBJ to run)' : `unexpected argument '${pos[2]}'`);
  if (v.id !== undefined && !/^\d+$/.test(v.id)) throw new UsageError(`--id wants a program id, not '${v.id}'`);
  if (v['data-in'] !== undefined && v.packet !== undefined) throw new UsageError('give --data-in or --packet, not both');
  const repeat = v.repeat !== undefined ? Number(v.repeat) : 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 1e9) throw new UsageError(`--repeat wants a count >= 1, not '${v.repeat}'`);
  let data: Uint8Array | undefined;
  if (v.packet !== undefined) {
    try {
      data = buildPacket(v.packet);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  } else if (v['data-in'] !== undefined) {
    data = new Uint8Array(readFileSync(v['data-in']));
  }
  const ctx = v['ctx-in'] !== undefined ? new Uint8Array(readFileSync(v['ctx-in'])) : undefined;
  const target = v.target !== undefined && v.target !== 'local' ? v.target : undefined;
  if (target !== undefined) {
    checkTargetSpecs([target]);
    if (!pos.length) throw new UsageError('with --target, give the program as OBJ PROG (it is loaded there for the run)');
  }
  return { obj: pos[0], prog: pos[1], id: v.id, pinned: v.pinned, data, ctx, repeat, json: v.json ?? false, target, sudo: !v['no-sudo'] };
}

/**
 * `bpf-lens test-run`: BPF_PROG_TEST_RUN on a program from an object (loaded for the run and
 * released after), a loaded program's id, or a pinned one; input from a file or a packet spec.
 */
export const testRunCommand: CommandRun = {
  async run(args: string[], io: CliIo): Promise<number> {
    const a = parse(args);
    if (a.target !== undefined) return testRunOnTarget(a as TestRunArgs & { obj: string; prog: string; target: string }, io);
    const kernel = await import('../kernel');
    const { testRunProgram } = await import('../run/test-run');
    const k = kernel.localKernel;
    const cleanup: (() => void)[] = [];
    try {
      let fd: number;
      let attachType: string | undefined;
      if (a.obj !== undefined) {
        const { openObject } = await import('../object');
        const { loadObject } = await import('../load');
        const { unpinLoad } = await import('../load/pin');
        const { secDefFor } = await import('../object/section-defs');
        const obj = openObject(readWithoutDwarf(a.obj), a.obj);
        const prog = obj.programs.find((p) => p.name === a.prog);
        if (!prog) throw new UsageError(`${a.obj} has no program '${a.prog}' (it has: ${obj.programs.map((p) => p.name).join(', ')})`);
        // Only PROG (and the maps) is loaded: the others may not load here and are not run.
        const loaded = loadObject(obj, { kernel: k, noAutoload: obj.programs.filter((p) => p !== prog).map((p) => p.name) });
        cleanup.push(() => {
          loaded.close();
          unpinLoad(k, loaded, { maps: true, programs: true }); // a test run leaves no pins behind
        });
        fd = loaded.programs.find((p) => p.name === a.prog)!.fd;
        attachType = secDefFor(prog.section)?.def.attachType ?? undefined;
      } else {
        fd = a.id !== undefined ? k.getFdById('prog', Number(a.id)) : k.objGet(a.pinned!);
        cleanup.push(() => k.closeFd(fd));
      }
      const r = testRunProgram(k, fd, { data: a.data, ctx: a.ctx, repeat: a.repeat, attachType });
      if (a.json) {
        const { prog_type: _t, repeat: _r, ...shown } = r;
        io.out(`${JSON.stringify(shown)}\n`);
      } else {
        io.out(testRunText(r, a.data));
      }
      return 0;
    } catch (e) {
      if (!a.json || e instanceof UsageError) throw e;
      io.out(`${JSON.stringify({ ok: false, error: (e as Error).message })}\n`);
      return 1;
    } finally {
      for (const c of cleanup.reverse()) c();
    }
  },
};

type TestRunArgs = ReturnType<typeof parse>;

/** `test-run OBJ PROG --target T`: PROG (and the maps) loaded there, run once or --repeat times through its agent, released. */
async function testRunOnTarget(a: TestRunArgs & { obj: string; prog: string; target: string }, io: CliIo): Promise<number> {
  const { formatLoadFailureText } = await import('../targets/format');
  const { requireLoad } = await import('../remote/agent-client');
  const { openObject } = await import('../object');
  const { secDefFor } = await import('../object/section-defs');
  const { retvalName } = await import('../run/retval');
  const bytes = readWithoutDwarf(a.obj);
  const obj = openObject(bytes, a.obj);
  const prog = obj.programs.find((p) => p.name === a.prog);
  if (!prog) throw new UsageError(`${a.obj} has no program '${a.prog}' (it has: ${obj.programs.map((p) => p.name).join(', ')})`);
  return onTarget(a, io, async (target) => {
    await requireLoad(target);
    const noAutoload = obj.programs.filter((p) => p !== prog).map((p) => p.name);
    const l = await target.load({ name: a.obj, object: bytes, noAutoload });
    if (!l.ok) {
      io.err(formatLoadFailureText(l.error));
      return 1;
    }
    const data = a.data ? Buffer.from(a.data).toString('base64') : undefined;
    const ctx = a.ctx ? Buffer.from(a.ctx).toString('base64') : undefined;
    const r = await target.testRun({
      handle: l.loaded.handle,
      program: a.prog,
      repeat: a.repeat,
      ...(data ? { data } : {}),
      ...(ctx ? { ctx } : {}),
    });
    const type = l.loaded.programs.find((p) => p.name === a.prog)?.type ?? '';
    const report: TestRunReport = {
      ok: true,
      retval: r.retval,
      retval_name: retvalName(type, r.retval, secDefFor(prog.section)?.def.attachType ?? undefined) ?? null,
      data_out: r.dataOut ? Buffer.from(r.dataOut, 'base64').toString('hex') : '',
      duration_ns: r.duration,
      ...(r.ctxOut ? { ctx_out: Buffer.from(r.ctxOut, 'base64').toString('hex') } : {}),
      prog_type: type,
      repeat: a.repeat,
    };
    if (a.json) {
      const { prog_type: _t, repeat: _r, ...shown } = report;
      io.out(`${JSON.stringify({ ...shown, target: a.target })}\n`);
    } else io.out(testRunText(report, a.data));
    return 0;
  });
}
