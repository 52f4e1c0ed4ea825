// URL rewrite from the route rule: host (authority) and path (full, prefix or regex), the query
// kept. Later filters and the upstream see the rewritten request.
import { rewritePath } from '@weft/policy/runtime';
import type { Filter } from '../types.ts';

export function rewriteFilter(): Filter {
  return (next) => (req) => {
    const route = req.ctx.route;
    const rw = route?.rule.filters.rewrite;
    if (route === undefined || rw === undefined) return next(req);
    if (rw.host !== undefined) req.authority = rw.host;
    if (rw.path !== undefined) {
      const path = rewritePath(route.path, rw.path, route.match?.path);
      req.path = route.query === undefined ? path : `${path}?${route.query}`;
    }
    return next(req);
  };
}
