// One call per proxied request: read the incoming trace headers, decide what goes upstream.
// The proxy removes every name in TRACE_HEADER_NAMES from the upstream request and sets
// `hop.headers`: invalid incoming values are therefore dropped rather than forwarded, and each
// refusal is reported in `hop.rejected` (header + reason) for the proxy's rejected-input counter.
//
// Per hop: W3C traceparent keeps its trace id and gets a new parent id; B3 (single or multi,
// whichever arrived; single wins when both do) gets the same new span id; tracestate and baggage
// pass through when valid; x-request-id is kept when sane, otherwise a fresh UUID v4 is made.

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
import { type IdSource, randomIds } from './ids.ts';
import {
  type BaggageRejection,
  parseBaggage,
  parseTracestate,
  type TraceStateRejection,
} from './passthrough.ts';
import {
  formatTraceparent,
  isSampled,
  newTraceparent,
  nextHop,
  parseTraceparent,
  type TraceParent,
  type TraceParentRejection,
  trimOws,
} from './traceparent.ts';

export type { HeaderValue } from './b3.ts';

/** Every header this module reads or writes (lowercase). */
export const TRACE_HEADER_NAMES = [
  'traceparent',
  'tracestate',
  'baggage',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-request-id',
] as const;

export type TraceHeaderName = (typeof TRACE_HEADER_NAMES)[number];

/** Node-style headers (lowercase keys, string or string[] values) or a fetch-style `Headers`. */
export type IncomingHeaders = Readonly<Record<string, HeaderValue>> | { get(name: string): string | null };

export type RequestIdRejection = 'bad_request_id' | 'duplicate';

export type TraceRejection =
  | { readonly header: 'traceparent'; readonly reason: TraceParentRejection }
  | { readonly header: 'tracestate'; readonly reason: TraceStateRejection | 'without_traceparent' }
  | { readonly header: 'baggage'; readonly reason: BaggageRejection }
  | { readonly header: 'b3'; readonly reason: B3Rejection }
  | { readonly header: 'x-b3'; readonly reason: B3Rejection }
  | { readonly header: 'x-request-id'; readonly reason: RequestIdRejection };

export interface PropagateOptions {
  readonly ids?: IdSource;
  /**
   * When no valid traceparent arrived, start a new W3C trace with this sampling decision.
   * Absent: do not start one (only B3 or nothing is sent on).
   */
  readonly startTraceSampled?: boolean | undefined;
  /** Keep a sane incoming x-request-id (default true); false always makes a new one. */
  readonly keepRequestId?: boolean | undefined;
}

/** What this hop sends upstream and what it knows for its logs. */
export interface TraceHop {
  /** Set these on the upstream request after removing all TRACE_HEADER_NAMES. */
  readonly headers: Readonly<Partial<Record<TraceHeaderName, string>>>;
  readonly requestId: string;
  /** The trace id (W3C's if present, else B3's). */
  readonly traceId: string | undefined;
  /** This hop's span id, as sent upstream. */
  readonly spanId: string | undefined;
  /** The caller's span id. */
  readonly parentSpanId: string | undefined;
  readonly sampled: boolean | undefined;
  /** Incoming headers refused (and therefore not forwarded). */
  readonly rejected: readonly TraceRejection[];
}

const REQUEST_ID_MAX = 128;

