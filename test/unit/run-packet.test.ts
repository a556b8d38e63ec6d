// The test-run packet builder (pure) and the verdict names: layers, defaults, lengths and
// checksums (a known IPv4 header checksum, and every checksum of built packets verifying to
// zero with its pseudo-header), hostile specs refused naming the layer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPacket, inetChecksum, ipv6Bytes, parsePacketSpec } from '../../server/src/run/packet';
import { retvalName } from '../../server/src/run/retval';
import { byteDiff } from '../../server/src/run/test-run';

const b = (spec: string) => Buffer.from(buildPacket(spec));

test('RFC 1071 checksum: the textbook IPv4 header sums to b861', () => {
  const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
  assert.equal(inetChecksum(h), 0xb861);
  h.writeUInt16BE(0xb861, 10);
  assert.equal(inetChecksum(h), 0);
});

test('eth/ipv4/tcp/payload: layout, lengths, checksums verify with the pseudo-header', () => {
  const p = b(
    'eth(src=aa:bb:cc:dd:ee:01,dst=aa:bb:cc:dd:ee:02)/ipv4(src=192.168.1.1,dst=192.168.1.2,ttl=9)/tcp(sport=1000,dport=23,flags=SA,seq=7)/payload(hello)',
  );
  assert.equal(p.length, 14 + 20 + 20 + 5);
  assert.equal(p.subarray(0, 12).toString('hex'), 'aabbccddee02aabbccddee01');
  assert.equal(p.readUInt16BE(12), 0x0800);
  const ip = p.subarray(14, 34);
  assert.equal(ip[0], 0x45);
  assert.equal(ip.readUInt16BE(2), 45);
  assert.equal(ip[8], 9);
  assert.equal(ip[9], 6);
  assert.equal(inetChecksum(ip), 0);
  const tcp = p.subarray(34);
  assert.equal(tcp.readUInt16BE(0), 1000);
  assert.equal(tcp.readUInt16BE(2), 23);
  assert.equal(tcp.readUInt32BE(4), 7);
  assert.equal(tcp[13], 0x12);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 6]), Buffer.from([0, tcp.length])]);
  assert.equal(inetChecksum(pseudo, tcp), 0);
  assert.equal(tcp.subarray(20).toString(), 'hello');
});

test('udp and icmp over ipv4, udp and icmp6 over ipv6, vlan; payload hex/len', () => {
  const u = b('eth/ipv4/udp(dport=9)/payload(hex=00ff)');
  assert.equal(u.readUInt16BE(14 + 20 + 4), 10);
  assert.equal(inetChecksum(Buffer.concat([u.subarray(26, 34), Buffer.from([0, 17, 0, 10])]), u.subarray(34)), 0);
  const i = b('eth/ipv4/icmp(id=7,seq=3)/payload(len=8)');
  assert.equal(i[34], 8);
  assert.equal(i.length, 14 + 20 + 8 + 8);
  assert.equal(inetChecksum(i.subarray(34)), 0);
  const v6 = b('eth/ipv6(src=2001:db8::1,dst=2001:db8::2)/udp(sport=5,dport=6)/payload(abc)');
  assert.equal(v6.readUInt16BE(12), 0x86dd);
  assert.equal(v6.readUInt16BE(18), 11);
  assert.equal(v6[20], 17);
  const pseudo6 = Buffer.concat([v6.subarray(22, 54), Buffer.from([0, 0, 0, 11, 0, 0, 0, 17])]);
  assert.equal(inetChecksum(pseudo6, v6.subarray(54)), 0);
  const e6 = b('eth/ipv6/icmp6');
  assert.equal(e6[54], 128);
  assert.equal(inetChecksum(Buffer.concat([e6.subarray(22, 54), Buffer.from([0, 0, 0, 8, 0, 0, 0, 58])]), e6.subarray(54)), 0);
  const vl = b('eth/vlan(id=100)/ipv4/udp');
  assert.equal(vl.readUInt16BE(12), 0x8100);
  assert.equal(vl.readUInt16BE(14), 100);
  assert.equal(vl.readUInt16BE(16), 0x0800);
  assert.equal(ipv6Bytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipv6Bytes('fe80::').toString('hex'), 'fe800000000000000000000000000000');
});

test('hostile specs: errors name the layer and field', () => {
  const bad = (spec: string, re: RegExp) => assert.throws(() => buildPacket(spec), re, spec);
  bad('', /empty/);
  bad('eth/ipx', /unknown layer 'ipx'/);
  bad('tcp/ipv4', /'ipv4' cannot follow 'tcp'/);
  bad('eth/ipv4(src=1.2.3)', /ipv4: src: '1.2.3' is not an IPv4 address/);
  bad('eth/ipv6(dst=1::2::3)', /not an IPv6 address/);
  bad('eth(src=zz)', /not a MAC address/);
  bad('eth/ipv4/tcp(dport=70000)', /dport=70000 is not an integer 0..65535/);
  bad('eth/ipv4/tcp(flags=Q)', /flag 'Q'/);
  bad('eth/ipv4/icmp6', /icmp6 does not go over ipv4/);
  bad('eth/tcp', /needs an ipv4 or ipv6 layer/);
  bad('eth/ipv4/udp/payload(hex=abc)', /even number of hex digits/);
  bad('eth(dst)', /not key=value/);
  bad('eth(((', /not name or name\(key=value/);
  assert.equal(parsePacketSpec('eth/ipv4').length, 2);
});

test('verdict names by program type', () => {
  assert.equal(retvalName('xdp', 1), 'XDP_DROP');
  assert.equal(retvalName('xdp', 9), undefined);
  assert.equal(retvalName('sched_cls', 2), 'TC_ACT_SHOT');
  assert.equal(retvalName('sched_cls', 0xffffffff), 'TC_ACT_UNSPEC');
  assert.equal(retvalName('sched_cls', 0xffffffff, 'tcx_ingress'), 'TCX_NEXT');
  assert.equal(retvalName('sched_cls', 2, 'tcx_egress'), 'TCX_DROP');
  assert.equal(retvalName('socket_filter', 0), 'drop');
  assert.equal(retvalName('socket_filter', 42), 'keep 42 bytes');
  assert.equal(retvalName('sk_lookup', 1), 'SK_PASS');
  assert.equal(retvalName('flow_dissector', 0), 'BPF_OK');
  assert.equal(retvalName('cgroup_skb', 1), 'allow');
  assert.equal(retvalName('tracing', 0), undefined);
});

test('byte diff: changed runs and a grown/shrunk tail', () => {
  const d = byteDiff(Buffer.from('00112233', 'hex'), Buffer.from('0011ff3344', 'hex'));
  assert.deepEqual(d, [
    { offset: 2, before: '22', after: 'ff' },
    { offset: 4, before: '', after: '44' },
  ]);
  assert.deepEqual(byteDiff(Buffer.from('0011', 'hex'), Buffer.from('0011', 'hex')), []);
});
