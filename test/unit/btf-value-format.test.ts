// BTF values as bpftool prints them (JSON and plain text), the C-like text and its parser,
// on the observe_maps fixture's BTF. The expected texts were printed by Debian's bpftool v7.1
// (`bpftool -j map lookup` / `bpftool map lookup`) for the same bytes; test/kernel/map-dump.test.ts
// compares whole dumps with the installed bpftool on the live kernel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Btf } from '../../server/src/btf/btf';
import { JsonWriter } from '../../server/src/btf/json-writer';
import { ValueFormatError, formatValueJson, writeValue } from '../../server/src/btf/value-format';
import { ValueParseError, parseValueText } from '../../server/src/btf/value-parse';
import { formatValueC } from '../../server/src/btf/value-text';
import { type TypeId } from '../../server/src/btf/types';
import { loadBtf } from '../../server/src/cli/input';
import { fixture } from '../helpers';

const VALUE_HEX =
  '39 30 00 00 00 00 00 80 d6 ff ff ff 02 00 00 00 4d 00 00 00 00 00 00 00 cb ab 19 68 69 20 22 78 5c 20 79 00 00 00 00 01 ' +
  '02 7f 80 00 fe ff c8 00 04 03 02 01 07 00 ff ff fe 01 00 00 00 00 00 00 78 56 34 12 88 88 ff ff 41 00 00 00 00 00 00 00';
const VALUE = Uint8Array.from(VALUE_HEX.split(' ').map((h) => parseInt(h, 16)));

const BPFTOOL_JSON =
  '{"big":9223372036854788153,"neg":-42,"color":"GREEN","wide":77,"flag":"0x1","mode":"0x5","level":"0xabc","sfield":"0x19",' +
  '"name":"hi \\"x\\n y","raw":[1,2,127,128],"pt":{"x":-2,"y":200},"u":{"as_u32":16909060,"bytes":[4,3,2,1]},' +
  '"":{"anon_a":7,"anon_b":65535},"cv":-2,"ok":true,"ptr":18446612716735190648,"c":65}';

const BPFTOOL_PLAIN = `{
    "big": 9223372036854788153,
    "neg": -42,
    "color": "GREEN",
    "wide": 77,
    "flag": 0x1,
    "mode": 0x5,
    "level": 0xabc,
    "sfield": 0x19,
    "name": "hi \\"x\\n y",
    "raw": [1,2,127,128
    ],
    "pt": {
        "x": -2,
        "y": 200
    },
    "u": {
        "as_u32": 16909060,
        "bytes": [4,3,2,1
        ]
    },
    "": {
        "anon_a": 7,
        "anon_b": 65535
    },
    "cv": -2,
    "ok": true,
    "ptr": 0xffff888812345678,
    "c": 65
}`;

let cached: Btf | undefined;
function btf(): Btf {
  return (cached ??= loadBtf(fixture('observe_maps.o')));
}
function id(kind: 'STRUCT' | 'TYPEDEF' | 'ENUM' | 'INT' | 'DATASEC', name: string): TypeId {
  const t = btf().find(kind, name);
  assert.ok(t, `${kind} ${name} in the fixture`);
  return t.id;
}

test('a struct value prints as bpftool -j prints its formatted value', () => {
  assert.equal(formatValueJson(btf(), id('STRUCT', 'value'), VALUE), BPFTOOL_JSON);
});

test('the plain form is bpftool map lookup text', () => {
  assert.equal(formatValueJson(btf(), id('STRUCT', 'value'), VALUE, { plain: true, pretty: true }), BPFTOOL_PLAIN);
});

test('zero pointer and unmatched enums as bpftool prints them', () => {
  const zero = new Uint8Array(80);
  zero[12] = 0xf9; // color = -7: no name
  zero[13] = zero[14] = zero[15] = 0xff;
  const text = formatValueJson(btf(), id('STRUCT', 'value'), zero, { plain: true });
  assert.match(text, /"color": ?-7,/);
  assert.match(text, /"ptr": ?\(nil\)/);
  assert.match(formatValueJson(btf(), id('STRUCT', 'value'), zero), /"ptr":0,/);
  // enum64 HUGE and BLUE (-3) by name
  const named = new Uint8Array(80);
  named.set([0xfd, 0xff, 0xff, 0xff], 12);
  named.set([0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 16);
  assert.match(formatValueJson(btf(), id('STRUCT', 'value'), named), /"color":"BLUE","wide":"HUGE"/);
});

test('u64 above 2^53 and s64 minimum are exact', () => {
  const u = new Uint8Array([0x01, 0, 0, 0, 0, 0, 0x20, 0]); // 2^53 + 1
  assert.equal(formatValueJson(btf(), id('TYPEDEF', 'counter_t'), u), '9007199254740993');
  const s = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80]);
  assert.equal(formatValueJson(btf(), id('TYPEDEF', '__s64'), s), '-9223372036854775808');
});

test('a char array with bytes past its NUL or without a NUL prints as numbers', () => {
  const v = VALUE.slice();
  v.set([0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c], 27); // no NUL in name[12]
  assert.match(formatValueJson(btf(), id('STRUCT', 'value'), v), /"name":\[65,66,67,68,69,70,71,72,73,74,75,76\]/);
});

