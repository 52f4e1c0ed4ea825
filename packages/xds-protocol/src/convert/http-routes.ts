// RouteTable <-> weft.v1.HttpRoutes (HTTPRoute, GRPCRoute, TCPRoute and VirtualService rules of
// one service port, in evaluation order). The domain's filter object becomes the wire's filter
// list in a fixed order: request headers, response headers, rewrite, redirect, mirrors.
import type {
  BackendRef,
  FaultPolicy,
  HeaderMatch,
  HeaderModifier,
  PathMatch,
  PathRewrite,
  QueryParamMatch,
  RetryPolicy,
  RouteFilters,
  RouteMatch,
  RouteMirror,
  RouteProtocol,
  RouteRule,
  RouteSource,
  RouteTable,
  StringMatch,
  WeightedBackend,
} from '@weft/policy';
import type { StringMatch as ProtoStringMatch } from '../gen/weft/v1/common.ts';
import type {
  FaultInjection,
  HttpFilter,
  HttpRouteMatch,
  HttpRouteRule,
  HttpRoutes,
  PathModifier,
  BackendRef as ProtoBackendRef,
  HeaderModifier as ProtoHeaderModifier,
  PathMatch as ProtoPathMatch,
  RetryPolicy as ProtoRetryPolicy,
} from '../gen/weft/v1/http_routes.ts';
import {
  at,
  type ConvertResult,
  convert,
  duration,
  durationMillis,
  exactlyOne,
  Invalid,
  optionalDuration,
  optionalPort,
  optionalString,
  port,
  requireString,
  stringMatchKind,
  withHash,
} from './common.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const PROTOCOLS: ReadonlySet<string> = new Set<RouteProtocol>(['http', 'grpc', 'tcp']);
const SOURCE_KINDS: ReadonlySet<string> = new Set<RouteSource['kind']>([
  'HTTPRoute',
  'GRPCRoute',
  'TCPRoute',
  'VirtualService',
]);

// ---- domain -> wire ----

function stringMatchToProto(m: StringMatch): ProtoStringMatch {
  return { [m.type]: m.value, ignoreCase: m.ignoreCase === true };
}

function pathToProto(p: PathMatch): ProtoPathMatch {
  const ignoreCase = p.ignoreCase === true;
  switch (p.type) {
    case 'exact':
      return { exact: p.value, ignoreCase };
    case 'path-prefix':
      return { prefix: p.value, ignoreCase };
    case 'prefix':
      return { plainPrefix: p.value, ignoreCase };
    case 'regex':
      return { regex: p.value, ignoreCase };
  }
}

function headerMatchToProto(h: HeaderMatch): HttpRouteMatch['headers'][number] {
  const value: ProtoStringMatch =
    h.type === 'present'
      ? { presence: true, ignoreCase: false }
      : { [h.type]: h.value ?? '', ignoreCase: false };
  return { name: h.name, value, invert: h.invert === true };
}

function matchToProto(m: RouteMatch): HttpRouteMatch {
  return {
    ...(m.path === undefined ? {} : { path: pathToProto(m.path) }),
    headers: (m.headers ?? []).map(headerMatchToProto),
    queryParams: (m.queryParams ?? []).map((q) => ({
      name: q.name,
      value: { [q.type]: q.value, ignoreCase: false },
    })),
    method: m.method ?? '',
    grpcService: '',
    grpcMethod: '',
    port: m.port ?? 0,
    ...(m.authority === undefined ? {} : { authority: stringMatchToProto(m.authority) }),
  };
}

function modifierToProto(m: HeaderModifier): ProtoHeaderModifier {
  return { set: [...(m.set ?? [])], add: [...(m.add ?? [])], remove: [...(m.remove ?? [])] };
}

function pathRewriteToProto(p: PathRewrite): PathModifier {
  switch (p.type) {
    case 'full':
      return { replaceFullPath: p.value };
    case 'prefix':
      return { replacePrefixMatch: p.value };
    case 'regex':
      return { replaceRegex: { pattern: p.pattern, substitution: p.substitution } };
  }
}

function backendRefToProto(
  b: BackendRef,
  weight: number,
  filters: HttpFilter[],
  unresolved?: string,
): ProtoBackendRef {
  return {
    hostname: b.host,
    port: b.port ?? 0,
    weight,
    subset: b.subset ?? '',
    filters,
    unresolved: unresolved ?? '',
  };
}

