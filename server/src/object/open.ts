import { FormatError } from '../common/errors';
import type { BpfObject, OpenOptions } from './model';

/** libbpf's object name: the file's basename up to its first '.'. */
export function objectName(file: string): string {
  const base = file.replace(/\\/g, '/').split('/').pop() ?? file;
  const dot = base.indexOf('.');
  return dot < 0 ? base : base.slice(0, dot);
}

/** Reads a BPF object. See index.ts. */
export function openObject(bytes: Uint8Array, file: string, opts: OpenOptions = {}): BpfObject {
  void bytes; void opts;
  throw new FormatError(file, '', 0, 'object model not implemented yet');
}
