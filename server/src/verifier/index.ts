/**
 * The verifier, explained (pure: text in, models out; no I/O, no kernel):
 *   state.ts     one printed verifier state: registers, stack slots, frame, refs.
 *   log.ts       a whole log (levels 1, 2, stats) as entries, errors and statistics.
 *   path.ts      the path to the rejection and data flow back along it.
 *   families.ts  the table of error families: recognise, explain, hint, what to trace.
 *   explain.ts   a rejection explained: family, explanation, hint, related locations.
 */
export * from './state';
export * from './log';
export * from './path';
export * from './families';
export * from './explain';
export * from './format';
export * from './stats';
export * from './lines';
