// Runs inside a qemu guest (see lsm-qemu.test.ts; this host's kernel refuses LSM programs):
// loads lsm_mprotect.o through the product's pipeline with target_tgid set to this process,
// attaches its lsm/file_mprotect program (BPF_LINK_CREATE with BPF_LSM_MAC, then
// BPF_RAW_TRACEPOINT_OPEN with no name) and asks libc's mprotect() to make the page holding
// this process's main stack start executable: refused while attached, allowed after each
// detach. A child process does the same while attached (not its tgid: allowed). Prints the
// steps and the denial counter as one JSON line.
// With `--child`, only does the mprotect on its own stack and prints the result.
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { errnoName } from '../../server/src/kernel/errors';
import { writeGuestResult } from './guest-result';
import type * as KernelModule from '../../server/src/kernel';
import type * as LoadModule from '../../server/src/load';
import type * as ObjectModule from '../../server/src/object';

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const PAGE = 4096;

// koffi's declarations are untyped function objects.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const koffi = require('koffi');
const mprotectFn = koffi.load('libc.so.6').func('int mprotect(uintptr_t addr, size_t len, int prot)');

/** The page holding this process's main stack start (/proc/self/stat field 28, startstack). */
function stackPage(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // comm (field 2) may hold spaces and parentheses; fields after its ')' start at 3
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startStack = Number(rest[28 - 3]);
  return startStack - (startStack % PAGE);
}

/** mprotect(page, PAGE, prot): 'ok', or the errno's name. */
function mprotect(page: number, prot: number): string {
  const r = mprotectFn(page, PAGE, prot) as number;
  return r === 0 ? 'ok' : errnoName(koffi.errno() as number);
}

const ms = (seconds: number) => Math.round(seconds * 1000);
const RWX = PROT_READ | PROT_WRITE | PROT_EXEC;
const RW = PROT_READ | PROT_WRITE;

function child(): unknown {
  const page = stackPage();
  const exec = mprotect(page, RWX);
  return { pid: process.pid, exec, restore: mprotect(page, RW) };
}

function main(): unknown {
  // The pipeline is required here, not imported at the top: the child (a second node under
  // TCG) starts in a third of the time without it.
  const t0 = process.uptime();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { BPF_ATTACH_TYPE, closeFd, linkCreate, linkInfo, localKernel, mapLookupElem, rawTracepointOpen } =
    require('../../server/src/kernel') as typeof KernelModule;
  const { loadObject } = require('../../server/src/load') as typeof LoadModule;
  const { openObject } = require('../../server/src/object') as typeof ObjectModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const t1 = process.uptime();
  const [file] = process.argv.slice(2);
  const page = stackPage();
  const steps: { step: string; result: unknown }[] = [];
  const step = (s: string, result: unknown) => steps.push({ step: s, result });
  const obj = openObject(readFileSync(file), file);
  const t2 = process.uptime();
  const started = process.hrtime.bigint();
  const r = loadObject(obj, { kernel: localKernel, set: { target_tgid: String(process.pid) } });
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
  let childMs: number | undefined;
  try {
    const prog = r.programs.find((p) => p.name === 'deny_exec_main_stack')!;
    const denials = r.maps.find((m) => m.name === 'denials')!;
    const counter = () =>
      Buffer.from(mapLookupElem(denials.fd, new Uint8Array(4), 8)!)
        .readBigUInt64LE(0)
        .toString();
    step('before attach: RWX', mprotect(page, RWX));
    step('before attach: RW', mprotect(page, RW));

    const link = linkCreate({ prog_fd: prog.fd, attach_type: BPF_ATTACH_TYPE.BPF_LSM_MAC }, 'lsm link');
    const viaLinkCreate = linkInfo(link);
    try {
      step('LINK_CREATE: RWX', mprotect(page, RWX));
      step('LINK_CREATE: RW', mprotect(page, RW));
      const childStarted = process.hrtime.bigint();
      const c = spawnSync(process.execPath, [__filename, '--child'], { encoding: 'utf8' });
      childMs = Number(process.hrtime.bigint() - childStarted) / 1e6;
      const m = /@@CHILD (.*)$/m.exec(c.stdout);
      step('LINK_CREATE: child process RWX', m ? JSON.parse(m[1]) : { status: c.status, stderr: c.stderr });
      step('LINK_CREATE: RWX again', mprotect(page, RWX));
    } finally {
      closeFd(link);
    }
    step('link closed: RWX', mprotect(page, RWX));
    step('link closed: RW', mprotect(page, RW));

    const rawTp = rawTracepointOpen(prog.fd, undefined);
    const viaRawTp = linkInfo(rawTp);
    try {
      step('RAW_TRACEPOINT_OPEN: RWX', mprotect(page, RWX));
    } finally {
      closeFd(rawTp);
    }
    step('raw_tp link closed: RWX', mprotect(page, RWX));
    step('raw_tp link closed: RW', mprotect(page, RW));
    return {
      pid: process.pid,
      page: page.toString(16),
      // where the guest's time goes (node under TCG is slow to start and to require)
      ms: {
        nodeStart: ms(t0),
        require: ms(t1 - t0),
        open: ms(t2 - t1),
        load: Math.round(loadMs),
        child: Math.round(childMs ?? 0),
        total: ms(process.uptime()),
      },
      program: { name: prog.name, type: prog.type, section: prog.section },
      links: {
        linkCreate: { type: viaLinkCreate.type, progId: viaLinkCreate.progId },
        rawTp: { type: viaRawTp.type, progId: viaRawTp.progId },
        progId: prog.id,
      },
      steps,
      denials: counter(),
    };
  } finally {
    r.close();
  }
}

if (process.argv[2] === '--child') {
  process.stdout.write(`@@CHILD ${JSON.stringify(child())}\n`);
} else {
  writeGuestResult(main);
}
