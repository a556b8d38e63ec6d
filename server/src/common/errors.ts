import { escapeControls } from './escape';

/**
 * The one error for bad input: it says which file, which section and which byte
 * offset were wrong, so the CLI can print one line and the editor can place a diagnostic.
 */
export class FormatError extends Error {
  constructor(
    readonly file: string,
    readonly section: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    // one line whatever the file holds: names in it are escaped
    super(escapeControls(`${file}: ${section}: offset ${offset}: ${reason}`));
    this.name = 'FormatError';
  }

  /** The same error seen from another file (e.g. a .BTF section read out of an ELF file). */
  withFile(file: string): FormatError {
    return new FormatError(file, this.section, this.offset, this.reason);
  }
}

/** Where a reader is: used to build FormatErrors without threading three arguments. */
export interface Origin {
  readonly file: string;
  readonly section: string;
  /** Offset of the reader's byte 0 inside `file`'s section (for nested readers). */
  readonly base?: number;
}

export function formatError(origin: Origin, offset: number, reason: string): FormatError {
  return new FormatError(origin.file, origin.section, (origin.base ?? 0) + offset, reason);
}
