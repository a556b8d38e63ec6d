/**
 * Why a link failed. Every problem found is collected (two strong definitions, unresolved
 * externs, mismatched extern maps...), so one run names them all, each with the objects
 * concerned.
 */
export class LinkError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
    this.name = 'LinkError';
  }
}
