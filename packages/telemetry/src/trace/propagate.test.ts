import { describe, expect, it } from 'vitest';
import { sequenceIds } from '../testing/index.ts';
import { type IncomingHeaders, propagateTraceContext, TRACE_HEADER_NAMES } from './propagate.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const B3T = '80f198ee56343ba864fe8b2a57d3eff7';
const B3S = 'e457b5a2e4d86bd1';
const RID = '6f1c7c2e-8d43-4c1b-9b7e-0e1f2a3b4c5d';

describe('propagateTraceContext', () => {
  it('W3C: new span, same trace, tracestate and baggage passed, request id kept', () => {
    const hop = propagateTraceContext(
      {
        traceparent: `00-${TRACE}-${SPAN}-01`,
        tracestate: 'rojo=00f067aa0ba902b7, congo=t61rcWkgMzE',
        baggage: 'userId=alice',
        'x-request-id': RID,
      },
      { ids: sequenceIds(0x10) },
    );
    expect(hop).toEqual({
      headers: {
        traceparent: `00-${TRACE}-0000000000000010-01`,
        tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
        baggage: 'userId=alice',
        'x-request-id': RID,
      },
      requestId: RID,
      traceId: TRACE,
      spanId: '0000000000000010',
      parentSpanId: SPAN,
      sampled: true,
      rejected: [],
    });
  });

  it('no headers: only a fresh request id; no trace unless asked', () => {
    const ids = sequenceIds(1);
    const hop = propagateTraceContext({}, { ids });
    expect(hop.headers).toEqual({ 'x-request-id': '00000000-0000-4000-8000-000000000001' });
    expect(hop.traceId).toBeUndefined();
    expect(hop.sampled).toBeUndefined();
    expect(ids.issued).toBe(1);
  });

  it('starts a trace when asked and none arrived', () => {
    const hop = propagateTraceContext({}, { ids: sequenceIds(1), startTraceSampled: false });
    expect(hop.headers.traceparent).toBe('00-00000000000000000000000000000001-0000000000000002-02');
    expect(hop.sampled).toBe(false);
  });

  it('B3 multi: same encoding out, new span, parent = incoming span', () => {
    const hop = propagateTraceContext(
      { 'x-b3-traceid': B3T, 'x-b3-spanid': B3S, 'x-b3-sampled': '1', 'x-request-id': RID },
      { ids: sequenceIds(9) },
    );
    expect(hop.headers).toEqual({
      'x-b3-traceid': B3T,
      'x-b3-spanid': '0000000000000009',
      'x-b3-parentspanid': B3S,
      'x-b3-sampled': '1',
      'x-request-id': RID,
    });
    expect(hop).toMatchObject({ traceId: B3T, spanId: '0000000000000009', parentSpanId: B3S, sampled: true });
  });

  it('B3 single wins over multi when both arrive', () => {
    const hop = propagateTraceContext(
      { b3: `${B3T}-${B3S}-0`, 'x-b3-traceid': B3T, 'x-b3-spanid': B3S },
      { ids: sequenceIds(5) },
    );
    expect(hop.headers.b3).toBe(`${B3T}-0000000000000005-0-${B3S}`);
    expect(hop.headers['x-b3-traceid']).toBeUndefined();
    expect(hop.sampled).toBe(false);
  });

  it('W3C and B3 together share one new span id', () => {
    const hop = propagateTraceContext(
      { traceparent: `00-${TRACE}-${SPAN}-01`, b3: `${TRACE}-${SPAN}-1` },
      { ids: sequenceIds(3) },
    );
    expect(hop.headers.traceparent).toBe(`00-${TRACE}-0000000000000003-01`);
    expect(hop.headers.b3).toBe(`${TRACE}-0000000000000003-1-${SPAN}`);
  });

  it('accepts fetch-style Headers', () => {
    const h = new Headers({ traceparent: `00-${TRACE}-${SPAN}-00`, 'X-Request-Id': 'abc' });
    const hop = propagateTraceContext(h, { ids: sequenceIds(1) });
    expect(hop.headers).toEqual({ traceparent: `00-${TRACE}-0000000000000001-00`, 'x-request-id': 'abc' });
  });

  it.each<[string, IncomingHeaders, { header: string; reason: string }[]]>([
    [
      'bad traceparent',
      { traceparent: `ff-${TRACE}-${SPAN}-01` },
      [{ header: 'traceparent', reason: 'bad_version' }],
    ],
    [
      'duplicate traceparent',
      { traceparent: [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-00`] },
      [{ header: 'traceparent', reason: 'duplicate' }],
    ],
    [
      'tracestate without a valid traceparent',
      { traceparent: 'garbage', tracestate: 'a=1' },
      [
        { header: 'traceparent', reason: 'malformed' },
        { header: 'tracestate', reason: 'without_traceparent' },
      ],
    ],
    ['bad baggage', { baggage: 'a=b c' }, [{ header: 'baggage', reason: 'bad_member' }]],
    ['bad b3', { b3: 'nope-nope' }, [{ header: 'b3', reason: 'bad_trace_id' }]],
    ['bad x-b3', { 'x-b3-spanid': B3S }, [{ header: 'x-b3', reason: 'missing_trace_id' }]],
    [
      'request id with CRLF',
      { 'x-request-id': 'a\r\nb' },
      [{ header: 'x-request-id', reason: 'bad_request_id' }],
    ],
    [
      'request id too long',
      { 'x-request-id': 'a'.repeat(129) },
      [{ header: 'x-request-id', reason: 'bad_request_id' }],
    ],
    ['request id empty', { 'x-request-id': '' }, [{ header: 'x-request-id', reason: 'bad_request_id' }]],
    [
      'duplicate request id',
      { 'x-request-id': ['a', 'b'] },
      [{ header: 'x-request-id', reason: 'duplicate' }],
    ],
  ])('refuses %s, forwards nothing of it', (_name, incoming, rejected) => {
    const hop = propagateTraceContext(incoming, { ids: sequenceIds(1) });
    expect(hop.rejected).toEqual(rejected);
    expect(Object.keys(hop.headers)).toEqual(['x-request-id']);
    expect(hop.headers['x-request-id']).toMatch(/^00000000-0000-4000-8000-/);
  });

  it('drops a bad tracestate but keeps its valid traceparent', () => {
    const hop = propagateTraceContext(
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'A=1' },
      { ids: sequenceIds(1) },
    );
    expect(hop.rejected).toEqual([{ header: 'tracestate', reason: 'bad_member' }]);
    expect(Object.keys(hop.headers).sort()).toEqual(['traceparent', 'x-request-id']);
  });

  it('treats a one-element array as the value', () => {
    const hop = propagateTraceContext({ traceparent: [`00-${TRACE}-${SPAN}-01`] }, { ids: sequenceIds(1) });
    expect(hop.rejected).toEqual([]);
    expect(hop.traceId).toBe(TRACE);
  });

  it('can always mint a new request id', () => {
    const hop = propagateTraceContext({ 'x-request-id': RID }, { ids: sequenceIds(1), keepRequestId: false });
    expect(hop.requestId).toBe('00000000-0000-4000-8000-000000000001');
  });

  it('only writes names listed in TRACE_HEADER_NAMES', () => {
    const hop = propagateTraceContext({
      traceparent: `00-${TRACE}-${SPAN}-01`,
      tracestate: 'a=1',
      baggage: 'b=2',
      'x-b3-traceid': B3T,
      'x-b3-spanid': B3S,
      'x-b3-flags': '1',
    });
    for (const name of Object.keys(hop.headers)) expect(TRACE_HEADER_NAMES).toContain(name);
    expect(hop.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ignores inherited properties of the headers object', () => {
    const proto = { traceparent: `00-${TRACE}-${SPAN}-01` };
    const hop = propagateTraceContext(Object.create(proto) as IncomingHeaders, { ids: sequenceIds(1) });
    expect(hop.traceId).toBeUndefined();
  });
});