test('a DATASEC value prints as {section: [{var: value}]}', () => {
  const sec = id('DATASEC', '.rodata');
  assert.equal(formatValueJson(btf(), sec, new Uint8Array([7, 0, 0, 0])), '{".rodata":[{"ro_limit":7}]}');
});

test('truncated bytes give a clear error, never a crash', () => {
  for (let n = 0; n < 80; n += 7) {
    assert.throws(
      () => formatValueJson(btf(), id('STRUCT', 'value'), VALUE.subarray(0, n)),
      (e: unknown) => e instanceof ValueFormatError && /needs 80 bytes, got/.test(e.message),
    );
  }
});

test('kinds bpftool cannot dump print as bpftool prints them and report failure', () => {
  const w = new JsonWriter();
  const fn = btf().types.find((t) => t.kind === 'FUNC');
  assert.ok(fn);
  assert.equal(writeValue(btf(), fn.id, new Uint8Array(8), w), false);
  assert.equal(w.text(), '(unsupported-kind)');
});

test('the C-like text reads back to the same bytes', () => {
  const ty = id('STRUCT', 'value');
  const c = formatValueC(btf(), ty, VALUE);
  assert.equal(
    c,
    '{ .big = 9223372036854788153, .neg = -42, .color = GREEN, .wide = 77, .flag = 1, .mode = 5, .level = 2748, .sfield = -7, ' +
      '.name = "hi \\"x\\\\ y", .raw = { 1, 2, 127, 128 }, .pt = { .x = -2, .y = 200 }, .u = { .as_u32 = 16909060, .bytes = { 4, 3, 2, 1 } }, ' +
      ".anon_a = 7, .anon_b = 65535, .cv = -2, .ok = true, .ptr = 0xffff888812345678, .c = 'A' }",
  );
  const back = parseValueText(btf(), ty, c);
  // the padding after pt.y is not in the text; the fixture's bytes have it zero
  assert.deepEqual(back, VALUE);
});

test('bpftool JSON (formatted) reads back to the same bytes', () => {
  // bpftool's "\n" for a backslash cannot be told from a newline: use a name without one
  const v = VALUE.slice();
  v.set([0x6f, 0x6b, 0, 0, 0, 0, 0, 0], 27);
  const json = formatValueJson(btf(), id('STRUCT', 'value'), v);
  assert.deepEqual(parseValueText(btf(), id('STRUCT', 'value'), json), v);
});

test('parse errors name the field', () => {
  const ty = id('STRUCT', 'value');
  const cases: [string, string, RegExp][] = [
    ['{ .pt = { .x = 40000 } }', 'pt.x', /does not fit in 16 signed bits/],
    ['{ .color = PURPLE }', 'color', /expected one of RED, GREEN, BLUE/],
    ['{ .name = "much too long for twelve" }', 'name', /does not fit in 12/],
    ['{ .u = { .bytes = { 1, 2, 3, 4, 5 } } }', 'u.bytes[4]', /4 elements/],
    ['{ .nope = 1 }', 'nope', /no such member/],
    ['{ .flag = 2 }', 'flag', /does not fit in 1 bits/],
    ['{"pt": {"y": "abc"}}', 'pt.y', /expected an integer/],
    ['{ .ok = maybe }', 'ok', /expected true or false/],
  ];
  for (const [text, field, reason] of cases) {
    assert.throws(
      () => parseValueText(btf(), ty, text),
      (e: unknown) => e instanceof ValueParseError && e.field === field && reason.test(e.reason),
      text,
    );
  }
  assert.throws(() => parseValueText(btf(), ty, '{ .pt = '), /column \d+: expected a value, found the end/);
});

test('anonymous members are reached by their fields, and bitfields are placed', () => {
  const ty = id('STRUCT', 'value');
  const b = parseValueText(btf(), ty, '{ .anon_b = 0x1234, .level = 0xfff, .sfield = -1 }');
  assert.deepEqual([...b.subarray(52, 56)], [0, 0, 0x34, 0x12]);
  assert.deepEqual([...b.subarray(24, 27)], [0xf0, 0xff, 0x1f]);
});

test('every type of the fixture, random bytes of every length: text or a ValueFormatError', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const bytes = Uint8Array.from({ length: 96 }, rand);
  for (const t of btf().types) {
    for (const n of [0, 1, 4, 8, 33, 96]) {
      for (const plain of [false, true]) {
        try {
          writeValue(btf(), t.id, bytes.subarray(0, n), new JsonWriter({ pretty: plain }), { plain });
        } catch (e) {
          assert.ok(e instanceof ValueFormatError, `[${t.id}] ${t.kind} ${n} bytes: ${String(e)}`);
        }
        try {
          formatValueC(btf(), t.id, bytes.subarray(0, n));
        } catch (e) {
          assert.ok(e instanceof ValueFormatError, `C text [${t.id}] ${t.kind} ${n} bytes: ${String(e)}`);
        }
      }
    }
  }
});

test('a 64-bit enum clang emits as ENUM with 32-bit values: names write their sign extension, as bpftool matches them', () => {
  const ty = id('STRUCT', 'value');
  const b = parseValueText(btf(), ty, '{ .wide = HUGE, .color = BLUE }');
  assert.deepEqual([...b.subarray(16, 24)], [0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.match(formatValueJson(btf(), ty, b), /"color":"BLUE","wide":"HUGE"/);
  assert.match(formatValueC(btf(), ty, b), /\.color = BLUE, \.wide = HUGE,/);
});
