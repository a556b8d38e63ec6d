// The language server's custom requests as a table: each feature module gives its handlers,
// server.ts registers each one and advertises exactly their methods (no second list).
import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Cancel } from './dump-pool';

/** One custom request and its handler. */
export interface RequestHandler {
  /** The request object of protocol/lsp.ts (its method, and how its params travel). */
  readonly type: RequestType<unknown, unknown, void> | RequestType0<unknown, void>;
  handle(params: unknown, cancel?: Cancel): unknown;
}

/** A handler typed by its request (the table itself is heterogeneous). */
export function handler<P, R>(type: RequestType<P, R, void>, handle: (p: P, cancel?: Cancel) => Promise<R> | R): RequestHandler;
export function handler<R>(type: RequestType0<R, void>, handle: () => Promise<R> | R): RequestHandler;
export function handler(type: RequestHandler['type'], handle: (p: never) => unknown): RequestHandler {
  return { type, handle: handle };
}