function backendFilters(b: {
  requestHeaders?: HeaderModifier;
  responseHeaders?: HeaderModifier;
}): HttpFilter[] {
  const out: HttpFilter[] = [];
  if (b.requestHeaders) out.push({ requestHeaderModifier: modifierToProto(b.requestHeaders) });
  if (b.responseHeaders) out.push({ responseHeaderModifier: modifierToProto(b.responseHeaders) });
  return out;
}

function filtersToProto(f: RouteFilters): HttpFilter[] {
  const out = backendFilters(f);
  if (f.rewrite) {
    out.push({
      urlRewrite: {
        hostname: f.rewrite.host ?? '',
        ...(f.rewrite.path === undefined ? {} : { path: pathRewriteToProto(f.rewrite.path) }),
      },
    });
  }
  if (f.redirect) {
    const r = f.redirect;
    out.push({
      requestRedirect: {
        scheme: r.scheme ?? '',
        hostname: r.host ?? '',
        ...(r.path === undefined ? {} : { path: pathRewriteToProto(r.path) }),
        port: r.port ?? 0,
        statusCode: r.statusCode,
      },
    });
  }
  for (const m of f.mirrors ?? []) {
    out.push({ requestMirror: { backend: backendRefToProto(m.backend, 1, []), percent: m.percent } });
  }
  return out;
}

function retryToProto(r: RetryPolicy): ProtoRetryPolicy {
  return {
    attempts: r.attempts,
    ...(r.perTryTimeoutMs === undefined ? {} : { perTryTimeout: duration(r.perTryTimeoutMs) }),
    retryOn: [...r.retryOn],
    retryOnStatus: [...r.retryOnStatus],
    ...(r.backoff === undefined
      ? {}
      : { backoff: duration(r.backoff.baseMs), maxBackoff: duration(r.backoff.maxMs) }),
  };
}

function faultToProto(f: FaultPolicy): FaultInjection {
  return {
    ...(f.delay === undefined
      ? {}
      : { delay: { fixedDelay: duration(f.delay.delayMs), percent: f.delay.percent } }),
    ...(f.abort === undefined
      ? {}
      : {
          abort: {
            ...(f.abort.httpStatus === undefined ? {} : { httpStatus: f.abort.httpStatus }),
            ...(f.abort.grpcStatus === undefined ? {} : { grpcStatusName: f.abort.grpcStatus }),
            percent: f.abort.percent,
          },
        }),
  };
}

function ruleToProto(r: RouteRule): HttpRouteRule {
  return {
    name: `${r.source.namespace}/${r.source.name}/${r.source.rule}`,
    matches: r.matches.map(matchToProto),
    filters: filtersToProto(r.filters),
    backends: r.backends.map((b) => backendRefToProto(b, b.weight, backendFilters(b), b.unresolved)),
    ...(r.timeouts?.requestMs === undefined ? {} : { requestTimeout: duration(r.timeouts.requestMs) }),
    ...(r.timeouts?.perTryMs === undefined ? {} : { backendRequestTimeout: duration(r.timeouts.perTryMs) }),
    ...(r.retries === undefined ? {} : { retry: retryToProto(r.retries) }),
    ...(r.fault === undefined ? {} : { fault: faultToProto(r.fault) }),
    source: { kind: r.source.kind, namespace: r.source.namespace, name: r.source.name, rule: r.source.rule },
    ruleName: r.name ?? '',
  };
}

export function toProtoHttpRoutes(table: RouteTable): HttpRoutes {
  return {
    hostname: table.host,
    port: table.port,
    rules: table.rules.map(ruleToProto),
    protocol: table.protocol,
  };
}

// ---- wire -> domain ----

function stringMatchFromProto(path: string, m: ProtoStringMatch): StringMatch {
  const { kind, value } = stringMatchKind(path, m);
  if (kind !== 'exact' && kind !== 'prefix' && kind !== 'regex') {
    throw new Invalid(at(path, kind), 'only exact, prefix and regex are allowed here');
  }
  return { type: kind, value, ...(m.ignoreCase ? { ignoreCase: true } : {}) };
}

function pathFromProto(path: string, p: ProtoPathMatch): PathMatch {
  const set: { type: PathMatch['type']; value: string }[] = [];
  if (p.exact !== undefined) set.push({ type: 'exact', value: p.exact });
  if (p.prefix !== undefined) set.push({ type: 'path-prefix', value: p.prefix });
  if (p.plainPrefix !== undefined) set.push({ type: 'prefix', value: p.plainPrefix });
  if (p.regex !== undefined) set.push({ type: 'regex', value: p.regex });
  const one = exactlyOne(path, set, 'exact, prefix, plain_prefix or regex');
  if (one.type === 'regex') checkRegex(at(path, 'regex'), one.value);
  return { ...one, ...(p.ignoreCase ? { ignoreCase: true } : {}) };
}

