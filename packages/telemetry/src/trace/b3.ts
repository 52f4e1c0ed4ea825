// Zipkin B3 propagation, both encodings:
//   multi:  x-b3-traceid (16|32 hex), x-b3-spanid (16), x-b3-parentspanid (16), x-b3-sampled (0|1),
//           x-b3-flags (1 = debug)
//   single: b3: {traceid}-{spanid}[-{sampling}[-{parentspanid}]]  or just {sampling} (0|1|d)
// Ids are lowercase hex and never all zero. A hop keeps the trace id, moves the incoming span id
// to the parent and sends a new span id, in the encoding it received. A sampling-only context
// (no ids) is passed on unchanged.

import { type IdSource, isLowerHex, isZeroId, randomIds } from './ids.ts';
import { fail, ok, type Parsed } from './result.ts';
import { trimOws } from './traceparent.ts';

export type B3Sampling = '0' | '1' | 'd';

export interface B3Context {
  /** 16 or 32 lowercase hex; absent in a sampling-only context. */
  readonly traceId?: string | undefined;
  /** 16 lowercase hex; present exactly when traceId is. */
  readonly spanId?: string | undefined;
  readonly parentSpanId?: string | undefined;
  /** Absent: the sampling decision is deferred. 'd' = debug (implies sampled). */
  readonly sampling?: B3Sampling | undefined;
}

export type B3Rejection =
  | 'too_long'
  | 'malformed'
  | 'bad_trace_id'
  | 'bad_span_id'
  | 'bad_parent_span_id'
  | 'bad_sampling'
  | 'bad_flags'
  | 'missing_span_id'
  | 'missing_trace_id'
  | 'duplicate';

/** The multi-header names (lowercase, as Node presents them). */
export const B3_HEADERS = {
  traceId: 'x-b3-traceid',
  spanId: 'x-b3-spanid',
  parentSpanId: 'x-b3-parentspanid',
  sampled: 'x-b3-sampled',
  flags: 'x-b3-flags',
} as const;

const MAX_SINGLE_LENGTH = 128; // 32+1+16+1+1+1+16 = 68 at most when valid

/** Parses the single `b3` header. */
export function parseB3Single(input: string): Parsed<B3Context, B3Rejection> {
  if (input.length > MAX_SINGLE_LENGTH) return fail('too_long');
  const value = trimOws(input);
  if (value.length === 0) return fail('malformed');
  if (value.length === 1) {
    const sampling = singleSampling(value);
    return sampling === undefined ? fail('bad_sampling') : ok({ sampling });
  }
  const parts = value.split('-');
  if (parts.length < 2 || parts.length > 4) return fail('malformed');
  const [traceId = '', spanId = '', samplingPart, parentSpanId] = parts;
  if (!validTraceId(traceId)) return fail('bad_trace_id');
  if (!validSpanId(spanId)) return fail('bad_span_id');
  let sampling: B3Sampling | undefined;
  if (samplingPart !== undefined) {
    sampling = singleSampling(samplingPart);
    if (sampling === undefined) return fail('bad_sampling');
  }
  if (parentSpanId !== undefined && !validSpanId(parentSpanId)) return fail('bad_parent_span_id');
  return ok({ traceId, spanId, parentSpanId, sampling });
}

export type HeaderValue = string | readonly string[] | undefined;

/**
 * Parses the multi-header encoding from a header getter (lowercase names). `undefined` when
 * none of the x-b3-* headers is present.
 */
