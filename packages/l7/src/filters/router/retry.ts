// Retry decisions, pure: which attempt outcomes the route's retry policy retries, and how long to
// back off (exponential with full jitter, randomness injected).
import type { RetryPolicy } from '@weft/policy';

export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus?: number | undefined }
  | { readonly kind: 'connect-failure' }
  /** Connection or stream closed before response headers. */
  | { readonly kind: 'reset' }
  | { readonly kind: 'refused-stream' }
  | { readonly kind: 'per-try-timeout' };

const GRPC_RETRY_ON: Readonly<Record<string, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

/** Whether `policy` retries an attempt that ended with `o` (attempt budget not considered). */
export function isRetriable(policy: RetryPolicy, o: AttemptOutcome): boolean {
  const on = policy.retryOn;
  switch (o.kind) {
    case 'connect-failure':
      return (
        on.includes('connect-failure') ||
        on.includes('5xx') ||
        on.includes('gateway-error') ||
        on.includes('reset')
      );
    case 'reset':
      return on.includes('reset') || on.includes('5xx');
    case 'refused-stream':
      return on.includes('refused-stream') || on.includes('reset') || on.includes('5xx');
    case 'per-try-timeout':
      return on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
    case 'response': {
      const s = o.status;
      if (s >= 500 && on.includes('5xx')) return true;
      if ((s === 502 || s === 503 || s === 504) && on.includes('gateway-error')) return true;
      if (s === 409 && on.includes('retriable-4xx')) return true;
      if (on.includes('retriable-status-codes') && policy.retryOnStatus.includes(s)) return true;
      if (o.grpcStatus !== undefined && o.grpcStatus !== 0) {
        for (const cond of on) if (GRPC_RETRY_ON[cond] === o.grpcStatus) return true;
      }
      return false;
    }
    default: {
      const never: never = o;
      return never;
    }
  }
}

export const DEFAULT_BACKOFF = { baseMs: 25, maxMs: 250 } as const;

/** Delay before retry number `retry` (0 = first retry): uniform in [0, min(max, base * 2^retry)). */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number): number {
  const { baseMs, maxMs } = policy.backoff ?? DEFAULT_BACKOFF;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retry, 30));
  const r = random();
  return Math.floor((Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0) * ceiling);
}

export interface RetryBudget {
  /** Retries in flight may reach this percentage of requests in flight. Default 20. */
  readonly percent: number;
  /** ...and at least this many. Default 3. */
  readonly minConcurrency: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudget = { percent: 20, minConcurrency: 3 };

/** Whether another retry fits the budget (Envoy's retry budget) and the pool's maxRetries. */
export function retryAllowed(
  budget: RetryBudget,
  retriesActive: number,
  requestsActive: number,
  maxRetries: number,
): boolean {
  if (retriesActive >= maxRetries) return false;
  const cap = Math.max(budget.minConcurrency, (budget.percent / 100) * requestsActive);
  return retriesActive < cap;
}
