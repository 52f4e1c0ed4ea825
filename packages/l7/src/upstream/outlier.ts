// Outlier detection (DestinationRule outlierDetection): consecutive 5xx / gateway errors eject an
// endpoint for baseEjectionTime x (times ejected), never more than maxEjectionPercent of the
// endpoints (at least one may always go, as in Envoy). Time comes from an injected Clock;
// ejections end lazily when the endpoint is next looked at.
import type { OutlierDetectionPolicy } from '@weft/policy';
import type { Clock } from '@weft/telemetry';

/** How one attempt ended, as outlier detection classifies it. */
export type OutlierOutcome =
  | 'success'
  /** A 5xx other than 502/503/504. */
  | 'error-5xx'
  /** 502, 503, 504, or a local-origin failure (connect failure, reset, timeout). */
  | 'gateway-error';

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejectedUntil: number | undefined;
  ejections: number;
}

export interface OutlierDetector {
  readonly policy: OutlierDetectionPolicy;
  /** Records an outcome; returns true when it just ejected the endpoint. */
  report(address: string, outcome: OutlierOutcome, total: number): boolean;
  isEjected(address: string): boolean;
  /** Endpoints currently ejected (admin, tests). */
  ejected(): string[];
  /** Times each endpoint was ejected. */
  ejectionCount(address: string): number;
}

export function createOutlierDetector(policy: OutlierDetectionPolicy, clock: Clock): OutlierDetector {
  const hosts = new Map<string, HostState>();
  const state = (a: string): HostState => {
    let s = hosts.get(a);
    if (s === undefined) {
      s = { consecutive5xx: 0, consecutiveGateway: 0, ejectedUntil: undefined, ejections: 0 };
      hosts.set(a, s);
    }
    return s;
  };
  const ejectedNow = (s: HostState, now: number): boolean => {
    if (s.ejectedUntil === undefined) return false;
    if (now >= s.ejectedUntil) {
      s.ejectedUntil = undefined;
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return false;
    }
    return true;
  };
  const ejectedCount = (now: number): number => {
    let n = 0;
    for (const s of hosts.values()) if (ejectedNow(s, now)) n++;
    return n;
  };
  const reached = (count: number, threshold: number | undefined) =>
    threshold !== undefined && threshold > 0 && count >= threshold;

  return {
    policy,
    report(address, outcome, total) {
      const now = clock.now();
      const s = state(address);
      if (ejectedNow(s, now)) return false;
      switch (outcome) {
        case 'success':
          s.consecutive5xx = 0;
          s.consecutiveGateway = 0;
          return false;
        case 'error-5xx':
          s.consecutive5xx++;
          s.consecutiveGateway = 0;
          break;
        case 'gateway-error':
          s.consecutive5xx++;
          s.consecutiveGateway++;
          break;
        default: {
          const never: never = outcome;
          return never;
        }
      }
      if (
        !reached(s.consecutive5xx, policy.consecutive5xxErrors) &&
        !reached(s.consecutiveGateway, policy.consecutiveGatewayErrors)
      )
        return false;
      const ejected = ejectedCount(now);
      const max = policy.maxEjectionPercent;
      const allowed = max > 0 && (ejected === 0 || (ejected + 1) * 100 <= max * total);
      if (!allowed) return false;
      s.ejections++;
      s.ejectedUntil = now + policy.baseEjectionTimeMs * s.ejections;
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return true;
    },
    isEjected(address) {
      const s = hosts.get(address);
      return s !== undefined && ejectedNow(s, clock.now());
    },
    ejected() {
      const now = clock.now();
      return [...hosts.entries()].filter(([, s]) => ejectedNow(s, now)).map(([a]) => a);
    },
    ejectionCount: (address) => hosts.get(address)?.ejections ?? 0,
  };
}

/** Classifies an upstream response status for outlier detection. */
export function outcomeForStatus(status: number): OutlierOutcome {
  if (status === 502 || status === 503 || status === 504) return 'gateway-error';
  if (status >= 500) return 'error-5xx';
  return 'success';
}
