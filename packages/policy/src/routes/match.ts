// matchRoute: which compiled rule serves a request. Pure; every L7 data plane calls it.
import { type NormalizePathOptions, normalizeHost, normalizePath } from '../path/normalize.ts';
import type {
  HeaderMatch,
  PathMatch,
  QueryParamMatch,
  RouteMatch,
  RouteRule,
  RouteTable,
  StringMatch,
  WeightedBackend,
} from './types.ts';

export interface RouteRequest {
  /** Service hostname the request is addressed to (the proxy resolved it from VIP or Host). */
  readonly service: string;
  /** Service port. */
  readonly port: number;
  readonly method?: string;
  /** Raw request target (:path); normalized before matching. */
  readonly path?: string;
  /** Host / :authority, for VirtualService authority matches. */
  readonly authority?: string;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

export type RouteMatchResult =
  | {
      readonly kind: 'matched';
      readonly table: RouteTable;
      readonly rule: RouteRule;
      readonly ruleIndex: number;
      /** The match that matched; undefined when the rule matches everything. */
      readonly match: RouteMatch | undefined;
      /** Input for chooseWeighted. Empty: nothing to send to (redirect, or answer 500). */
      readonly backends: readonly WeightedBackend[];
      /** Normalized path and raw query, for rewrites and forwarding. */
      readonly path: string;
      readonly query: string | undefined;
    }
  /** No routes for this service port: send to the service itself. */
  | { readonly kind: 'no-routes' }
  /** Routes exist but none matched: answer 404. */
  | { readonly kind: 'no-match'; readonly table: RouteTable }
  /** The path or authority could not be normalized: answer 400. */
  | { readonly kind: 'invalid-request'; readonly reason: string };

const regexCache = new Map<string, RegExp>();

function fullRegex(pattern: string, ignoreCase = false): RegExp {
  const key = `${ignoreCase ? 'i' : '-'}${pattern}`;
  let re = regexCache.get(key);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, ignoreCase ? 'iu' : 'u');
    if (regexCache.size > 4096) regexCache.clear();
    regexCache.set(key, re);
  }
  return re;
}

function stringMatches(
  m: { readonly type: StringMatch['type']; readonly value: string; readonly ignoreCase?: boolean },
  v: string,
): boolean {
  const value = m.ignoreCase ? m.value.toLowerCase() : m.value;
  const subject = m.ignoreCase ? v.toLowerCase() : v;
  switch (m.type) {
    case 'exact':
      return subject === value;
    case 'prefix':
      return subject.startsWith(value);
    case 'regex':
      return fullRegex(m.value, m.ignoreCase).test(v);
    default: {
      const never: never = m.type;
      return never;
    }
  }
}

function pathMatches(m: PathMatch, path: string): boolean {
  if (m.type === 'path-prefix') {
    const value = m.ignoreCase ? m.value.toLowerCase() : m.value;
    const subject = m.ignoreCase ? path.toLowerCase() : path;
    const prefix = value.endsWith('/') ? value.slice(0, -1) : value;
    return prefix === '' || subject === prefix || subject.startsWith(`${prefix}/`);
  }
  return stringMatches({ ...m, type: m.type }, path);
}

function headerMatches(m: HeaderMatch, values: readonly string[] | undefined): boolean {
  let matched: boolean;
  if (values === undefined || values.length === 0) matched = false;
  else if (m.type === 'present') matched = true;
  else {
    const sm = { type: m.type, value: m.value ?? '' };
    matched =
      values.some((v) => stringMatches(sm, v)) || (values.length > 1 && stringMatches(sm, values.join(',')));
  }
  return m.invert ? !matched : matched;
}

function parseQuery(query: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!query) return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    const name = decode(rawName);
    const list = out.get(name) ?? [];
    list.push(decode(rawValue));
    out.set(name, list);
  }
  return out;
}

function queryMatches(m: QueryParamMatch, query: Map<string, string[]>): boolean {
  return (query.get(m.name) ?? []).some((v) => stringMatches(m, v));
}

