// The route decision, pure: which rule of the route table the role applies matches the request
// (`matchRoute`: path/header/query/method matches, Gateway API precedence), or the local reply
// that needs no upstream (404 when a table exists but nothing matches, 400, redirects).

import type { RouteRedirect, RouteTable } from '@weft/policy';
import { matchRoute, rewritePath } from '@weft/policy/runtime';
import type { Target } from '@weft/proxy-core';
import type { ResponseFlag } from '@weft/telemetry';
import type { Headers, RouteDecision } from '../../http/message.ts';
import type { Applied } from '../../role.ts';

/** What the route decision reads of a request. */
export interface RouteRequest {
  readonly method: string;
  /** Normalized path plus "?query". */
  readonly path: string;
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly headers: Headers;
}

export type RouteOutcome =
  /** No route table applies: the request goes to its destination as addressed. */
  | { readonly kind: 'pass' }
  | { readonly kind: 'route'; readonly route: RouteDecision }
  | {
      readonly kind: 'redirect';
      readonly route: RouteDecision;
      readonly status: number;
      readonly location: string;
    }
  | {
      readonly kind: 'reply';
      readonly status: number;
      readonly message: string;
      readonly flags: readonly ResponseFlag[];
    };

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

/** The route outcome for `req` sent to `target`, with the route table `applied` by the role. */
export function decideRoute(applied: Applied, target: Target, req: RouteRequest): RouteOutcome {
  const table = applied.routes;
  if (target.kind !== 'service' || table === undefined) return { kind: 'pass' };
  const r = matchRoute(table, {
    service: target.service.hostname,
    port: target.port.port,
    method: req.method,
    path: req.path,
    authority: req.authority,
    ...(needsHeaders(table)
      ? { headers: req.headers as Readonly<Record<string, string | readonly string[]>> }
      : {}),
  });
  switch (r.kind) {
    case 'no-routes':
      return { kind: 'pass' };
    case 'no-match':
      return { kind: 'reply', status: 404, message: 'no route matched', flags: ['NR'] };
    case 'invalid-request':
      return { kind: 'reply', status: 400, message: r.reason, flags: [] };
    case 'matched': {
      const s = r.rule.source;
      const route: RouteDecision = {
        name: `${s.kind}/${s.namespace}/${s.name}/${s.rule}`,
        rule: r.rule,
        match: r.match,
        path: r.path,
        query: r.query,
        servicePort: target.port.port,
      };
      const redirect = r.rule.filters.redirect;
      if (redirect === undefined) return { kind: 'route', route };
      return {
        kind: 'redirect',
        route,
        status: redirect.statusCode,
        location: redirectLocation(req, route, redirect),
      };
    }
    default: {
      const never: never = r;
      return never;
    }
  }
}

/** The Location of a redirect (Gateway API RequestRedirect / VirtualService redirect). */
export function redirectLocation(
  req: { readonly scheme: 'http' | 'https'; readonly authority: string },
  decision: RouteDecision,
  redirect: RouteRedirect,
): string {
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
