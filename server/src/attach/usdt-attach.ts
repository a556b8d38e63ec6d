/**
 * Attaching a usdt program as libbpf's usdt_manager_attach_usdt does: find PROVIDER:NAME's
 * sites in the binary, give each distinct argument spec an id in the object's
 * `__bpf_usdt_specs` map and write the spec there, and put a uprobe on every site (with the
 * semaphore as its reference counter) whose BPF cookie is the spec id — or, on kernels without
 * bpf_get_attach_cookie(), map the site's IP to the id in `__bpf_usdt_ip_to_spec_id`, which is
 * what usdt.bpf.h reads then. Undo: the uprobes, the IP entries, the spec ids given back.
 */
import { existsSync, readFileSync } from 'fs';
import { isKernelError, type Fd } from '../kernel';
import type { ExecuteContext, Mechanism } from './execute';
import type { AttachPlan } from './plan';
import { resolveBinary } from './uprobe';
import { usdtProbe } from './usdt-notes';
import { UsdtSpecIds, encodeUsdtSpec, usdtSpecLayout } from './usdt-spec';

export const USDT_SPECS_MAP = '__bpf_usdt_specs';
export const USDT_IP_MAP = '__bpf_usdt_ip_to_spec_id';
const BPF_NOEXIST = 1;

/** What the executor lends: undo registration, and a uprobe at a file offset running the program. */
export interface UsdtSteps {
  add(undo: () => void): void;
  uprobe(site: { path: string; offset: bigint; refCtrOffset: bigint; cookie: bigint; pid: number }): Mechanism;
}

function intBytes(v: bigint, size: number, le: boolean): Uint8Array {
  const b = Buffer.alloc(size);
  if (size === 4) {
    if (le) b.writeUInt32LE(Number(v));
    else b.writeUInt32BE(Number(v));
  } else if (le) b.writeBigUInt64LE(BigInt.asUintN(64, v));
  else b.writeBigUInt64BE(BigInt.asUintN(64, v));
  return b;
}

export function usdtAttach(cx: ExecuteContext, plan: Extract<AttachPlan, { kind: 'usdt' }>, what: string, steps: UsdtSteps): Mechanism {
  const k = cx.kernel;
  const path = resolveBinary(plan.binary, cx.exists ?? existsSync, cx.env ?? process.env);
  const probe = usdtProbe((cx.readFile ?? readFileSync)(path), path, plan.provider, plan.name);
  const specsFd = cx.mapFd?.(USDT_SPECS_MAP);
  if (specsFd === undefined)
    throw new Error(`${what}: the object has no ${USDT_SPECS_MAP} map (a usdt program reads its arguments through <bpf/usdt.bpf.h>)`);
  const info = k.mapInfo(specsFd);
  const le = cx.btf?.littleEndian ?? true;
  const layout = usdtSpecLayout(cx.btf, info.valueSize);
  const cookies = k.probeFeature('bpf_cookie').supported;
  let ipFd: Fd | undefined;
  if (!cookies) {
    // Without cookies the program finds its spec by IP: only fixed addresses (ET_EXEC) are known in advance.
    if (probe.sharedObject)
      throw new Error(
        `${what}: this kernel has no BPF cookies (Linux 5.15+) and ${path} is position-independent: its probe addresses differ per process`,
      );
    ipFd = cx.mapFd?.(USDT_IP_MAP);
    if (ipFd === undefined) throw new Error(`${what}: the object has no ${USDT_IP_MAP} map, which this kernel (no BPF cookies) needs`);
  }
  const ids = cx.usdtIds ?? new UsdtSpecIds();
  const taken: number[] = [];
  steps.add(() => ids.give(taken.splice(0)));
  // Sites with the same argument spec share one spec id (libbpf does the same within one attach).
  const bySpec = new Map<string, number>();
  let mechanism: Mechanism = 'perf_event link';
  for (const site of probe.sites) {
    let id = bySpec.get(site.argsText);
    if (id === undefined) {
      id = ids.take(info.maxEntries);
      taken.push(id);
      bySpec.set(site.argsText, id);
      k.mapUpdateElem(specsFd, intBytes(BigInt(id), 4, le), encodeUsdtSpec(layout, site.args, 0n, le));
    }
    if (ipFd !== undefined) {
      const key = intBytes(site.absIp, 8, le);
      try {
        k.mapUpdateElem(ipFd, key, intBytes(BigInt(id), 4, le), BPF_NOEXIST);
      } catch (e) {
        if (isKernelError(e, 'EEXIST'))
          throw new Error(`${what}: IP 0x${site.absIp.toString(16)} is already mapped to a spec (another attachment of this object)`, {
            cause: e,
          });
        throw e;
      }
      const fd = ipFd;
      steps.add(() => void k.mapDeleteElem(fd, key));
    }
    mechanism = steps.uprobe({
      path,
      offset: site.fileOffset,
      refCtrOffset: site.semaOffset,
      cookie: cookies ? BigInt(id) : 0n,
      pid: plan.pid ?? -1,
    });
  }
  return mechanism;
}