function checkRegex(path: string, pattern: string): void {
  try {
    new RegExp(pattern);
  } catch {
    throw new Invalid(path, `${JSON.stringify(pattern)} is not a regular expression`);
  }
}

function headerMatchFromProto(path: string, h: HttpRouteMatch['headers'][number]): HeaderMatch {
  const name = requireString(at(path, 'name'), h.name);
  if (h.value === undefined) throw new Invalid(at(path, 'value'), 'missing');
  const { kind, value } = stringMatchKind(at(path, 'value'), h.value);
  const invert = h.invert ? { invert: true } : {};
  if (kind === 'presence') return { name, type: 'present', ...invert };
  if (kind === 'suffix') throw new Invalid(at(at(path, 'value'), 'suffix'), 'not allowed here');
  if (kind === 'regex') checkRegex(at(at(path, 'value'), 'regex'), value);
  return { name, type: kind, value, ...invert };
}

function queryFromProto(path: string, q: HttpRouteMatch['queryParams'][number]): QueryParamMatch {
  if (q.value === undefined) throw new Invalid(at(path, 'value'), 'missing');
  const m = stringMatchFromProto(at(path, 'value'), q.value);
  return { name: requireString(at(path, 'name'), q.name), type: m.type, value: m.value };
}

function matchFromProto(path: string, m: HttpRouteMatch): RouteMatch {
  if (m.grpcService !== '' || m.grpcMethod !== '') {
    throw new Invalid(at(path, 'grpc_service'), 'not supported: gRPC methods are sent as path matches');
  }
  const out: Mutable<RouteMatch> = {};
  if (m.path !== undefined) out.path = pathFromProto(at(path, 'path'), m.path);
  if (m.method !== '') out.method = m.method;
  if (m.headers.length > 0)
    out.headers = m.headers.map((h, i) => headerMatchFromProto(at(at(path, 'headers'), i), h));
  if (m.queryParams.length > 0) {
    out.queryParams = m.queryParams.map((q, i) => queryFromProto(at(at(path, 'query_params'), i), q));
  }
  const p = optionalPort(at(path, 'port'), m.port);
  if (p !== undefined) out.port = p;
  if (m.authority !== undefined) out.authority = stringMatchFromProto(at(path, 'authority'), m.authority);
  return out;
}

function modifierFromProto(path: string, m: ProtoHeaderModifier): HeaderModifier {
  const pair = (field: string) => (h: { name: string; value: string }, i: number) => ({
    name: requireString(at(at(at(path, field), i), 'name'), h.name),
    value: h.value,
  });
  return {
    ...(m.set.length > 0 ? { set: m.set.map(pair('set')) } : {}),
    ...(m.add.length > 0 ? { add: m.add.map(pair('add')) } : {}),
    ...(m.remove.length > 0 ? { remove: [...m.remove] } : {}),
  };
}

function pathRewriteFromProto(path: string, p: PathModifier): PathRewrite {
  const set: PathRewrite[] = [];
  if (p.replaceFullPath !== undefined) set.push({ type: 'full', value: p.replaceFullPath });
  if (p.replacePrefixMatch !== undefined) set.push({ type: 'prefix', value: p.replacePrefixMatch });
  if (p.replaceRegex !== undefined) {
    checkRegex(at(at(path, 'replace_regex'), 'pattern'), p.replaceRegex.pattern);
    set.push({ type: 'regex', pattern: p.replaceRegex.pattern, substitution: p.replaceRegex.substitution });
  }
  return exactlyOne(path, set, 'replace_full_path, replace_prefix_match or replace_regex');
}

function backendRefFromProto(path: string, b: ProtoBackendRef): BackendRef {
  const p = optionalPort(at(path, 'port'), b.port);
  const subset = optionalString(b.subset);
  return {
    host: requireString(at(path, 'hostname'), b.hostname),
    ...(p === undefined ? {} : { port: p }),
    ...(subset === undefined ? {} : { subset }),
  };
}

type FilterKind = keyof Omit<HttpFilter, never>;

function filterKind(path: string, f: HttpFilter): FilterKind {
  const set = (Object.keys(f) as FilterKind[]).filter((k) => f[k] !== undefined);
  return exactlyOne(path, set, 'the filter kinds');
}

