// Header modification: the route rule's request/response header filters, then the ones this
// filter was configured with (remove, set, add).

import type { HeaderModifier } from '@weft/policy';
import { applyHeaderModifier } from '../../http/headers.ts';
import type { L7Response } from '../../http/message.ts';
import type { Filter } from '../types.ts';
import type { HeadersConfig } from './config.ts';

export function headersFilter(cfg: HeadersConfig): Filter {
  const staticRequest = cfg.request;
  const staticResponse = cfg.response;
  return (next) => (req) => {
    const filters = cfg.fromRoute ? req.ctx.route?.rule.filters : undefined;
    applyHeaderModifier(req.headers, filters?.requestHeaders);
    applyHeaderModifier(req.headers, staticRequest);
    // nothing to do on the response: hand the promise on as it is
    if (filters?.responseHeaders === undefined && staticResponse === undefined) return next(req);
    return next(req).then((res) => respond(res, filters?.responseHeaders));
  };

  function respond(res: L7Response, routeResponse: HeaderModifier | undefined): L7Response {
    if (res.upgraded === undefined) {
      applyHeaderModifier(res.headers, routeResponse);
      applyHeaderModifier(res.headers, staticResponse);
    }
    return res;
  }
}
