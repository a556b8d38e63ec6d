// How the kernel layer loads koffi: the prebuilt native module directly on glibc (skipping
// koffi's entry, ~6 ms of a cold process), koffi's entry otherwise. Both must be one module.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createRequire } from 'module';
import { tmpdir } from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { glibcHost, requireKoffi } from '../../server/src/kernel/koffi-load';
import { pageSize } from '../../server/src/kernel';

/** A minimal ELF64 little-endian executable header with one program header: PT_INTERP naming `interp`, or PT_LOAD without. */
function elf(interp: string | undefined): Buffer {
  const head = Buffer.alloc(64 + 56);
  head.writeUInt32BE(0x7f454c46, 0);
  head[4] = 2; // ELFCLASS64
  head[5] = 1; // little-endian
  head[6] = 1;
  head.writeUInt16LE(2, 16); // ET_EXEC
  head.writeUInt16LE(62, 18); // x86_64
  head.writeBigUInt64LE(64n, 32); // e_phoff
  head.writeUInt16LE(56, 54); // e_phentsize
  head.writeUInt16LE(1, 56); // e_phnum
  const name = Buffer.from(`${interp ?? ''}\0`, 'latin1');
  head.writeUInt32LE(interp === undefined ? 1 : 3, 64); // PT_LOAD or PT_INTERP
  head.writeBigUInt64LE(BigInt(head.length), 64 + 8); // p_offset
  head.writeBigUInt64LE(BigInt(name.length), 64 + 32); // p_filesz
  return Buffer.concat([head, name]);
}

test('glibc or musl, read from the ELF interpreter of the node binary; anything unreadable is undefined', () => {
  // node's own report says which libc it runs on
  const header = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header;
  assert.equal(glibcHost(), header.glibcVersionRuntime !== undefined);
  const dir = mkdtempSync(path.join(tmpdir(), 'bpf-lens-koffi-'));
  try {
    const at = (name: string, bytes: Buffer) => {
      const f = path.join(dir, name);
      writeFileSync(f, bytes);
      return f;
    };
    assert.equal(glibcHost(at('glibc', elf('/lib64/ld-linux-x86-64.so.2'))), true);
    assert.equal(glibcHost(at('musl', elf('/lib/ld-musl-x86_64.so.1'))), false);
    assert.equal(glibcHost(at('static', elf(undefined))), undefined);
    assert.equal(glibcHost(at('short', elf('/lib/ld-musl-x86_64.so.1').subarray(0, 40))), undefined);
    assert.equal(glibcHost(at('text', Buffer.from('#!/bin/sh\necho hi\n'))), undefined);
    assert.equal(glibcHost(path.join(dir, 'absent')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the koffi the kernel layer uses is the native module koffi's own entry loads, at koffi's version", () => {
  const ours = requireKoffi();
  assert.ok(pageSize() >= 4096); // a libc call through it works
  // on glibc, the native module itself (koffi's entry would also export `default`)
  if (glibcHost()) assert.equal('default' in ours, false);
  const entryFile = path.join(__dirname, '..', '..', '..', 'node_modules', 'koffi', 'index.cjs');
  const req = createRequire(entryFile);
  const entry = req(entryFile) as { errno: unknown; load: unknown; version: string };
  const pkg = req(path.join(path.dirname(entryFile), 'package.json')) as { version: string };
  assert.equal(ours.version, pkg.version);
  assert.equal(ours.errno, entry.errno);
  // koffi's entry wraps load() on the native module itself: one module, not two
  assert.equal(ours.load, entry.load);
});