/** Header modifiers only (backend filters); `allowed` adds the rule-level kinds. */
function filtersFromProto(path: string, filters: readonly HttpFilter[], ruleLevel: boolean): RouteFilters {
  const out: Mutable<RouteFilters> = {};
  const mirrors: RouteMirror[] = [];
  filters.forEach((f, i) => {
    const fp = at(path, i);
    const kind = filterKind(fp, f);
    const once = (present: unknown) => {
      if (present !== undefined) throw new Invalid(at(fp, kind), 'given twice');
    };
    switch (kind) {
      case 'requestHeaderModifier':
        once(out.requestHeaders);
        out.requestHeaders = modifierFromProto(
          at(fp, 'request_header_modifier'),
          f.requestHeaderModifier as ProtoHeaderModifier,
        );
        return;
      case 'responseHeaderModifier':
        once(out.responseHeaders);
        out.responseHeaders = modifierFromProto(
          at(fp, 'response_header_modifier'),
          f.responseHeaderModifier as ProtoHeaderModifier,
        );
        return;
      default:
        break;
    }
    if (!ruleLevel) throw new Invalid(fp, `${kind} is not allowed on a backend`);
    switch (kind) {
      case 'urlRewrite': {
        once(out.rewrite);
        const r = f.urlRewrite as NonNullable<HttpFilter['urlRewrite']>;
        const host = optionalString(r.hostname);
        out.rewrite = {
          ...(host === undefined ? {} : { host }),
          ...(r.path === undefined
            ? {}
            : { path: pathRewriteFromProto(at(at(fp, 'url_rewrite'), 'path'), r.path) }),
        };
        return;
      }
      case 'requestRedirect': {
        once(out.redirect);
        const r = f.requestRedirect as NonNullable<HttpFilter['requestRedirect']>;
        const rp = at(fp, 'request_redirect');
        if (r.scheme !== '' && r.scheme !== 'http' && r.scheme !== 'https') {
          throw new Invalid(at(rp, 'scheme'), `${JSON.stringify(r.scheme)} is not http or https`);
        }
        const statusCode = r.statusCode === 0 ? 302 : r.statusCode;
        if (statusCode < 300 || statusCode > 399)
          throw new Invalid(at(rp, 'status_code'), `${statusCode} is not a redirect`);
        const host = optionalString(r.hostname);
        const p = optionalPort(at(rp, 'port'), r.port);
        out.redirect = {
          ...(r.scheme === '' ? {} : { scheme: r.scheme as 'http' | 'https' }),
          ...(host === undefined ? {} : { host }),
          ...(p === undefined ? {} : { port: p }),
          ...(r.path === undefined ? {} : { path: pathRewriteFromProto(at(rp, 'path'), r.path) }),
          statusCode,
        };
        return;
      }
      case 'requestMirror': {
        const m = f.requestMirror as NonNullable<HttpFilter['requestMirror']>;
        const mp = at(fp, 'request_mirror');
        if (m.backend === undefined) throw new Invalid(at(mp, 'backend'), 'missing');
        const percent = m.percent ?? 100;
        if (!(percent >= 0 && percent <= 100))
          throw new Invalid(at(mp, 'percent'), `${percent} is outside 0..100`);
        mirrors.push({ backend: backendRefFromProto(at(mp, 'backend'), m.backend), percent });
        return;
      }
      default:
        throw new Invalid(fp, `unknown filter ${kind}`);
    }
  });
  if (mirrors.length > 0) out.mirrors = mirrors;
  return out;
}

function percent(path: string, value: number): number {
  if (!(value >= 0 && value <= 100)) throw new Invalid(path, `${value} is outside 0..100`);
  return value;
}

function retryFromProto(path: string, r: ProtoRetryPolicy): RetryPolicy {
  const perTry = optionalDuration(at(path, 'per_try_timeout'), r.perTryTimeout);
  if ((r.backoff === undefined) !== (r.maxBackoff === undefined)) {
    throw new Invalid(
      at(path, r.backoff === undefined ? 'backoff' : 'max_backoff'),
      'backoff and max_backoff go together',
    );
  }
  return {
    attempts: r.attempts,
    ...(perTry === undefined ? {} : { perTryTimeoutMs: perTry }),
    retryOn: [...r.retryOn],
    retryOnStatus: [...r.retryOnStatus],
    ...(r.backoff === undefined || r.maxBackoff === undefined
      ? {}
      : {
          backoff: {
            baseMs: durationMillis(at(path, 'backoff'), r.backoff),
            maxMs: durationMillis(at(path, 'max_backoff'), r.maxBackoff),
          },
        }),
  };
}

