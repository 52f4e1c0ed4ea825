import { describe, expect, it } from 'vitest';
import { sequenceIds } from '../testing/index.ts';
import {
  type B3Context,
  type B3Rejection,
  b3NextHop,
  b3Sampled,
  formatB3Multi,
  formatB3Single,
  type HeaderValue,
  parseB3Multi,
  parseB3Single,
} from './b3.ts';

const T128 = '80f198ee56343ba864fe8b2a57d3eff7';
const T64 = '463ac35c9f6413ad';
const SPAN = 'e457b5a2e4d86bd1';
const PARENT = '05e3ac9a4f6e3b90';

describe('parseB3Single: valid', () => {
  it.each<[string, string, B3Context]>([
    [
      'ids only',
      `${T128}-${SPAN}`,
      { traceId: T128, spanId: SPAN, parentSpanId: undefined, sampling: undefined },
    ],
    ['sampled', `${T128}-${SPAN}-1`, { traceId: T128, spanId: SPAN, parentSpanId: undefined, sampling: '1' }],
    [
      'with parent',
      `${T128}-${SPAN}-1-${PARENT}`,
      { traceId: T128, spanId: SPAN, parentSpanId: PARENT, sampling: '1' },
    ],
    ['debug', `${T64}-${SPAN}-d`, { traceId: T64, spanId: SPAN, parentSpanId: undefined, sampling: 'd' }],
    ['deny', `${T64}-${SPAN}-0`, { traceId: T64, spanId: SPAN, parentSpanId: undefined, sampling: '0' }],
    ['sampling only 0', '0', { sampling: '0' }],
    ['sampling only 1', '1', { sampling: '1' }],
    ['sampling only d', 'd', { sampling: 'd' }],
  ])('%s', (_name, input, expected) => {
    expect(parseB3Single(input)).toEqual({ ok: true, value: expected });
  });
});

describe('parseB3Single: hostile and invalid', () => {
  it.each<[string, string, B3Rejection]>([
    ['empty', '', 'malformed'],
    ['bad sampling only', 'x', 'bad_sampling'],
    ['true is not single-header sampling', `${T128}-${SPAN}-true`, 'bad_sampling'],
    ['empty sampling field', `${T128}-${SPAN}-`, 'bad_sampling'],
    ['too many fields', `${T128}-${SPAN}-1-${PARENT}-x`, 'malformed'],
    ['trace id 24 chars', `${T128.slice(0, 24)}-${SPAN}`, 'bad_trace_id'],
    ['uppercase trace id', `${T128.toUpperCase()}-${SPAN}`, 'bad_trace_id'],
    ['zero trace id', `${'0'.repeat(32)}-${SPAN}`, 'bad_trace_id'],
    ['zero span id', `${T128}-${'0'.repeat(16)}`, 'bad_span_id'],
    ['short span id', `${T128}-${SPAN.slice(1)}`, 'bad_span_id'],
    ['bad parent', `${T128}-${SPAN}-1-xyz`, 'bad_parent_span_id'],
    ['zero parent', `${T128}-${SPAN}-1-${'0'.repeat(16)}`, 'bad_parent_span_id'],
    ['CRLF', `${T128}-${SPAN}-1\r\nx: y`, 'bad_sampling'],
    ['huge', `${T128}-${SPAN}-1-${'a'.repeat(500)}`, 'too_long'],
    ['only dashes', '---', 'bad_trace_id'],
  ])('%s', (_name, input, reason) => {
    expect(parseB3Single(input)).toEqual({ ok: false, reason });
  });
});

function headers(h: Record<string, HeaderValue>): (name: string) => HeaderValue {
  return (name) => h[name];
}

