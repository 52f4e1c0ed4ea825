// Header modification: the route rule's request/response header filters, then the ones this
// filter was configured with (remove, set, add).
import { applyHeaderModifier } from '../../http/headers.ts';
import type { Filter } from '../types.ts';
import type { HeadersConfig } from './config.ts';

export function headersFilter(cfg: HeadersConfig): Filter {
  const staticRequest = cfg.request;
  const staticResponse = cfg.response;
  return (next) => async (req) => {
    const filters = cfg.fromRoute ? req.ctx.route?.rule.filters : undefined;
    applyHeaderModifier(req.headers, filters?.requestHeaders);
    applyHeaderModifier(req.headers, staticRequest);
    const res = await next(req);
    if (res.upgraded === undefined) {
      applyHeaderModifier(res.headers, filters?.responseHeaders);
      applyHeaderModifier(res.headers, staticResponse);
    }
    return res;
  };
}
