// Picks the compiled route rule (matchRoute: path/header/query/method matches, Gateway API
// precedence) and answers what needs no upstream: 404 when a table exists but nothing matches,
// and redirects.
import { matchRoute, type RouteRedirect, type RouteTable, rewritePath } from '@weft/policy';
import { localReply } from '../../http/local-reply.ts';
import type { L7Request, L7Response, RouteDecision } from '../../http/message.ts';
import type { Filter, FilterContext } from '../types.ts';

// Whether any match of a table looks at headers (once per table: matchRoute then gets no
// header record to index on every request).
const tableReadsHeaders = new WeakMap<RouteTable, boolean>();
function needsHeaders(table: RouteTable): boolean {
  let v = tableReadsHeaders.get(table);
  if (v === undefined) {
    v = table.rules.some((r) => r.matches.some((m) => (m.headers?.length ?? 0) > 0));
    tableReadsHeaders.set(table, v);
  }
  return v;
}

export function routeFilter(_fctx: FilterContext): Filter {
  return (next) => (req) => {
    const ctx = req.ctx;
    const target = ctx.target;
    if (target.kind !== 'service' || target.routes === undefined) return next(req);
    const r = matchRoute(target.routes, {
      service: target.service.hostname,
      port: target.port.port,
      method: req.method,
      path: req.path,
      authority: req.authority,
      ...(needsHeaders(target.routes)
        ? { headers: req.headers as Readonly<Record<string, string | readonly string[]>> }
        : {}),
    });
    switch (r.kind) {
      case 'no-routes':
        return next(req);
      case 'no-match':
        return Promise.resolve(localReply(req, 404, 'no route matched', { flags: ['NR'] }));
      case 'invalid-request':
        return Promise.resolve(localReply(req, 400, r.reason));
      case 'matched': {
        const s = r.rule.source;
        const decision: RouteDecision = {
          name: `${s.kind}/${s.namespace}/${s.name}/${s.rule}`,
          rule: r.rule,
          match: r.match,
          path: r.path,
          query: r.query,
          servicePort: target.port.port,
        };
        ctx.route = decision;
        const redirect = r.rule.filters.redirect;
        if (redirect !== undefined) return Promise.resolve(redirectReply(req, decision, redirect));
        return next(req);
      }
      default: {
        const never: never = r;
        return never;
      }
    }
  };
}

/** The Location of a redirect (Gateway API RequestRedirect / VirtualService redirect). */
export function redirectLocation(req: L7Request, decision: RouteDecision, redirect: RouteRedirect): string {
  const scheme = redirect.scheme ?? req.scheme;
  const authority = req.authority;
  let host = redirect.host;
  let port: number | undefined = redirect.port;
  if (host === undefined) {
    // keep the request's host; its port only when the scheme did not change
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
    host = m?.[1] ?? authority;
    if (port === undefined && redirect.scheme === undefined && m?.[2] !== undefined) port = Number(m[2]);
  }
  const defaultPort = scheme === 'https' ? 443 : 80;
  const hostPort = port === undefined || port === defaultPort ? host : `${host}:${port}`;
  const path =
    redirect.path === undefined
      ? decision.path
      : rewritePath(decision.path, redirect.path, decision.match?.path);
  const query = decision.query === undefined ? '' : `?${decision.query}`;
  return `${scheme}://${hostPort}${path}${query}`;
}

function redirectReply(req: L7Request, decision: RouteDecision, redirect: RouteRedirect): L7Response {
  return {
    status: redirect.statusCode,
    headers: { location: redirectLocation(req, decision, redirect), 'content-length': '0' },
    body: { kind: 'empty' },
  };
}