export function parseB3Multi(get: (name: string) => HeaderValue): Parsed<B3Context, B3Rejection> | undefined {
  const rawTrace = get(B3_HEADERS.traceId);
  const rawSpan = get(B3_HEADERS.spanId);
  const rawParent = get(B3_HEADERS.parentSpanId);
  const rawSampled = get(B3_HEADERS.sampled);
  const rawFlags = get(B3_HEADERS.flags);
  if (
    rawTrace === undefined &&
    rawSpan === undefined &&
    rawParent === undefined &&
    rawSampled === undefined &&
    rawFlags === undefined
  ) {
    return undefined;
  }
  for (const v of [rawTrace, rawSpan, rawParent, rawSampled, rawFlags]) {
    if (v !== undefined && typeof v !== 'string') return fail('duplicate');
    if (typeof v === 'string' && v.length > MAX_SINGLE_LENGTH) return fail('too_long');
  }
  const traceId = optTrim(rawTrace as string | undefined);
  const spanId = optTrim(rawSpan as string | undefined);
  const parentSpanId = optTrim(rawParent as string | undefined);
  const sampled = optTrim(rawSampled as string | undefined);
  const flags = optTrim(rawFlags as string | undefined);

  let sampling: B3Sampling | undefined;
  if (flags !== undefined) {
    if (flags === '1') sampling = 'd';
    else if (flags !== '0') return fail('bad_flags');
  }
  if (sampling === undefined && sampled !== undefined) {
    if (sampled === '1' || sampled === 'true') sampling = '1';
    else if (sampled === '0' || sampled === 'false') sampling = '0';
    else return fail('bad_sampling');
  }
  if (traceId === undefined && spanId === undefined) {
    if (parentSpanId !== undefined) return fail('missing_trace_id');
    return ok({ sampling });
  }
  if (traceId === undefined) return fail('missing_trace_id');
  if (spanId === undefined) return fail('missing_span_id');
  if (!validTraceId(traceId)) return fail('bad_trace_id');
  if (!validSpanId(spanId)) return fail('bad_span_id');
  if (parentSpanId !== undefined && !validSpanId(parentSpanId)) return fail('bad_parent_span_id');
  return ok({ traceId, spanId, parentSpanId, sampling });
}

/** Formats the single `b3` header value. */
export function formatB3Single(ctx: B3Context): string {
  if (ctx.traceId === undefined || ctx.spanId === undefined) return ctx.sampling ?? '';
  let out = `${ctx.traceId}-${ctx.spanId}`;
  // the parent id can only follow a sampling field; without one it is left out
  if (ctx.sampling !== undefined) {
    out += `-${ctx.sampling}`;
    if (ctx.parentSpanId !== undefined) out += `-${ctx.parentSpanId}`;
  }
  return out;
}

/** The multi-header encoding (lowercase names). Debug is sent as x-b3-flags: 1 alone. */
export function formatB3Multi(ctx: B3Context): Record<string, string> {
  const out: Record<string, string> = {};
  if (ctx.traceId !== undefined && ctx.spanId !== undefined) {
    out[B3_HEADERS.traceId] = ctx.traceId;
    out[B3_HEADERS.spanId] = ctx.spanId;
    if (ctx.parentSpanId !== undefined) out[B3_HEADERS.parentSpanId] = ctx.parentSpanId;
  }
  if (ctx.sampling === 'd') out[B3_HEADERS.flags] = '1';
  else if (ctx.sampling !== undefined) out[B3_HEADERS.sampled] = ctx.sampling;
  return out;
}

/**
 * The context for the next hop: same trace id, parent = incoming span id, a new span id
 * (`spanId` if given, so W3C and B3 can share this hop's span). Sampling-only passes unchanged.
 */
export function b3NextHop(ctx: B3Context, ids: IdSource = randomIds, spanId?: string): B3Context {
  if (ctx.traceId === undefined || ctx.spanId === undefined) return ctx;
  return {
    traceId: ctx.traceId,
    spanId: spanId ?? ids.spanId(),
    parentSpanId: ctx.spanId,
    sampling: ctx.sampling,
  };
}

/** true / false, or undefined when the decision is deferred. */
export function b3Sampled(ctx: B3Context): boolean | undefined {
  return ctx.sampling === undefined ? undefined : ctx.sampling !== '0';
}

function singleSampling(s: string): B3Sampling | undefined {
  return s === '0' || s === '1' || s === 'd' ? s : undefined;
}

function validTraceId(s: string): boolean {
  return (isLowerHex(s, 32) || isLowerHex(s, 16)) && !isZeroId(s);
}

function validSpanId(s: string): boolean {
  return isLowerHex(s, 16) && !isZeroId(s);
}

function optTrim(v: string | undefined): string | undefined {
  return v === undefined ? undefined : trimOws(v);
}
