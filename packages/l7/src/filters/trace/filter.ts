// x-request-id (kept when sane, generated when absent), W3C traceparent and B3 with a new span
// id for this hop; invalid incoming values are dropped and counted, never forwarded.
import { propagateTraceContext, TRACE_HEADER_NAMES } from '@weft/telemetry';
import type { Filter, FilterContext } from '../types.ts';
import type { TraceConfig } from './config.ts';

export function traceFilter(cfg: TraceConfig, fctx: FilterContext): Filter {
  const opts = {
    ...(cfg.startTraceSampled !== undefined ? { startTraceSampled: cfg.startTraceSampled } : {}),
    ...(cfg.keepRequestId !== undefined ? { keepRequestId: cfg.keepRequestId } : {}),
    ...(fctx.ids !== undefined ? { ids: fctx.ids } : {}),
  };
  const rejected = fctx.telemetry.rejects.bind('bad_trace_header');
  return (next) => (req) => {
    const headers = req.headers;
    const hop = propagateTraceContext(headers, opts);
    if (hop.rejected.length > 0) rejected.inc(hop.rejected.length);
    for (const name of TRACE_HEADER_NAMES) if (headers[name] !== undefined) delete headers[name];
    for (const name in hop.headers) headers[name] = hop.headers[name as keyof typeof hop.headers];
    req.ctx.requestId = hop.requestId;
    req.ctx.traceId = hop.traceId;
    if (!cfg.echoRequestId) return next(req);
    return next(req).then((res) => {
      res.headers['x-request-id'] = hop.requestId;
      return res;
    });
  };
}
