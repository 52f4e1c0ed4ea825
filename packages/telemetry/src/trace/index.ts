export {
  B3_HEADERS,
  type B3Context,
  type B3Rejection,
  type B3Sampling,
  b3NextHop,
  b3Sampled,
  formatB3Multi,
  formatB3Single,
  type HeaderValue,
  parseB3Multi,
  parseB3Single,
} from './b3.ts';
export { type IdSource, randomIds } from './ids.ts';
export {
  type BaggageRejection,
  parseBaggage,
  parseTracestate,
  type TraceStateRejection,
} from './passthrough.ts';
export {
  type IncomingHeaders,
  isSaneRequestId,
  type PropagateOptions,
  propagateTraceContext,
  type RequestIdRejection,
  TRACE_HEADER_NAMES,
  type TraceHeaderName,
  type TraceHop,
  type TraceRejection,
} from './propagate.ts';
export type { Parsed } from './result.ts';
export {
  FLAG_RANDOM,
  FLAG_SAMPLED,
  formatTraceparent,
  isSampled,
  newTraceparent,
  nextHop,
  parseTraceparent,
  type TraceParent,
  type TraceParentRejection,
} from './traceparent.ts';