/**
 * A request as the matchers read it. The header and query indexes are built on first use: most
 * route tables match on path and method alone, and building both on every request was a good
 * part of a match's cost.
 */
class Prepared {
  readonly port: number;
  readonly method: string | undefined;
  readonly path: string;
  readonly authority: string | undefined;
  private readonly rawHeaders: RouteRequest['headers'];
  private readonly rawQuery: string | undefined;
  private headerIndex: Map<string, string[]> | undefined;
  private queryIndex: Map<string, string[]> | undefined;

  constructor(request: RouteRequest, path: string, query: string | undefined, authority: string | undefined) {
    this.port = request.port;
    this.method = request.method;
    this.path = path;
    this.authority = authority;
    this.rawHeaders = request.headers;
    this.rawQuery = query;
  }

  get headers(): Map<string, string[]> {
    if (this.headerIndex === undefined) {
      const headers = new Map<string, string[]>();
      for (const [name, value] of Object.entries(this.rawHeaders ?? {})) {
        const key = name.toLowerCase();
        headers.set(key, [...(headers.get(key) ?? []), ...(typeof value === 'string' ? [value] : value)]);
      }
      this.headerIndex = headers;
    }
    return this.headerIndex;
  }

  get query(): Map<string, string[]> {
    this.queryIndex ??= parseQuery(this.rawQuery);
    return this.queryIndex;
  }
}

function matchOne(m: RouteMatch, r: Prepared): boolean {
  if (m.port !== undefined && m.port !== r.port) return false;
  if (m.method !== undefined && m.method !== r.method) return false;
  if (m.path && !pathMatches(m.path, r.path)) return false;
  if (m.authority && (r.authority === undefined || !stringMatches(m.authority, r.authority))) return false;
  for (const h of m.headers ?? []) {
    const values =
      h.name === ':method' ? (r.method === undefined ? undefined : [r.method]) : r.headers.get(h.name);
    if (!headerMatches(h, values)) return false;
  }
  for (const q of m.queryParams ?? []) if (!queryMatches(q, r.query)) return false;
  return true;
}

function isTable(routes: RouteTable | Readonly<Record<string, RouteTable>>): routes is RouteTable {
  return typeof (routes as RouteTable).key === 'string' && Array.isArray((routes as RouteTable).rules);
}

/**
 * Finds the rule for a request. `routes` is the table of the service port, or the snapshot's
 * whole `routes` record (looked up by "service:port").
 */
export function matchRoute(
  routes: RouteTable | Readonly<Record<string, RouteTable>> | undefined,
  request: RouteRequest,
  options: { readonly path?: NormalizePathOptions } = {},
): RouteMatchResult {
  const table =
    routes === undefined
      ? undefined
      : isTable(routes)
        ? routes
        : routes[`${request.service}:${request.port}`];
  if (!table) return { kind: 'no-routes' };
  let path = '/';
  let query: string | undefined;
  if (request.path !== undefined) {
    const n = normalizePath(request.path, options.path);
    if (!n.ok) return { kind: 'invalid-request', reason: `invalid request path: ${n.reason}` };
    path = n.path;
    query = n.query;
  }
  let authority: string | undefined;
  if (request.authority !== undefined) {
    const h = normalizeHost(request.authority);
    if (!h.ok) return { kind: 'invalid-request', reason: `invalid authority: ${h.reason}` };
    authority = h.host;
  }
  const prepared = new Prepared(request, path, query, authority);
  for (let i = 0; i < table.rules.length; i++) {
    const rule = table.rules[i] as RouteRule;
    if (rule.matches.length === 0) {
      return {
        kind: 'matched',
        table,
        rule,
        ruleIndex: i,
        match: undefined,
        backends: rule.backends,
        path,
        query,
      };
    }
    const match = rule.matches.find((m) => matchOne(m, prepared));
    if (match)
      return { kind: 'matched', table, rule, ruleIndex: i, match, backends: rule.backends, path, query };
  }
  return { kind: 'no-match', table };
}
