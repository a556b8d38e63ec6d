/**
 * Test packets from a short spec, for BPF_PROG_TEST_RUN: layers separated by `/`, each
 * `name(key=value,...)` with the parentheses optional:
 *
 *   eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02)/ipv4(src=10.0.0.1,dst=10.0.0.2,ttl=64)/tcp(sport=1234,dport=80,flags=S)/payload(hello)
 *   eth/ipv6(dst=fd00::2)/udp(dport=53)/payload(hex=deadbeef)
 *   eth/ipv4/icmp(type=8,id=1,seq=1)/payload(len=32)
 *
 * Lengths, EtherTypes, protocol numbers and checksums (IPv4 header, TCP/UDP/ICMPv6 with the
 * pseudo-header, ICMP) are filled in. Pure: text in, bytes out; bad specs throw naming the layer.
 */

type Fields = Map<string, string>;

interface Layer {
  readonly name: string;
  readonly fields: Fields;
}

const LAYERS = ['eth', 'vlan', 'ipv4', 'ipv6', 'tcp', 'udp', 'icmp', 'icmp6', 'payload'] as const;
type LayerName = (typeof LAYERS)[number];

/** Splits on `/` outside parentheses. */
function splitLayers(spec: string): string[] {
  const out: string[] = [];
  let depth = 0,
    start = 0;
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === '(') depth++;
    else if (spec[i] === ')') depth--;
    else if (spec[i] === '/' && depth === 0) {
      out.push(spec.slice(start, i));
      start = i + 1;
    }
  }
  out.push(spec.slice(start));
  return out.map((s) => s.trim());
}

function parseLayer(text: string): Layer {
  const m = /^([a-z0-9]+)(?:\((.*)\))?$/s.exec(text);
  if (!m) throw new Error(`packet spec: '${text}' is not name or name(key=value,...)`);
  const name = m[1];
  if (!(LAYERS as readonly string[]).includes(name)) throw new Error(`packet spec: unknown layer '${name}' (known: ${LAYERS.join(', ')})`);
  const fields: Fields = new Map();
  const body = m[2] ?? '';
  if (name === 'payload' && body && !/^(hex|len|text)=/.test(body)) {
    fields.set('text', body);
  } else if (body) {
    for (const part of body.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new Error(`packet spec: ${name}: '${part}' is not key=value`);
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
  }
  return { name, fields };
}

/** Parses a spec into layers (checked for order: link, network, transport, payload). */
export function parsePacketSpec(spec: string): Layer[] {
  if (!spec.trim()) throw new Error('packet spec is empty');
  const layers = splitLayers(spec).map(parseLayer);
  const rank = (n: string) =>
    (({ eth: 0, vlan: 1, ipv4: 2, ipv6: 2, tcp: 3, udp: 3, icmp: 3, icmp6: 3, payload: 4 }) as Record<string, number>)[n];
  for (let i = 1; i < layers.length; i++) {
    if (rank(layers[i].name) <= rank(layers[i - 1].name) && !(layers[i].name === 'vlan' && layers[i - 1].name === 'vlan')) {
      throw new Error(`packet spec: '${layers[i].name}' cannot follow '${layers[i - 1].name}'`);
    }
  }
  return layers;
}

// ---- field values ----

function num(l: Layer, key: string, dflt: number, max: number): number {
  const v = l.fields.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`packet spec: ${l.name}: ${key}=${v} is not an integer 0..${max}`);
  return n;
}

function mac(l: Layer, key: string, dflt: string): Buffer {
  const v = l.fields.get(key) ?? dflt;
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v)) throw new Error(`packet spec: ${l.name}: ${key}=${v} is not a MAC address`);
  return Buffer.from(v.split(':').map((x) => parseInt(x, 16)));
}

export function ipv4Bytes(v: string): Buffer {
  const parts = v.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`'${v}' is not an IPv4 address`);
  return Buffer.from(parts.map(Number));
}

export function ipv6Bytes(v: string): Buffer {
  const bad = () => new Error(`'${v}' is not an IPv6 address`);
  const halves = v.split('::');
  if (halves.length > 2) throw bad();
  const groups = (s: string) => (s ? s.split(':') : []);
  const head = groups(halves[0]),
    tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) throw bad();
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  return out;
}

