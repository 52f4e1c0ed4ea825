// What counts as "denied" in a scenario. A broken mesh fails calls too, so a failed call alone
// proves nothing: a denial is an HTTP 401 or 403 (the enforcing proxy answered), or a call that
// failed (connection closed or reset, or a 5xx from a proxy in between) while the proxy expected
// to refuse it counted the refusal on weft_rejected_total{reason} during that call. Anything else
// is "other", and a scenario expecting a denial reports it with what was seen.
import type { CallResult, MeshDriver } from './driver.ts';

/** A proxy expected to refuse a call, and the weft_rejected_total reasons it counts it under. */
export interface Refuser {
  /** As `MeshDriver.metrics` names it: a node (its ztunnel), a waypoint pod, a sidecar pod. */
  readonly component: string;
  readonly reasons: readonly string[];
}

export type Verdict = 'allowed' | 'denied' | 'other';

export interface JudgedCall {
  readonly result: CallResult;
  readonly verdict: Verdict;
  /** What was seen, with the counter that moved (or that did not). */
  readonly detail: string;
}

const REJECTED = 'weft_rejected_total';

/** weft_rejected_total of one component, summed over `reasons`; undefined if it cannot be read. */
export async function rejectedCount(
  driver: Pick<MeshDriver, 'metrics'>,
  refuser: Refuser,
): Promise<number | undefined> {
  let text: string;
  try {
    text = await driver.metrics(refuser.component);
  } catch {
    return undefined;
  }
  return sumRejected(text, refuser.reasons);
}

/** The sum of weft_rejected_total samples in Prometheus `text` whose reason is one of `reasons`. */
export function sumRejected(text: string, reasons: readonly string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${REJECTED}{`)) continue;
    const reason = /[{,]reason="([^"]*)"/.exec(line)?.[1];
    if (reason === undefined || !reasons.includes(reason)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

const describeResult = (r: CallResult): string =>
  r.ok ? `HTTP ${r.response.status}` : `connection failed (${r.error})`;

const named = (r: Refuser): string => `${r.component} ${REJECTED}{reason=~"${r.reasons.join('|')}"}`;

/**
 * Sends one call and judges it: 2xx is allowed; 401/403 denied; any other outcome is denied only
 * if one of `refusers` counted a refusal while the call was on its way (the count is read before
 * the call and, for up to a second, after it: metrics are scraped, not pushed).
 */
export async function judgeCall(
  driver: Pick<MeshDriver, 'metrics'>,
  refusers: readonly Refuser[],
  send: () => Promise<CallResult>,
): Promise<JudgedCall> {
  const before = await Promise.all(refusers.map((r) => rejectedCount(driver, r)));
  const result = await send();
  if (result.ok && result.response.status >= 200 && result.response.status < 300)
    return { result, verdict: 'allowed', detail: describeResult(result) };
  if (result.ok && (result.response.status === 401 || result.response.status === 403))
    return { result, verdict: 'denied', detail: describeResult(result) };
  const deadline = Date.now() + 1000;
  for (;;) {
    const after = await Promise.all(refusers.map((r) => rejectedCount(driver, r)));
    const moved = refusers.filter((_, i) => {
      const b = before[i];
      const a = after[i];
      return b !== undefined && a !== undefined && a > b;
    });
    if (moved.length > 0)
      return {
        result,
        verdict: 'denied',
        detail: `${describeResult(result)}, counted by ${moved.map(named).join(', ')}`,
      };
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    result,
    verdict: 'other',
    detail: `${describeResult(result)}, and no refusal counted by ${refusers.length > 0 ? refusers.map(named).join(', ') : 'any proxy'}`,
  };
}

/** judgeCall for HTTP answers only: a refusal here must be a 401 or 403, never a dropped call. */
export function httpVerdict(result: CallResult): Verdict {
  if (!result.ok) return 'other';
  const s = result.response.status;
  if (s >= 200 && s < 300) return 'allowed';
  return s === 401 || s === 403 ? 'denied' : 'other';
}
