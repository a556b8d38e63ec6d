// A BPF_MAP_TYPE_RINGBUF consumer as libbpf's ring_buffer: the consumer page mapped read-write,
// the producer page and the data area (mapped twice in a row by the kernel, so a record that
// wraps reads as one piece) read-only; each record's 8-byte header (length with the busy and
// discard bits, page offset) read with acquire ordering, records 8-byte aligned, and the
// consumer position stored back with release ordering so the kernel can reuse the space.
import { type KernelOps, PROT_READ, PROT_WRITE, type Fd, type Mapping } from '../kernel';

export type RingKernel = Pick<KernelOps, 'mmapFd' | 'pageSize' | 'mapInfo'>;

const BPF_RINGBUF_BUSY_BIT = 1 << 31;
const BPF_RINGBUF_DISCARD_BIT = 1 << 30;
const BPF_RINGBUF_HDR_SZ = 8;

/** One ring buffer map, read in place. */
export class RingBufConsumer {
  private consumer: Mapping | undefined;
  private producer: Mapping | undefined;
  private readonly consumerPos: BigUint64Array;
  private readonly producerPos: BigUint64Array;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly dataAt: number;
  private readonly mask: number;

  constructor(
    k: RingKernel,
    readonly fd: Fd,
    readonly name: string,
  ) {
    const info = k.mapInfo(fd);
    const size = info.maxEntries;
    const page = k.pageSize();
    if (size <= 0 || (size & (size - 1)) !== 0) throw new Error(`ring buffer ${name}: max_entries ${size} is not a power of 2`);
    this.consumer = k.mmapFd(fd, page, PROT_READ | PROT_WRITE, 0, `ring buffer ${name}: consumer page`);
    try {
      this.producer = k.mmapFd(fd, page + 2 * size, PROT_READ, page, `ring buffer ${name}: producer page and data`);
    } catch (e) {
      this.consumer.unmap();
      throw e;
    }
    this.consumerPos = new BigUint64Array(this.consumer.bytes, 0, 1);
    this.producerPos = new BigUint64Array(this.producer.bytes, 0, 1);
    this.words = new Int32Array(this.producer.bytes);
    this.bytes = new Uint8Array(this.producer.bytes);
    this.dataAt = page;
    this.mask = size - 1;
  }

  /**
   * Hands each committed record (a copy) to `onRecord`, at most `budget` of them; returns how
   * many it handed. Stops at a record still being written (busy), as libbpf does.
   */
  consume(onRecord: (data: Uint8Array) => void, budget = Infinity): number {
    if (!this.producer) return 0;
    let cons = Atomics.load(this.consumerPos, 0);
    let n = 0;
    for (;;) {
      const prod = Atomics.load(this.producerPos, 0);
      if (cons >= prod || n >= budget) break;
      let progressed = false;
      while (cons < prod && n < budget) {
        const off = this.dataAt + (Number(cons) & this.mask);
        const len = Atomics.load(this.words, off >> 2);
        if (len & BPF_RINGBUF_BUSY_BIT) break;
        const size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
          onRecord(this.bytes.slice(off + BPF_RINGBUF_HDR_SZ, off + BPF_RINGBUF_HDR_SZ + size));
          n++;
        }
        cons += BigInt((size + BPF_RINGBUF_HDR_SZ + 7) & ~7);
        Atomics.store(this.consumerPos, 0, cons);
        progressed = true;
      }
      if (!progressed) break;
    }
    return n;
  }

  /**
   * Records between the consumer and the producer that were not handed out (a record still
   * being written stops consume()): what closing the ring now loses. Read only, nothing consumed.
   */
  unread(): number {
    if (!this.producer) return 0;
    const prod = Atomics.load(this.producerPos, 0);
    let n = 0;
    for (let cons = Atomics.load(this.consumerPos, 0); cons < prod;) {
      const len = Atomics.load(this.words, (this.dataAt + (Number(cons) & this.mask)) >> 2);
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) n++;
      cons += BigInt(((len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ + 7) & ~7);
    }
    return n;
  }

  /** Bytes written and not consumed yet. */
  pending(): number {
    if (!this.producer) return 0;
    return Number(Atomics.load(this.producerPos, 0) - Atomics.load(this.consumerPos, 0));
  }

  /** Unmaps both regions (the map FD stays the caller's). */
  close(): void {
    const c = this.consumer;
    const p = this.producer;
    this.consumer = this.producer = undefined;
    p?.unmap();
    c?.unmap();
  }
}
