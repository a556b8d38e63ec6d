// Names from a file in error messages: a section named "l\n\x1b[31m" must not split the
// one-line error nor reach the terminal as an escape sequence.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { escapeControls } from '../../server/src/common/escape';
import { FormatError } from '../../server/src/common/errors';
import { cli, fixture } from '../helpers';

test('control characters in names are escaped in FormatError messages', () => {
  assert.equal(escapeControls('a\nb\x1b[2J\t\x7f\x9bz'), 'a\\nb\\x1b[2J\\t\\x7f\\x9bz');
  assert.equal(new FormatError('f.o', 'sec\r\n', 4, 'name "\x07"').message, 'f.o: sec\\r\\n: offset 4: name "\\x07"');
});

test('inspect of an object whose broken section is named "l\\n\\x1b[31m": one line, no escape sequence', () => {
  const b = Buffer.from(readFileSync(fixture('object_maps.o')));
  const shoff = Number(b.readBigUInt64LE(0x28)),
    size = b.readUInt16LE(0x3a),
    n = b.readUInt16LE(0x3c),
    strndx = b.readUInt16LE(0x3e);
  const strs = Number(b.readBigUInt64LE(shoff + strndx * size + 0x18));
  let hit = 0;
  for (let i = 0; i < n; i++) {
    const h = shoff + i * size;
    const at = strs + b.readUInt32LE(h);
    if (b.toString('latin1', at, b.indexOf(0, at)) !== 'license') continue;
    b.write('l\n\x1b[31m', at, 'latin1'); // the same 7 bytes
    b.writeBigUInt64LE(0xffffffn, h + 0x20); // sh_size past the end of the file
    hit++;
  }
  assert.equal(hit, 1);
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-escape-'));
  try {
    const file = path.join(dir, 'names.o');
    writeFileSync(file, b);
    const r = cli(['inspect', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n').length, 2, JSON.stringify(r.stderr)); // one line and its newline
    assert.ok(!r.stderr.includes('\x1b'), JSON.stringify(r.stderr));
    assert.match(r.stderr, /l\\n\\x1b\[31m/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
