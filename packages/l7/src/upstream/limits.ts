// Connection-pool limits (DestinationRule connectionPool) as circuit breakers: beyond them a
// request is refused at once with 503 and response flag UO instead of piling up.
//
// HTTP/1.1 carries one request per connection, so `maxConnections` bounds the requests running
// at once; further requests wait in a FIFO of at most `http1MaxPendingRequests`. `http2MaxRequests`
// bounds requests in flight to the cluster for every protocol; `maxRetries` bounds retries in flight.
import type { ConnectionPoolPolicy } from '@weft/policy';
import type { Cancellation } from '../runtime.ts';

export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly reason: 'overflow' | 'aborted' };

export interface PoolLimits {
  readonly maxConnections: number;
  readonly maxPending: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  /** Requests holding a slot. */
  readonly active: number;
  readonly pending: number;
  /** Retries in flight. */
  retriesActive: number;
  /** Waits for a slot (or refuses). Resolves synchronously-fast when there is room. */
  admit(cancel?: Cancellation): Promise<Admission> | Admission;
  /** Counted refusals. */
  readonly overflows: number;
}

const UNLIMITED = 2 ** 32 - 1;

export function createPoolLimits(pool: ConnectionPoolPolicy | undefined, multiplexed: boolean): PoolLimits {
  const maxConnections = pool?.tcp?.maxConnections ?? UNLIMITED;
  const maxPending = pool?.http?.http1MaxPendingRequests ?? UNLIMITED;
  const maxRequests = pool?.http?.http2MaxRequests ?? UNLIMITED;
  const maxRetries = pool?.http?.maxRetries ?? UNLIMITED;
  // For a multiplexed upstream a connection is not a request slot.
  const running = multiplexed ? maxRequests : Math.min(maxConnections, maxRequests);
  let active = 0;
  let overflows = 0;
  const queue: { resolve: (a: Admission) => void; cancel: Cancellation | undefined; onAbort: () => void }[] =
    [];

  // One shared grant: the caller releases exactly once (the router guards it).
  const release = () => {
    active--;
    while (queue.length > 0 && active < running) {
      const w = queue.shift();
      if (w === undefined) break;
      w.cancel?.offAbort(w.onAbort);
      if (w.cancel?.aborted) continue;
      active++;
      w.resolve(granted);
    }
  };

  const granted: Admission = { ok: true, release };
  const limits: PoolLimits = {
    maxConnections,
    maxPending,
    maxRequests,
    maxRetries,
    get active() {
      return active;
    },
    get pending() {
      return queue.length;
    },
    retriesActive: 0,
    get overflows() {
      return overflows;
    },
    admit(cancel) {
      if (active < running) {
        active++;
        return granted;
      }
      if (multiplexed || queue.length >= maxPending || active >= maxRequests) {
        overflows++;
        return { ok: false, reason: 'overflow' };
      }
      return new Promise<Admission>((resolve) => {
        const entry = {
          resolve,
          cancel,
          onAbort: () => {
            const i = queue.indexOf(entry);
            if (i >= 0) queue.splice(i, 1);
            resolve({ ok: false, reason: 'aborted' });
          },
        };
        cancel?.onAbort(entry.onAbort);
        queue.push(entry);
      });
    },
  };
  return limits;
}
