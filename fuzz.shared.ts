// Shared settings of the property-based fuzz tests (`*.fuzz.test.ts`, fast-check). CI runs a
// fixed seed and a modest number of runs so every file takes seconds and a failure reproduces;
// `pnpm fuzz` sets FUZZ_RUNS (and FUZZ_SEED to explore other inputs) for long local runs.
// fast-check's failure report names the seed and the shrunk counterexample.
//
// Plain values only, so any package can import it without depending on fast-check here.

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

function intFromEnv(name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${text} is not an integer`);
  return n;
}

/** The CI seed; FUZZ_SEED overrides it. */
export const FUZZ_SEED = intFromEnv('FUZZ_SEED') ?? 0x5eed;

const runsOverride = intFromEnv('FUZZ_RUNS');

/** Budget of one property in long mode: generous, but a hang still fails rather than spins. */
const LONG_MODE_BUDGET_MS = 30 * 60_000;
/** In CI a property that needs more than this is a hang or a blow-up, not a slow machine. */
const CI_BUDGET_MS = 60_000;

const budgetMs = runsOverride === undefined ? CI_BUDGET_MS : LONG_MODE_BUDGET_MS;

/** Per-test timeout to pass to `test(name, fn, FUZZ_TEST_TIMEOUT)` (vitest and bun). */
export const FUZZ_TEST_TIMEOUT = budgetMs + 30_000;

/**
 * Parameters for `fc.assert`: the seed, `runs` (or FUZZ_RUNS), and a time budget after which
 * the run is interrupted and counted as a failure. `timeout` bounds each run of an async property.
 */
export function fuzzParams(runs: number): {
  seed: number;
  numRuns: number;
  interruptAfterTimeLimit: number;
  markInterruptAsFailure: boolean;
  timeout: number;
} {
  return {
    seed: FUZZ_SEED,
    numRuns: runsOverride ?? runs,
    interruptAfterTimeLimit: budgetMs,
    markInterruptAsFailure: true,
    timeout: 10_000,
  };
}
