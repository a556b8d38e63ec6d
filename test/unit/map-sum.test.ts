// The map view's Sum of a per-CPU value: integers and structs of integer counters add up field
// by field (wrapping at each field's width); a value with a name, an enum, a pointer or a
// bitfield has no sum.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BtfBuilder } from '../../server/src/btf/write';
import { formatValueC } from '../../server/src/btf/value-text';
import { sumPerCpu } from '../../server/src/observe/map-sum';
import { SIGNED, maker } from '../btf-make';

function types() {
  const bb = new BtfBuilder(undefined, true);
  const b = maker(bb);
  const u64 = b.int('unsigned long long', 8);
  const s16 = b.int('short', 2, SIGNED);
  const u8 = b.int('unsigned char', 1);
  const char = b.int('char', 1, SIGNED);
  const u32 = b.int('unsigned int', 4);
  const counters = b.struct('counters', 16, [b.mem('packets', u64), b.mem('x', s16, 64), b.mem('y', u8, 80)]);
  const hist = b.array(u32, u32, 3);
  const named = b.struct('named', 16, [b.mem('n', u64), b.mem('comm', b.array(char, u32, 8), 64)]);
  const withEnum = b.struct('with_enum', 8, [b.mem('n', u32), b.mem('e', b.enum('color', 4, [['RED', 1]]), 32)]);
  const withPtr = b.struct('with_ptr', 8, [b.mem('p', b.ptr(u64))]);
  const bits = b.struct('bits', 4, [{ name: 'f', nameOff: 0, type: u32, bitsOffset: 0, bitfieldSize: 3 }], true);
  return { btf: bb.build(), u64, counters, hist, named, withEnum, withPtr, bits };
}

const bytes = (...v: number[]) => Uint8Array.from(v);
const u64le = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);

test('integers and structs of counters sum; each field wraps at its width', () => {
  const t = types();
  const s = sumPerCpu(t.btf, t.u64, 8, [u64le(5n), u64le(7n), u64le(0xffffffffffffffffn)]);
  assert.equal(formatValueC(t.btf, t.u64, s!), '11');
  const one = (p: number, x: number, y: number) => {
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(p), true);
    dv.setInt16(8, x, true);
    b[10] = y;
    return b;
  };
  const sum = sumPerCpu(t.btf, t.counters, 16, [one(1, -2, 200), one(2, -3, 100)]);
  assert.equal(formatValueC(t.btf, t.counters, sum!), '{ .packets = 3, .x = -5, .y = 44 }');
  const h = sumPerCpu(t.btf, t.hist, 12, [bytes(1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0), bytes(1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)]);
  assert.equal(formatValueC(t.btf, t.hist, h!), '{ 2, 3, 4 }');
});

test('a value with a char array, an enum, a pointer or a bitfield has no sum', () => {
  const t = types();
  for (const [name, id, size] of [
    ['named', t.named, 16],
    ['with_enum', t.withEnum, 8],
    ['with_ptr', t.withPtr, 8],
    ['bits', t.bits, 4],
  ] as const)
    assert.equal(sumPerCpu(t.btf, id, size, [new Uint8Array(size), new Uint8Array(size)]), undefined, name);
  assert.equal(sumPerCpu(t.btf, 0, 8, [new Uint8Array(8)]), undefined, 'no BTF type');
});