function addr(l: Layer, key: string, dflt: string, parse: (v: string) => Buffer): Buffer {
  try {
    return parse(l.fields.get(key) ?? dflt);
  } catch (e) {
    throw new Error(`packet spec: ${l.name}: ${key}: ${(e as Error).message}`, { cause: e });
  }
}

// ---- checksums ----

/** The Internet checksum (RFC 1071) of some byte strings, as one. */
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  const all = Buffer.concat(parts);
  for (let i = 0; i < all.length; i += 2) sum += (all[i] << 8) | (i + 1 < all.length ? all[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeader(net: Layer | undefined, src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  if (net?.name === 'ipv6') {
    const b = Buffer.alloc(40);
    src.copy(b, 0);
    dst.copy(b, 16);
    b.writeUInt32BE(len, 32);
    b[39] = proto;
    return b;
  }
  const b = Buffer.alloc(12);
  src.copy(b, 0);
  dst.copy(b, 4);
  b[9] = proto;
  b.writeUInt16BE(len, 10);
  return b;
}

// ---- building, inside out ----

const TCP_FLAGS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80 };
const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmp6: 58 };

function payloadBytes(l: Layer): Buffer {
  const hex = l.fields.get('hex');
  if (hex !== undefined) {
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`packet spec: payload: hex=${hex} is not an even number of hex digits`);
    return Buffer.from(hex, 'hex');
  }
  const len = l.fields.get('len');
  if (len !== undefined) return Buffer.alloc(num(l, 'len', 0, 65000));
  return Buffer.from(l.fields.get('text') ?? '', 'utf8');
}

function transport(l: Layer, inner: Buffer, net: Layer | undefined, src: Buffer, dst: Buffer): Buffer {
  let h: Buffer;
  if (l.name === 'tcp') {
    h = Buffer.alloc(20);
    h.writeUInt16BE(num(l, 'sport', 12345, 0xffff), 0);
    h.writeUInt16BE(num(l, 'dport', 80, 0xffff), 2);
    h.writeUInt32BE(num(l, 'seq', 0, 0xffffffff), 4);
    h.writeUInt32BE(num(l, 'ack', 0, 0xffffffff), 8);
    h[12] = 5 << 4;
    let flags = 0;
    for (const c of l.fields.get('flags') ?? 'S') {
      if (!(c in TCP_FLAGS)) throw new Error(`packet spec: tcp: flag '${c}' is not one of ${Object.keys(TCP_FLAGS).join('')}`);
      flags |= TCP_FLAGS[c];
    }
    h[13] = flags;
    h.writeUInt16BE(num(l, 'window', 65535, 0xffff), 14);
  } else if (l.name === 'udp') {
    h = Buffer.alloc(8);
    h.writeUInt16BE(num(l, 'sport', 12345, 0xffff), 0);
    h.writeUInt16BE(num(l, 'dport', 53, 0xffff), 2);
    h.writeUInt16BE(8 + inner.length, 4);
  } else {
    const v6 = l.name === 'icmp6';
    h = Buffer.alloc(8);
    h[0] = num(l, 'type', v6 ? 128 : 8, 255);
    h[1] = num(l, 'code', 0, 255);
    h.writeUInt16BE(num(l, 'id', 0, 0xffff), 4);
    h.writeUInt16BE(num(l, 'seq', 0, 0xffff), 6);
  }
  const seg = Buffer.concat([h, inner]);
  const csumAt = l.name === 'tcp' ? 16 : l.name === 'udp' ? 6 : 2;
  const pseudo = l.name === 'icmp' ? [] : [pseudoHeader(net, src, dst, PROTO[l.name], seg.length)];
  if (l.name !== 'icmp' && !net)
    throw new Error(`packet spec: ${l.name} needs an ipv4 or ipv6 layer before it (its checksum covers the addresses)`);
  let c = inetChecksum(...pseudo, seg);
  if (l.name === 'udp' && c === 0) c = 0xffff;
  seg.writeUInt16BE(c, csumAt);
  return seg;
}