function faultFromProto(path: string, f: FaultInjection): FaultPolicy {
  const out: Mutable<FaultPolicy> = {};
  if (f.delay !== undefined) {
    const dp = at(path, 'delay');
    if (f.delay.fixedDelay === undefined) throw new Invalid(at(dp, 'fixed_delay'), 'missing');
    out.delay = {
      delayMs: durationMillis(at(dp, 'fixed_delay'), f.delay.fixedDelay),
      percent: percent(at(dp, 'percent'), f.delay.percent),
    };
  }
  if (f.abort !== undefined) {
    const ap = at(path, 'abort');
    const a = f.abort;
    if (a.grpcStatus !== undefined)
      throw new Invalid(at(ap, 'grpc_status'), 'not supported; use grpc_status_name');
    if (a.httpStatus !== undefined && a.grpcStatusName !== undefined) {
      throw new Invalid(ap, 'more than one of http_status, grpc_status_name is set');
    }
    if (a.httpStatus !== undefined && (a.httpStatus < 200 || a.httpStatus > 599)) {
      throw new Invalid(at(ap, 'http_status'), `${a.httpStatus} is not an HTTP status`);
    }
    out.abort = {
      ...(a.httpStatus === undefined ? {} : { httpStatus: a.httpStatus }),
      ...(a.grpcStatusName === undefined ? {} : { grpcStatus: a.grpcStatusName }),
      percent: percent(at(ap, 'percent'), a.percent),
    };
  }
  return out;
}

function ruleFromProto(path: string, r: HttpRouteRule, protocol: RouteProtocol): RouteRule {
  if (r.source === undefined) throw new Invalid(at(path, 'source'), 'missing');
  const sp = at(path, 'source');
  if (!SOURCE_KINDS.has(r.source.kind))
    throw new Invalid(at(sp, 'kind'), `${JSON.stringify(r.source.kind)} is not a route kind`);
  const source: RouteSource = {
    kind: r.source.kind as RouteSource['kind'],
    namespace: requireString(at(sp, 'namespace'), r.source.namespace),
    name: requireString(at(sp, 'name'), r.source.name),
    rule: r.source.rule,
  };
  if (protocol === 'tcp' && (r.matches.length > 0 || r.filters.length > 0)) {
    throw new Invalid(at(path, r.matches.length > 0 ? 'matches' : 'filters'), 'TCP rules take backends only');
  }
  const backends: WeightedBackend[] = r.backends.map((b, i) => {
    const bp = at(at(path, 'backends'), i);
    const f = filtersFromProto(at(bp, 'filters'), b.filters, false);
    const unresolved = optionalString(b.unresolved);
    return {
      ...backendRefFromProto(bp, b),
      weight: b.weight,
      ...(f.requestHeaders === undefined ? {} : { requestHeaders: f.requestHeaders }),
      ...(f.responseHeaders === undefined ? {} : { responseHeaders: f.responseHeaders }),
      ...(unresolved === undefined ? {} : { unresolved }),
    };
  });
  const requestMs = optionalDuration(at(path, 'request_timeout'), r.requestTimeout);
  const perTryMs = optionalDuration(at(path, 'backend_request_timeout'), r.backendRequestTimeout);
  const name = optionalString(r.ruleName);
  return {
    ...(name === undefined ? {} : { name }),
    source,
    matches: r.matches.map((m, i) => matchFromProto(at(at(path, 'matches'), i), m)),
    backends,
    filters: filtersFromProto(at(path, 'filters'), r.filters, true),
    ...(requestMs === undefined && perTryMs === undefined
      ? {}
      : {
          timeouts: {
            ...(requestMs === undefined ? {} : { requestMs }),
            ...(perTryMs === undefined ? {} : { perTryMs }),
          },
        }),
    ...(r.retry === undefined ? {} : { retries: retryFromProto(at(path, 'retry'), r.retry) }),
    ...(r.fault === undefined ? {} : { fault: faultFromProto(at(path, 'fault'), r.fault) }),
  };
}

export function fromProtoHttpRoutes(proto: HttpRoutes): ConvertResult<RouteTable> {
  return convert(() => {
    const host = requireString('hostname', proto.hostname);
    const p = port('port', proto.port);
    const protocol = proto.protocol === '' ? 'http' : proto.protocol;
    if (!PROTOCOLS.has(protocol))
      throw new Invalid('protocol', `${JSON.stringify(protocol)} is not http, grpc or tcp`);
    const table: Omit<RouteTable, 'hash'> = {
      key: `${host}:${p}`,
      host,
      port: p,
      protocol: protocol as RouteProtocol,
      rules: proto.rules.map((r, i) => ruleFromProto(at('rules', i), r, protocol as RouteProtocol)),
    };
    return withHash(table);
  });
}
