// A BPF_MAP_TYPE_PERF_EVENT_ARRAY consumer as libbpf's perf_buffer: per CPU a
// PERF_COUNT_SW_BPF_OUTPUT event (PERF_SAMPLE_RAW, a wakeup per sample) whose FD goes into the
// map at that CPU's index, and its ring mapped as 1 + 2^n pages (the header page, then data).
// data_head is read with acquire ordering, data_tail stored back with release ordering once
// the records before it are read; records that run past the ring's end are put together.
import {
  CLOCK_REALTIME,
  KernelError,
  type KernelOps,
  PERF_COUNT_SW,
  PERF_SAMPLE_RAW,
  PERF_SAMPLE_TIME,
  PERF_TYPE,
  PROT_READ,
  PROT_WRITE,
  type Fd,
  type Mapping,
} from '../kernel';

export type PerfKernel = Pick<
  KernelOps,
  'mmapFd' | 'pageSize' | 'mapInfo' | 'mapUpdateElem' | 'perfEventOpen' | 'perfEventIoctl' | 'closeFd' | 'onlineCpus'
>;

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
/** struct perf_event_mmap_page: data_head and data_tail. */
const DATA_HEAD_AT = 1024;
const DATA_TAIL_AT = 1032;
const HEADER_SIZE = 8;

/** A sample's raw bytes, its CPU and, when the sample has one, the kernel's time (ms since the epoch). */
export type SampleFn = (data: Uint8Array, cpu: number, kernelTime?: number) => void;

/** One CPU's perf event and ring. */
class CpuRing {
  private readonly head: BigUint64Array;
  private readonly tail: BigUint64Array;
  private readonly data: Uint8Array;
  private readonly mask: number;

  constructor(
    readonly cpu: number,
    readonly fd: Fd,
    readonly mapping: Mapping,
    page: number,
    /** The samples start with PERF_SAMPLE_TIME's u64. */
    private readonly timed: boolean,
  ) {
    this.head = new BigUint64Array(mapping.bytes, DATA_HEAD_AT, 1);
    this.tail = new BigUint64Array(mapping.bytes, DATA_TAIL_AT, 1);
    this.data = new Uint8Array(mapping.bytes, page);
    this.mask = this.data.length - 1;
  }

  /** Copies `len` bytes at ring position `pos`, wrapping at the end. */
  private read(pos: number, len: number): Uint8Array {
    const at = pos & this.mask;
    if (at + len <= this.data.length) return this.data.slice(at, at + len);
    const out = new Uint8Array(len);
    const first = this.data.length - at;
    out.set(this.data.subarray(at), 0);
    out.set(this.data.subarray(0, len - first), first);
    return out;
  }

  consume(onSample: SampleFn, onLost: (n: number) => void, budget: number): number {
    const head = Atomics.load(this.head, 0);
    let tail = Atomics.load(this.tail, 0);
    let n = 0;
    while (tail < head && n < budget) {
      const pos = Number(tail);
      const hdr = this.read(pos, HEADER_SIZE);
      const hv = new DataView(hdr.buffer);
      const type = hv.getUint32(0, true);
      const size = hv.getUint16(6, true);
      if (size < HEADER_SIZE) break; // a broken ring: stop rather than loop
      if (type === PERF_RECORD_SAMPLE || type === PERF_RECORD_LOST) {
        const body = this.read(pos + HEADER_SIZE, size - HEADER_SIZE);
        const bv = new DataView(body.buffer);
        if (type === PERF_RECORD_SAMPLE) {
          const at = this.timed ? 8 : 0;
          // ns since the epoch: a double keeps it to a fraction of a microsecond
          const ms = this.timed ? Number(bv.getBigUint64(0, true)) / 1e6 : undefined;
          const rawSize = Math.min(bv.getUint32(at, true), body.length - at - 4);
          onSample(body.slice(at + 4, at + 4 + rawSize), this.cpu, ms);
          n++;
        } else onLost(Number(bv.getBigUint64(8, true)));
      }
      tail += BigInt(size);
      Atomics.store(this.tail, 0, tail);
    }
    return n;
  }
}

/** The perf event array's rings, one per online CPU (within the map's max_entries). */
export class PerfBufConsumer {
  private rings: CpuRing[] = [];
  lost = 0;
  /** Whether samples carry the kernel's time (false once the kernel refused the clock). */
  timed = true;

  /** `pageCount`: data pages per CPU (a power of 2; libbpf's default is 64 pages for bpftool, 8 here). */
  constructor(
    private readonly k: PerfKernel,
    readonly mapFd: Fd,
    readonly name: string,
    pageCount = 8,
  ) {
    if (pageCount <= 0 || (pageCount & (pageCount - 1)) !== 0)
      throw new Error(`perf buffer ${name}: ${pageCount} pages is not a power of 2`);
    const page = k.pageSize();
    const max = k.mapInfo(mapFd).maxEntries;
    try {
      for (const cpu of k.onlineCpus()) {
        if (cpu >= max) continue;
        this.rings.push(this.openCpu(cpu, page, pageCount));
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private openCpu(cpu: number, page: number, pageCount: number): CpuRing {
    const what = `perf buffer ${this.name}: CPU ${cpu}`;
    const spec = {
      type: PERF_TYPE.SOFTWARE,
      config: BigInt(PERF_COUNT_SW.BPF_OUTPUT),
      samplePeriod: 1n,
      sampleType: PERF_SAMPLE_RAW | PERF_SAMPLE_TIME,
      clockid: CLOCK_REALTIME,
      wakeupEvents: 1,
    };
    let timed = this.timed;
    let fd: Fd;
    try {
      fd = this.k.perfEventOpen(timed ? spec : { ...spec, sampleType: PERF_SAMPLE_RAW, clockid: undefined }, -1, cpu, what);
    } catch (e) {
      if (!timed || !(e instanceof KernelError) || e.errnoName !== 'EINVAL') throw e;
      // use_clockid is 4.1+; a kernel that refuses it (EINVAL) still gives the raw bytes
      fd = this.k.perfEventOpen({ ...spec, sampleType: PERF_SAMPLE_RAW, clockid: undefined }, -1, cpu, what);
      this.timed = timed = false;
    }
    let m: Mapping | undefined;
    try {
      m = this.k.mmapFd(fd, (1 + pageCount) * page, PROT_READ | PROT_WRITE, 0, what);
      const key = Buffer.alloc(4);
      key.writeUInt32LE(cpu);
      const value = Buffer.alloc(4);
      value.writeUInt32LE(fd);
      this.k.mapUpdateElem(this.mapFd, key, value);
      this.k.perfEventIoctl(fd, 'ENABLE', 0, what);
      return new CpuRing(cpu, fd, m, page, timed);
    } catch (e) {
      m?.unmap();
      this.k.closeFd(fd);
      throw e;
    }
  }

  /** The perf event FDs with their ring index, for epoll. */
  get fds(): readonly Fd[] {
    return this.rings.map((r) => r.fd);
  }

  /** Reads ring `i` (or every ring); returns how many samples it handed to `onSample`. */
  consume(onSample: SampleFn, budget = Infinity, only?: number): number {
    let n = 0;
    const onLost = (c: number) => (this.lost += c);
    this.rings.forEach((r, i) => {
      if (only === undefined || only === i) n += r.consume(onSample, onLost, budget - n);
    });
    return n;
  }

  /** Unmaps every ring and closes every perf event (the map's entries go with the FDs). */
  close(): void {
    const rings = this.rings;
    this.rings = [];
    for (const r of rings.reverse()) {
      r.mapping.unmap();
      this.k.closeFd(r.fd);
    }
  }
}
