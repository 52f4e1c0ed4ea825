// W3C Trace Context `traceparent`: version "-" trace-id "-" parent-id "-" trace-flags, all
// lowercase hex. Parsing is strict (uppercase, all-zero ids, version ff, trailing data on
// version 00 are refused) and cheap (fixed offsets, no regex). Higher versions are accepted as
// the spec asks: the first four fields are read and anything after a '-' at offset 55 ignored;
// what we send on is always version 00.

import { type IdSource, isLowerHex, isZeroId, randomIds } from './ids.ts';
import { fail, ok, type Parsed } from './result.ts';

export interface TraceParent {
  /** Two hex digits; "00" for everything we emit. */
  readonly version: string;
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** The caller's span id: 16 lowercase hex digits, not all zero. */
  readonly parentId: string;
  /** trace-flags as a number (bit 0: sampled, bit 1: random trace id). */
  readonly flags: number;
}

export type TraceParentRejection =
  | 'empty'
  | 'too_long'
  | 'malformed'
  | 'bad_version'
  | 'bad_trace_id'
  | 'zero_trace_id'
  | 'bad_parent_id'
  | 'zero_parent_id'
  | 'bad_flags'
  | 'duplicate';

export const FLAG_SAMPLED = 0x01;
export const FLAG_RANDOM = 0x02;
/** Flags we understand and pass on; other bits are cleared when we emit version 00. */
const KNOWN_FLAGS = FLAG_SAMPLED | FLAG_RANDOM;
/** Longest header we look at; version 00 is 55 chars, future versions may add fields. */
const MAX_LENGTH = 512;

/** Parses one `traceparent` header value. */
export function parseTraceparent(input: string): Parsed<TraceParent, TraceParentRejection> {
  if (input.length > MAX_LENGTH) return fail('too_long');
  const value = trimOws(input);
  if (value.length === 0) return fail('empty');
  if (value.length < 55) return fail('malformed');
  if (value.charCodeAt(2) !== 0x2d || value.charCodeAt(35) !== 0x2d || value.charCodeAt(52) !== 0x2d) {
    return fail('malformed');
  }
  const version = value.slice(0, 2);
  if (!isLowerHex(version, 2) || version === 'ff') return fail('bad_version');
  if (version === '00') {
    if (value.length !== 55) return fail('malformed');
  } else if (value.length > 55 && value.charCodeAt(55) !== 0x2d) {
    return fail('malformed');
  }
  const traceId = value.slice(3, 35);
  if (!isLowerHex(traceId, 32)) return fail('bad_trace_id');
  if (isZeroId(traceId)) return fail('zero_trace_id');
  const parentId = value.slice(36, 52);
  if (!isLowerHex(parentId, 16)) return fail('bad_parent_id');
  if (isZeroId(parentId)) return fail('zero_parent_id');
  const flagsHex = value.slice(53, 55);
  if (!isLowerHex(flagsHex, 2)) return fail('bad_flags');
  return ok({ version, traceId, parentId, flags: Number.parseInt(flagsHex, 16) });
}

/** Formats as a version-00 header value. */
export function formatTraceparent(tp: TraceParent): string {
  const flags = tp.flags & 0xff;
  return `00-${tp.traceId}-${tp.parentId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`;
}

/**
 * The context to send to the next hop: same trace id, a new span id (this hop's span) as the
 * parent id, flags kept (unknown bits cleared), version 00.
 */
export function nextHop(tp: TraceParent, ids: IdSource = randomIds): TraceParent {
  return { version: '00', traceId: tp.traceId, parentId: ids.spanId(), flags: tp.flags & KNOWN_FLAGS };
}

/** A new trace (no usable incoming context): random trace id, flags 'random' + sampled choice. */
export function newTraceparent(sampled: boolean, ids: IdSource = randomIds): TraceParent {
  return {
    version: '00',
    traceId: ids.traceId(),
    parentId: ids.spanId(),
    flags: FLAG_RANDOM | (sampled ? FLAG_SAMPLED : 0),
  };
}

export function isSampled(tp: TraceParent): boolean {
  return (tp.flags & FLAG_SAMPLED) !== 0;
}

/** Strips HTTP optional whitespace (space, tab) at both ends. */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
