// Runs inside a qemu guest (see load-qemu.test.ts): loads objects with BPF Lens's pipeline into
// the guest's kernel and prints what happened as one JSON line on the console.
import { readFileSync } from 'fs';
import { execFileSync } from 'child_process';
import { closeFd, localKernel, progTestRun, mapLookupElem, probeFeature, rawTracepointOpen, systemInfo } from '../../server/src/kernel';
import { attachAll } from '../../server/src/attach';
import { loadObject } from '../../server/src/load';
import { LoadError, type LoadResult } from '../../server/src/load/types';
import { openObject } from '../../server/src/object';
import { writeGuestResult } from './guest-result';

const [fixtures, examples, kconfigFile] = process.argv.slice(2);
const open = (f: string) => openObject(new Uint8Array(readFileSync(f)), f);
const kconfig = readFileSync(kconfigFile, 'latin1');
const ccList = () => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'latin1').trim().split(/\s+/);

function attempt<T>(f: () => T): T | { error: string; log?: string } {
  try {
    return f();
  } catch (e) {
    if (e instanceof LoadError) return { error: e.message, log: e.details.log?.split('\n').slice(-12).join('\n') };
    return { error: String((e as Error).stack ?? e) };
  }
}

function rich(): unknown {
  const r = loadObject(open(`${fixtures}/loader_rich.o`), { kernel: localKernel, kconfig });
  try {
    const ret = progTestRun(r.programs.find((p) => p.name === 'rich_main')!.fd, { data: new Uint8Array(64) }).retval;
    const out = r.maps.find((m) => m.name === 'out')!;
    const vals = [0, 1, 2, 3, 4, 5].map((k) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(k);
      return Buffer.from(mapLookupElem(out.fd, key, 8)!)
        .readBigUInt64LE()
        .toString();
    });
    return { ret, vals };
  } finally {
    r.close();
  }
}

function bbr(): unknown {
  const r: LoadResult = loadObject(open(`${fixtures}/loader_bbr.o`), { kernel: localKernel, kconfig });
  let registered: boolean;
  try {
    // load registers nothing (as libbpf); attaching registers the map by updating its value
    const loadedOnly = ccList().includes('lens_bbr');
    const structOps = r.maps.flatMap((m) => (m.structOps ? [{ name: m.name, fd: m.fd, ...m.structOps }] : []));
    const s = attachAll(localKernel, r.programs, { structOps });
    try {
      registered = !loadedOnly && ccList().includes('lens_bbr');
    } finally {
      s.detach();
    }
  } finally {
    r.close();
  }
  return { programs: r.programs.map((p) => p.name), registered, afterClose: ccList().includes('lens_bbr') };
}

function argCtx(): unknown {
  const r = loadObject(open(`${fixtures}/argctx_shared.o`), { kernel: localKernel, kconfig });
  try {
    return { programs: r.programs.map((p) => [p.name, p.verifiedInsns > 0]) };
  } finally {
    r.close();
  }
}

function execTracer(): unknown {
  const r = loadObject(open(`${examples}/exec_tracer.bpf.o`), { kernel: localKernel, kconfig });
  try {
    return { programs: r.programs.map((p) => p.type), relos: r.coreReports.length, ok: r.coreReports.every((x) => x.status === 'ok') };
  } finally {
    r.close();
  }
}

/** fentry into the tcp_bbr module, attached; a loopback TCP connection with bbr makes it count. */
function fentryModule(): unknown {
  const r = loadObject(open(`${fixtures}/loader_fentry_mod.o`), { kernel: localKernel, kconfig });
  try {
    const link = rawTracepointOpen(r.programs[0].fd, undefined);
    try {
      execFileSync('python3', [
        '-c',
        [
          'import socket',
          's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)',
          'c = socket.socket(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bbr")',
          'c.connect(s.getsockname()); a, _ = s.accept(); c.sendall(b"x" * 1000); a.recv(1000)',
        ].join('\n'),
      ]);
    } finally {
      closeFd(link);
    }
    const bss = r.maps.find((m) => m.name === '.bss')!;
    const v = mapLookupElem(bss.fd, new Uint8Array(4), 8)!;
    return { programs: r.programs.map((p) => p.type), inits: Buffer.from(v).readBigUInt64LE().toString() };
  } finally {
    r.close();
  }
}

function main(): unknown {
  const started = process.hrtime.bigint();
  const out = {
    release: systemInfo().release,
    argCtxNative: probeFeature('arg_ctx_tag').supported,
    rich: attempt(rich),
    bbr: attempt(bbr),
    argCtx: attempt(argCtx),
    execTracer: attempt(execTracer),
    fentryModule: attempt(fentryModule),
  };
  return { ...out, loadMs: Number(process.hrtime.bigint() - started) / 1e6 };
}

writeGuestResult(main);
