import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '@weft/policy';
import { describe, expect, it } from 'vitest';
import { type AttemptOutcome, backoffMs, isRetriable, retryAllowed } from './retry.ts';

const on = (retryOn: string[], retryOnStatus: number[] = []): RetryPolicy => ({
  attempts: 2,
  retryOn,
  retryOnStatus,
});

describe('isRetriable', () => {
  it.each<[string, RetryPolicy, AttemptOutcome, boolean]>([
    ['5xx retries 500', on(['5xx']), { kind: 'response', status: 500 }, true],
    ['5xx retries a reset', on(['5xx']), { kind: 'reset' }, true],
    ['5xx retries a connect failure', on(['5xx']), { kind: 'connect-failure' }, true],
    ['5xx retries a per-try timeout', on(['5xx']), { kind: 'per-try-timeout' }, true],
    ['5xx leaves 404', on(['5xx']), { kind: 'response', status: 404 }, false],
    ['gateway-error retries 502/503/504', on(['gateway-error']), { kind: 'response', status: 504 }, true],
    ['gateway-error leaves 500', on(['gateway-error']), { kind: 'response', status: 500 }, false],
    ['reset retries a reset', on(['reset']), { kind: 'reset' }, true],
    ['connect-failure leaves a reset', on(['connect-failure']), { kind: 'reset' }, false],
    ['refused-stream', on(['refused-stream']), { kind: 'refused-stream' }, true],
    ['retriable-4xx retries 409', on(['retriable-4xx']), { kind: 'response', status: 409 }, true],
    [
      'retriable-status-codes',
      on(['retriable-status-codes'], [418]),
      { kind: 'response', status: 418 },
      true,
    ],
    ['grpc unavailable', on(['unavailable']), { kind: 'response', status: 200, grpcStatus: 14 }, true],
    ['grpc cancelled', on(['cancelled']), { kind: 'response', status: 200, grpcStatus: 1 }, true],
    [
      'grpc deadline-exceeded',
      on(['deadline-exceeded']),
      { kind: 'response', status: 200, grpcStatus: 4 },
      true,
    ],
    [
      'grpc resource-exhausted',
      on(['resource-exhausted']),
      { kind: 'response', status: 200, grpcStatus: 8 },
      true,
    ],
    [
      'grpc internal not listed',
      on(['unavailable']),
      { kind: 'response', status: 200, grpcStatus: 13 },
      false,
    ],
    ['grpc ok never', on(['unavailable']), { kind: 'response', status: 200, grpcStatus: 0 }, false],
    ['default policy retries 503', DEFAULT_RETRY_POLICY, { kind: 'response', status: 503 }, true],
    ['default policy leaves 500', DEFAULT_RETRY_POLICY, { kind: 'response', status: 500 }, false],
    ['default policy retries connect failure', DEFAULT_RETRY_POLICY, { kind: 'connect-failure' }, true],
  ])('%s', (_n, policy, outcome, expected) => {
    expect(isRetriable(policy, outcome)).toBe(expected);
  });
});

describe('backoffMs', () => {
  it.each([
    [0, 0.5, 12],
    [1, 0.5, 25],
    [2, 0.99, 99],
    [10, 0.5, 125],
    [3, 0, 0],
  ])('retry %i with random %f -> %i ms (base 25, max 250, full jitter)', (retry, r, ms) => {
    expect(backoffMs(on(['5xx']), retry, () => r)).toBe(ms);
  });

  it('uses the route backoff', () => {
    expect(backoffMs({ ...on(['5xx']), backoff: { baseMs: 100, maxMs: 1000 } }, 0, () => 0.5)).toBe(50);
  });
});

describe('retry budget', () => {
  it.each([
    [0, 0, 1e9, true],
    [3, 10, 1e9, false],
    [2, 10, 1e9, true],
    [19, 100, 1e9, true],
    [20, 100, 1e9, false],
    [0, 100, 0, false],
  ])('%i retries in flight, %i requests, maxRetries %i -> %s', (retries, requests, max, ok) => {
    expect(retryAllowed({ percent: 20, minConcurrency: 3 }, retries, requests, max)).toBe(ok);
  });
});
