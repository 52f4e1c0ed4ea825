import type { SourceCounters, SourceErrorReason } from './types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const REASONS: readonly SourceErrorReason[] = [
  'parse',
  'invalid-object',
  'duplicate',
  'read',
  'watch',
  'list',
  'stream',
  'not-installed',
];

/** The mutable side of `SourceCounters`, owned by one source. */
export class Counters {
  readonly values: Mutable<Omit<SourceCounters, 'errors'>> = {
    batches: 0,
    changes: 0,
    lists: 0,
    watches: 0,
    filesRead: 0,
    rescans: 0,
  };
  private readonly errors = new Map<SourceErrorReason, number>();

  error(reason: SourceErrorReason): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }

  snapshot(): SourceCounters {
    const errors = Object.fromEntries(REASONS.map((r) => [r, this.errors.get(r) ?? 0])) as Record<
      SourceErrorReason,
      number
    >;
    return { ...this.values, errors };
  }
}

export function totalErrors(counters: SourceCounters): number {
  let total = 0;
  for (const n of Object.values(counters.errors)) total += n;
  return total;
}