function network(l: Layer, inner: Buffer, proto: number): Buffer {
  if (l.name === 'ipv4') {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h[1] = num(l, 'tos', 0, 255);
    h.writeUInt16BE(20 + inner.length, 2);
    h.writeUInt16BE(num(l, 'id', 1, 0xffff), 4);
    h.writeUInt16BE(l.fields.get('df') === '1' ? 0x4000 : 0, 6);
    h[8] = num(l, 'ttl', 64, 255);
    h[9] = num(l, 'proto', proto, 255);
    addr(l, 'src', '10.0.0.1', ipv4Bytes).copy(h, 12);
    addr(l, 'dst', '10.0.0.2', ipv4Bytes).copy(h, 16);
    h.writeUInt16BE(inetChecksum(h), 10);
    return Buffer.concat([h, inner]);
  }
  const h = Buffer.alloc(40);
  h.writeUInt32BE((6 << 28) | (num(l, 'tc', 0, 255) << 20) | num(l, 'flow', 0, 0xfffff), 0);
  h.writeUInt16BE(inner.length, 4);
  h[6] = num(l, 'nh', proto, 255);
  h[7] = num(l, 'hlim', 64, 255);
  addr(l, 'src', 'fd00::1', ipv6Bytes).copy(h, 8);
  addr(l, 'dst', 'fd00::2', ipv6Bytes).copy(h, 24);
  return Buffer.concat([h, inner]);
}

function netAddrs(l: Layer | undefined): [Buffer, Buffer] {
  if (!l) return [Buffer.alloc(0), Buffer.alloc(0)];
  return l.name === 'ipv4'
    ? [addr(l, 'src', '10.0.0.1', ipv4Bytes), addr(l, 'dst', '10.0.0.2', ipv4Bytes)]
    : [addr(l, 'src', 'fd00::1', ipv6Bytes), addr(l, 'dst', 'fd00::2', ipv6Bytes)];
}

const ETHERTYPE: Record<string, number> = { ipv4: 0x0800, ipv6: 0x86dd, vlan: 0x8100 };

/** Builds the packet a spec describes. */
export function buildPacket(spec: string): Uint8Array {
  const layers = parsePacketSpec(spec);
  const net = layers.find((l) => l.name === 'ipv4' || l.name === 'ipv6');
  const [src, dst] = netAddrs(net);
  const icmp = layers.find((l) => l.name === 'icmp' || l.name === 'icmp6');
  if (icmp && net && (icmp.name === 'icmp6') !== (net.name === 'ipv6'))
    throw new Error(`packet spec: ${icmp.name} does not go over ${net.name} (icmp over ipv4, icmp6 over ipv6)`);
  let bytes: Buffer = Buffer.alloc(0);
  let nextName: string | undefined;
  for (const l of [...layers].reverse()) {
    const name = l.name as LayerName;
    if (name === 'payload') bytes = Buffer.concat([payloadBytes(l), bytes]);
    else if (name === 'tcp' || name === 'udp' || name === 'icmp' || name === 'icmp6') bytes = transport(l, bytes, net, src, dst);
    else if (name === 'ipv4' || name === 'ipv6') bytes = network(l, bytes, nextName ? (PROTO[nextName] ?? 59) : 59);
    else if (name === 'vlan') {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(num(l, 'id', 1, 4095) | (num(l, 'prio', 0, 7) << 13), 0);
      h.writeUInt16BE(nextName ? (ETHERTYPE[nextName] ?? 0x88b5) : 0x88b5, 2);
      bytes = Buffer.concat([h, bytes]);
    } else {
      const h = Buffer.alloc(14);
      mac(l, 'dst', '02:00:00:00:00:02').copy(h, 0);
      mac(l, 'src', '02:00:00:00:00:01').copy(h, 6);
      h.writeUInt16BE(num(l, 'type', nextName ? (ETHERTYPE[nextName] ?? 0x88b5) : 0x88b5, 0xffff), 12);
      bytes = Buffer.concat([h, bytes]);
    }
    if (name !== 'payload') nextName = name;
  }
  return new Uint8Array(bytes);
}
