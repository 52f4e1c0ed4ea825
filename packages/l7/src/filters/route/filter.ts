// Executes the route decision (`decide.ts`): records the matched rule for the later filters, or
// answers what needs no upstream (404 NR, 400, redirects).
import { localReply } from '../../http/local-reply.ts';
import type { Filter, FilterContext } from '../types.ts';
import { decideRoute } from './decide.ts';

export function routeFilter(_fctx: FilterContext): Filter {
  return (next) => (req) => {
    const ctx = req.ctx;
    const outcome = decideRoute(ctx.applied, ctx.target, req);
    switch (outcome.kind) {
      case 'pass':
        return next(req);
      case 'reply':
        return Promise.resolve(localReply(req, outcome.status, outcome.message, { flags: outcome.flags }));
      case 'route':
        ctx.route = outcome.route;
        return next(req);
      case 'redirect':
        ctx.route = outcome.route;
        return Promise.resolve({
          status: outcome.status,
          headers: { location: outcome.location, 'content-length': '0' },
          body: { kind: 'empty' },
        });
      default: {
        const never: never = outcome;
        return never;
      }
    }
  };
}