describe('parseB3Multi', () => {
  it('returns undefined when no x-b3 header is present', () => {
    expect(parseB3Multi(headers({}))).toBeUndefined();
  });

  it.each<[string, Record<string, HeaderValue>, B3Context]>([
    [
      'full',
      { 'x-b3-traceid': T128, 'x-b3-spanid': SPAN, 'x-b3-parentspanid': PARENT, 'x-b3-sampled': '1' },
      { traceId: T128, spanId: SPAN, parentSpanId: PARENT, sampling: '1' },
    ],
    [
      '64-bit, not sampled',
      { 'x-b3-traceid': T64, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0' },
      { traceId: T64, spanId: SPAN, parentSpanId: undefined, sampling: '0' },
    ],
    [
      'legacy true',
      { 'x-b3-traceid': T64, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'true' },
      { traceId: T64, spanId: SPAN, parentSpanId: undefined, sampling: '1' },
    ],
    [
      'debug flag wins',
      { 'x-b3-traceid': T64, 'x-b3-spanid': SPAN, 'x-b3-sampled': '0', 'x-b3-flags': '1' },
      { traceId: T64, spanId: SPAN, parentSpanId: undefined, sampling: 'd' },
    ],
    ['sampling only', { 'x-b3-sampled': '0' }, { sampling: '0' }],
    [
      'deferred',
      { 'x-b3-traceid': T64, 'x-b3-spanid': SPAN },
      { traceId: T64, spanId: SPAN, parentSpanId: undefined, sampling: undefined },
    ],
  ])('%s', (_name, h, expected) => {
    expect(parseB3Multi(headers(h))).toEqual({ ok: true, value: expected });
  });

  it.each<[string, Record<string, HeaderValue>, B3Rejection]>([
    ['span without trace', { 'x-b3-spanid': SPAN }, 'missing_trace_id'],
    ['trace without span', { 'x-b3-traceid': T64 }, 'missing_span_id'],
    ['parent alone', { 'x-b3-parentspanid': PARENT }, 'missing_trace_id'],
    ['bad sampled', { 'x-b3-traceid': T64, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'yes' }, 'bad_sampling'],
    ['bad flags', { 'x-b3-flags': '2' }, 'bad_flags'],
    ['duplicate trace id', { 'x-b3-traceid': [T64, T128], 'x-b3-spanid': SPAN }, 'duplicate'],
    ['uppercase', { 'x-b3-traceid': T64.toUpperCase(), 'x-b3-spanid': SPAN }, 'bad_trace_id'],
    ['zero span', { 'x-b3-traceid': T64, 'x-b3-spanid': '0000000000000000' }, 'bad_span_id'],
    ['huge', { 'x-b3-traceid': 'a'.repeat(1000), 'x-b3-spanid': SPAN }, 'too_long'],
  ])('%s', (_name, h, reason) => {
    expect(parseB3Multi(headers(h))).toEqual({ ok: false, reason });
  });
});

describe('B3 formatting and next hop', () => {
  it('moves the span to the parent and makes a new span id', () => {
    const ids = sequenceIds(7);
    const hop = b3NextHop({ traceId: T128, spanId: SPAN, parentSpanId: PARENT, sampling: '1' }, ids);
    expect(hop).toEqual({ traceId: T128, spanId: '0000000000000007', parentSpanId: SPAN, sampling: '1' });
    expect(formatB3Single(hop)).toBe(`${T128}-0000000000000007-1-${SPAN}`);
    expect(formatB3Multi(hop)).toEqual({
      'x-b3-traceid': T128,
      'x-b3-spanid': '0000000000000007',
      'x-b3-parentspanid': SPAN,
      'x-b3-sampled': '1',
    });
  });

  it('passes sampling-only contexts through', () => {
    const ctx: B3Context = { sampling: '0' };
    expect(b3NextHop(ctx, sequenceIds())).toBe(ctx);
    expect(formatB3Single(ctx)).toBe('0');
    expect(formatB3Multi(ctx)).toEqual({ 'x-b3-sampled': '0' });
  });

  it('sends debug as x-b3-flags alone and omits a parent without sampling in single form', () => {
    expect(formatB3Multi({ traceId: T64, spanId: SPAN, sampling: 'd' })).toEqual({
      'x-b3-traceid': T64,
      'x-b3-spanid': SPAN,
      'x-b3-flags': '1',
    });
    expect(formatB3Single({ traceId: T64, spanId: SPAN, parentSpanId: PARENT })).toBe(`${T64}-${SPAN}`);
  });

  it('round-trips', () => {
    for (const v of [`${T128}-${SPAN}-1-${PARENT}`, `${T64}-${SPAN}`, `${T64}-${SPAN}-d`, '0']) {
      const r = parseB3Single(v);
      if (!r.ok) throw new Error(r.reason);
      expect(formatB3Single(r.value)).toBe(v);
    }
  });

  it('reports sampling', () => {
    expect(b3Sampled({ sampling: 'd' })).toBe(true);
    expect(b3Sampled({ sampling: '1' })).toBe(true);
    expect(b3Sampled({ sampling: '0' })).toBe(false);
    expect(b3Sampled({})).toBeUndefined();
  });
});
