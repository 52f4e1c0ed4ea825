import { describe, expect, it } from 'vitest';
import { sequenceIds } from '../testing/index.ts';
import { randomIds } from './ids.ts';
import {
  formatTraceparent,
  isSampled,
  newTraceparent,
  nextHop,
  parseTraceparent,
  type TraceParentRejection,
} from './traceparent.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

describe('parseTraceparent: valid', () => {
  it.each([
    ['sampled', VALID, { version: '00', traceId: TRACE, parentId: SPAN, flags: 1 }],
    ['not sampled', `00-${TRACE}-${SPAN}-00`, { version: '00', traceId: TRACE, parentId: SPAN, flags: 0 }],
    ['random flag', `00-${TRACE}-${SPAN}-03`, { version: '00', traceId: TRACE, parentId: SPAN, flags: 3 }],
    ['OWS around', ` \t${VALID}\t `, { version: '00', traceId: TRACE, parentId: SPAN, flags: 1 }],
    [
      'future version, exact',
      `01-${TRACE}-${SPAN}-01`,
      { version: '01', traceId: TRACE, parentId: SPAN, flags: 1 },
    ],
    [
      'future version, extra field',
      `cc-${TRACE}-${SPAN}-01-what-the-future-holds`,
      { version: 'cc', traceId: TRACE, parentId: SPAN, flags: 1 },
    ],
  ])('%s', (_name, input, expected) => {
    expect(parseTraceparent(input)).toEqual({ ok: true, value: expected });
  });
});

describe('parseTraceparent: hostile and invalid', () => {
  const cases: [string, string, TraceParentRejection][] = [
    ['empty', '', 'empty'],
    ['whitespace only', '   ', 'empty'],
    ['too short', '00-abc-def-01', 'malformed'],
    ['version ff', `ff-${TRACE}-${SPAN}-01`, 'bad_version'],
    ['version uppercase', `0A-${TRACE}-${SPAN}-01`, 'bad_version'],
    ['version non-hex', `0g-${TRACE}-${SPAN}-01`, 'bad_version'],
    ['version 00 with trailing data', `${VALID}-extra`, 'malformed'],
    ['version 00 with trailing char', `${VALID}x`, 'malformed'],
    ['future version, no dash after flags', `cc-${TRACE}-${SPAN}-01x`, 'malformed'],
    ['uppercase trace id', `00-${TRACE.toUpperCase()}-${SPAN}-01`, 'bad_trace_id'],
    ['non-hex trace id', `00-${'g'.repeat(32)}-${SPAN}-01`, 'bad_trace_id'],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`, 'zero_trace_id'],
    ['uppercase parent id', `00-${TRACE}-${SPAN.toUpperCase().replace('0', 'A')}-01`, 'bad_parent_id'],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`, 'zero_parent_id'],
    ['flags non-hex', `00-${TRACE}-${SPAN}-0x`, 'bad_flags'],
    ['flags uppercase', `00-${TRACE}-${SPAN}-0F`, 'bad_flags'],
    ['wrong separators', `00_${TRACE}_${SPAN}_01`, 'malformed'],
    ['short trace id shifts fields', `00-${TRACE.slice(1)}-${SPAN}-01x`, 'malformed'],
    ['CRLF smuggling', `00-${TRACE}-${SPAN}-01\r\nx-evil: 1`, 'malformed'],
    ['NUL inside', `00-${TRACE.slice(0, 31)}\u0000-${SPAN}-01`, 'bad_trace_id'],
    ['unicode digits', `00-${'٤'.repeat(32)}-${SPAN}-01`, 'bad_trace_id'],
    ['huge', `00-${TRACE}-${SPAN}-01${'-x'.repeat(10_000)}`, 'too_long'],
  ];
  it.each(cases)('%s', (_name, input, reason) => {
    expect(parseTraceparent(input)).toEqual({ ok: false, reason });
  });
});

describe('formatTraceparent / nextHop / newTraceparent', () => {
  it('formats version 00 with two-digit flags', () => {
    expect(formatTraceparent({ version: '00', traceId: TRACE, parentId: SPAN, flags: 1 })).toBe(VALID);
    expect(formatTraceparent({ version: '00', traceId: TRACE, parentId: SPAN, flags: 0x1f })).toBe(
      `00-${TRACE}-${SPAN}-1f`,
    );
  });

  it('keeps the trace id, makes a new span id, keeps known flags', () => {
    const ids = sequenceIds(0x42);
    const parsed = parseTraceparent(`cc-${TRACE}-${SPAN}-ff-future`);
    if (!parsed.ok) throw new Error(parsed.reason);
    const hop = nextHop(parsed.value, ids);
    expect(formatTraceparent(hop)).toBe(`00-${TRACE}-0000000000000042-03`);
  });

  it('makes a different span id per hop with the default id source', () => {
    const parsed = parseTraceparent(VALID);
    if (!parsed.ok) throw new Error(parsed.reason);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const hop = nextHop(parsed.value);
      expect(hop.traceId).toBe(TRACE);
      expect(hop.parentId).toMatch(/^[0-9a-f]{16}$/);
      expect(hop.parentId).not.toBe(SPAN);
      seen.add(hop.parentId);
      expect(parseTraceparent(formatTraceparent(hop)).ok).toBe(true);
    }
    expect(seen.size).toBe(1000);
  });

  it('starts a new trace', () => {
    const tp = newTraceparent(true, randomIds);
    expect(formatTraceparent(tp)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-03$/);
    expect(isSampled(tp)).toBe(true);
    expect(isSampled(newTraceparent(false))).toBe(false);
  });

  it('makes UUID v4 request ids', () => {
    expect(randomIds.requestId()).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