/** Computes the upstream trace headers for one request. Never throws on header content. */
export function propagateTraceContext(incoming: IncomingHeaders, options: PropagateOptions = {}): TraceHop {
  const ids = options.ids ?? randomIds;
  const get = headerGetter(incoming);
  const headers: Partial<Record<TraceHeaderName, string>> = {};
  const rejected: TraceRejection[] = [];

  // W3C
  let parent: TraceParent | undefined;
  const rawTp = get('traceparent');
  if (rawTp !== undefined) {
    if (typeof rawTp !== 'string') {
      rejected.push({ header: 'traceparent', reason: 'duplicate' });
    } else {
      const r = parseTraceparent(rawTp);
      if (r.ok) parent = r.value;
      else rejected.push({ header: 'traceparent', reason: r.reason });
    }
  }
  let out: TraceParent | undefined;
  if (parent !== undefined) out = nextHop(parent, ids);
  else if (options.startTraceSampled !== undefined) out = newTraceparent(options.startTraceSampled, ids);
  if (out !== undefined) headers.traceparent = formatTraceparent(out);

  // tracestate only travels with the traceparent it belongs to
  const rawTs = get('tracestate');
  if (rawTs !== undefined) {
    if (parent === undefined) {
      rejected.push({ header: 'tracestate', reason: 'without_traceparent' });
    } else {
      const r = parseTracestate(rawTs);
      if (!r.ok) rejected.push({ header: 'tracestate', reason: r.reason });
      else if (r.value.length > 0) headers.tracestate = r.value;
    }
  }

  const rawBaggage = get('baggage');
  if (rawBaggage !== undefined) {
    const r = parseBaggage(rawBaggage);
    if (!r.ok) rejected.push({ header: 'baggage', reason: r.reason });
    else if (r.value.length > 0) headers.baggage = r.value;
  }

  // B3: single header preferred when both encodings arrived
  let b3: B3Context | undefined;
  let b3Single = false;
  const rawB3 = get('b3');
  if (rawB3 !== undefined) {
    const r =
      typeof rawB3 === 'string' ? parseB3Single(rawB3) : ({ ok: false, reason: 'duplicate' } as const);
    if (r.ok) {
      b3 = r.value;
      b3Single = true;
    } else rejected.push({ header: 'b3', reason: r.reason });
  }
  if (b3 === undefined) {
    const r = parseB3Multi(get);
    if (r !== undefined) {
      if (r.ok) b3 = r.value;
      else rejected.push({ header: 'x-b3', reason: r.reason });
    }
  }
  let b3Out: B3Context | undefined;
  if (b3 !== undefined) {
    b3Out = b3NextHop(b3, ids, out?.parentId); // one span per hop, whatever the encoding
    if (b3Single) headers.b3 = formatB3Single(b3Out);
    else Object.assign(headers, formatB3Multi(b3Out));
  }

  // x-request-id
  let requestId: string | undefined;
  const rawRid = get('x-request-id');
  if (rawRid !== undefined && options.keepRequestId !== false) {
    if (typeof rawRid !== 'string') rejected.push({ header: 'x-request-id', reason: 'duplicate' });
    else {
      const rid = trimOws(rawRid);
      if (isSaneRequestId(rid)) requestId = rid;
      else rejected.push({ header: 'x-request-id', reason: 'bad_request_id' });
    }
  }
  requestId ??= ids.requestId();
  headers['x-request-id'] = requestId;

  let traceId: string | undefined;
  let spanId: string | undefined;
  let parentSpanId: string | undefined;
  let sampled: boolean | undefined;
  if (out !== undefined) {
    traceId = out.traceId;
    spanId = out.parentId;
    parentSpanId = parent?.parentId;
    sampled = isSampled(out);
  } else if (b3Out?.traceId !== undefined) {
    traceId = b3Out.traceId;
    spanId = b3Out.spanId;
    parentSpanId = b3Out.parentSpanId;
    sampled = b3Sampled(b3Out);
  } else if (b3Out !== undefined) {
    sampled = b3Sampled(b3Out);
  }
  return { headers, requestId, traceId, spanId, parentSpanId, sampled, rejected };
}

/** 1..128 visible ASCII characters (no space, no control characters). */
export function isSaneRequestId(value: string): boolean {
  if (value.length === 0 || value.length > REQUEST_ID_MAX) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function headerGetter(h: IncomingHeaders): (name: string) => HeaderValue {
  const maybeGet = (h as { get?: unknown }).get;
  if (typeof maybeGet === 'function') {
    const fetchHeaders = h as { get(name: string): string | null };
    return (name) => fetchHeaders.get(name) ?? undefined;
  }
  const record = h as Readonly<Record<string, HeaderValue>>;
  return (name) => {
    const v = Object.hasOwn(record, name) ? record[name] : undefined;
    // a one-element array is just the value
    if (v !== undefined && typeof v !== 'string' && v.length === 1) return v[0];
    return v;
  };
}
