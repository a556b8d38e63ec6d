// The language server's custom requests: every request protocol/lsp.ts declares has exactly
// one handler in the server's table, and the table handles nothing the protocol does not
// declare (what the server advertises is the table's methods: test/lsp/requests checks them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import * as protocol from '../../protocol/lsp';
import { DumpPool } from '../../server/src/lsp/dump-pool';
import { requestHandlers } from '../../server/src/lsp/server';
import type { Session } from '../../server/src/lsp/session';

test('every request of protocol/lsp.ts has exactly one handler, and every handler a declared request', () => {
  const declared = Object.values(protocol)
    .filter((v) => v instanceof RequestType || v instanceof RequestType0)
    .map((r) => r.method)
    .sort();
  // Building the table only captures the session; no handler runs here.
  const handled = requestHandlers({} as Session, new DumpPool())
    .map((h) => h.type.method)
    .sort();
  assert.ok(declared.length >= 14, declared.join(', '));
  assert.deepEqual(handled, declared);
  assert.equal(new Set(handled).size, handled.length, 'a method with two handlers');
});
