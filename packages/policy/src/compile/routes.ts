// HTTPRoute, GRPCRoute, TCPRoute (GAMMA: Service parents) and VirtualService -> RouteTables,
// one per service host and port, rules already in evaluation order.
//
// Gateway API precedence across all routes of a port: exact path, then regular expression
// (longer pattern first), then path prefix (longer first); then a method match; more header
// matches; more query matches; the older route; rule order; match order. Each (rule, match)
// pair becomes one compiled rule so that this order holds per match, as the spec requires.
// When Gateway API routes and a VirtualService name the same port, the Gateway API routes win.
import { durationMs } from '../duration.ts';
import { contentHash } from '../hash.ts';
import type {
  BackendRef,
  FaultPolicy,
  HeaderMatch,
  HeaderModifier,
  PathMatch,
  PathRewrite,
  RetryPolicy,
  RouteFilters,
  RouteMatch,
  RouteMirror,
  RouteProtocol,
  RouteRule,
  RouteTable,
  StringMatch,
  WeightedBackend,
} from '../routes/types.ts';
import type {
  GRPCRouteResource,
  HTTPRouteFilterResource,
  HTTPRouteResource,
  ParentReference,
  TCPRouteResource,
} from '../schemas/gateway.ts';
import type { VirtualServiceResource } from '../schemas/networking.ts';
import type { MeshObject } from '../schemas/registry.ts';
import { byString, type CompileContext, defined, nsOf, olderFirst, sortedRecord } from './context.ts';
import type { Inventory, ServiceDraft } from './inventory.ts';
import { isHttpCapable } from './protocol.ts';

/** Applied to HTTP rules that configure no retries (Istio's default). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 2,
  retryOn: Object.freeze([
    'connect-failure',
    'refused-stream',
    'unavailable',
    'cancelled',
    'retriable-status-codes',
  ]),
  retryOnStatus: Object.freeze([503]),
});

interface Entry {
  readonly rule: RouteRule;
  readonly order: readonly (number | string)[];
  readonly object: MeshObject;
}

interface Bucket {
  readonly service: ServiceDraft;
  readonly port: number;
  readonly http: Entry[];
  readonly tcp: Entry[];
  grpcOnly: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function pathOrder(path: PathMatch | undefined): (number | string)[] {
  if (!path) return [2, 0];
  switch (path.type) {
    case 'exact':
      return [0, -path.value.length];
    case 'regex':
      return [1, -path.value.length];
    case 'path-prefix':
    case 'prefix':
      return [2, -path.value.length];
    default: {
      const never: never = path.type;
      return [3, String(never)];
    }
  }
}

function compareOrder(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x === y) continue;
    return typeof x === 'number' && typeof y === 'number' ? x - y : byString(String(x), String(y));
  }
  return 0;
}

function headerModifier(m: {
  set?: readonly { name: string; value: string }[] | undefined;
  add?: readonly { name: string; value: string }[] | undefined;
  remove?: readonly string[] | undefined;
}): HeaderModifier {
  return defined({
    set: m.set?.map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
    add: m.add?.map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
    remove: m.remove?.map((h) => h.toLowerCase()),
  });
}

function mergeModifiers(a: HeaderModifier | undefined, b: HeaderModifier): HeaderModifier {
  if (!a) return b;
  return defined({
    set: a.set || b.set ? [...(a.set ?? []), ...(b.set ?? [])] : undefined,
    add: a.add || b.add ? [...(a.add ?? []), ...(b.add ?? [])] : undefined,
    remove: a.remove || b.remove ? [...(a.remove ?? []), ...(b.remove ?? [])] : undefined,
  });
}

class RouteCompiler {
  private readonly buckets = new Map<string, Bucket>();
  private readonly vsClaims = new Map<string, VirtualServiceResource>();
  private readonly vsTables = new Map<string, { service: ServiceDraft; port: number; rules: RouteRule[] }>();

  private readonly ctx: CompileContext;
  private readonly inventory: Inventory;

  constructor(ctx: CompileContext, inventory: Inventory) {
    this.ctx = ctx;
    this.inventory = inventory;
  }

  private bucket(service: ServiceDraft, port: number): Bucket {
    const key = `${service.hostname}:${port}`;
    let b = this.buckets.get(key);
    if (!b) {
      b = { service, port, http: [], tcp: [], grpcOnly: true };
      this.buckets.set(key, b);
    }
    return b;
  }

  /** Resolves a parentRef to the service ports a route of `kind` attaches to. */
  private parentPorts(
    obj: HTTPRouteResource | GRPCRouteResource | TCPRouteResource,
    ref: ParentReference,
    path: string,
  ): { service: ServiceDraft; ports: number[] } | undefined {
    const group = ref.group ?? 'gateway.networking.k8s.io';
    const kind = ref.kind ?? 'Gateway';
    const routeNs = nsOf(obj);
    const namespace = ref.namespace ?? routeNs;
    if (kind !== 'Service' || (group !== '' && group !== 'core')) {
      const what =
        kind === 'Gateway'
          ? 'Gateway parents (ingress) are not supported; attach mesh routes to a Service'
          : `parent kind ${group}/${kind} is not supported`;
      this.ctx.warn('ignored', obj, path, what);
      return undefined;
    }
    if (namespace !== routeNs) {
      this.ctx.warn(
        'ignored',
        obj,
        `${path}.namespace`,
        'consumer routes (parent Service in another namespace) are not supported',
      );
      return undefined;
    }
    const service = this.inventory.servicesByName.get(`${namespace}/${ref.name}`);
    if (!service) {
      this.ctx.warn('unresolved-reference', obj, path, `Service ${namespace}/${ref.name} not found`);
      return undefined;
    }
    const tcp = obj.kind === 'TCPRoute';
    const eligible = service.ports.filter(
      (p) => p.protocol === 'TCP' && (tcp || isHttpCapable(p.appProtocol)),
    );
    if (ref.port !== undefined) {
      if (!eligible.some((p) => p.port === ref.port)) {
        this.ctx.warn(
          'unresolved-reference',
          obj,
          `${path}.port`,
          `Service ${namespace}/${ref.name} has no ${tcp ? 'TCP' : 'HTTP-capable'} port ${ref.port}`,
        );
        return undefined;
      }
      return { service, ports: [ref.port] };
    }
    return { service, ports: eligible.map((p) => p.port) };
  }

  private backend(
    obj: MeshObject,
    ref: {
      group?: string | undefined;
      kind?: string | undefined;
      name: string;
      namespace?: string | undefined;
      port?: number | undefined;
    },
    path: string,
  ): BackendRef & { unresolved?: string } {
    const routeNs = nsOf(obj);
    const namespace = ref.namespace ?? routeNs;
    const host = this.ctx.serviceHostname(namespace, ref.name);
    const base = defined({ host, port: ref.port });
    const fail = (reason: string) => {
      this.ctx.warn('unresolved-reference', obj, path, reason);
      return { ...base, unresolved: reason };
    };
    if ((ref.kind ?? 'Service') !== 'Service' || (ref.group ?? '') !== '') {
      return fail(`backend kind ${ref.group ?? ''}/${ref.kind} is not supported`);
    }
    if (namespace !== routeNs)
      return fail('cross-namespace backendRefs need a ReferenceGrant, which Weft does not support');
    const svc = this.inventory.servicesByName.get(`${namespace}/${ref.name}`);
    if (!svc) return fail(`Service ${namespace}/${ref.name} not found`);
    if (ref.port === undefined) {
      this.ctx.warn(
        'invalid',
        obj,
        `${path}.port`,
        'port is required for Service backends; using the request port',
      );
    } else if (!svc.ports.some((p) => p.port === ref.port)) {
      return fail(`Service ${namespace}/${ref.name} has no port ${ref.port}`);
    }
    return base;
  }

  private gatewayFilters(
    obj: MeshObject,
    filters: readonly HTTPRouteFilterResource[],
    path: string,
  ): RouteFilters {
    const out: Mutable<RouteFilters> = {};
    const mirrors: RouteMirror[] = [];
    filters.forEach((f, i) => {
      switch (f.type) {
        case 'RequestHeaderModifier':
          if (f.requestHeaderModifier)
            out.requestHeaders = mergeModifiers(out.requestHeaders, headerModifier(f.requestHeaderModifier));
          break;
        case 'ResponseHeaderModifier':
          if (f.responseHeaderModifier)
            out.responseHeaders = mergeModifiers(
              out.responseHeaders,
              headerModifier(f.responseHeaderModifier),
            );
          break;
        case 'RequestRedirect': {
          const r = f.requestRedirect;
          if (r) {
            out.redirect = defined({
              scheme: r.scheme,
              host: r.hostname,
              port: r.port,
              path: r.path ? gatewayPathModifier(r.path) : undefined,
              statusCode: r.statusCode ?? 302,
            });
          }
          break;
        }
        case 'URLRewrite': {
          const r = f.urlRewrite;
          if (r)
            out.rewrite = defined({
              host: r.hostname,
              path: r.path ? gatewayPathModifier(r.path) : undefined,
            });
          break;
        }
        case 'RequestMirror': {
          const m = f.requestMirror;
          if (m) {
            const { unresolved, ...backend } = this.backend(
              obj,
              m.backendRef,
              `${path}[${i}].requestMirror.backendRef`,
            );
            const percent =
              m.percent ??
              (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
            if (unresolved === undefined) mirrors.push({ backend, percent });
          }
          break;
        }
        default: {
          const never: never = f.type;
          throw new Error(`unreachable filter ${String(never)}`);
        }
      }
    });
    if (mirrors.length > 0) out.mirrors = mirrors;
    return out;
  }

  private gatewayBackends(
    obj: HTTPRouteResource | GRPCRouteResource | TCPRouteResource,
    refs: readonly {
      group?: string | undefined;
      kind?: string | undefined;
      name: string;
      namespace?: string | undefined;
      port?: number | undefined;
      weight?: number | undefined;
      filters?: readonly HTTPRouteFilterResource[] | undefined;
    }[],
    path: string,
  ): WeightedBackend[] {
    return refs.map((ref, i) => {
      const b = this.backend(obj, ref, `${path}[${i}]`);
      const filters = ref.filters ? this.gatewayFilters(obj, ref.filters, `${path}[${i}].filters`) : {};
      return defined({
        ...b,
        weight: ref.weight ?? 1,
        requestHeaders: filters.requestHeaders,
        responseHeaders: filters.responseHeaders,
      }) as WeightedBackend;
    });
  }

  addHttpRoute(obj: HTTPRouteResource | GRPCRouteResource): void {
    const targets = (obj.spec.parentRefs ?? []).flatMap((ref, i) => {
      const t = this.parentPorts(obj, ref, `spec.parentRefs[${i}]`);
      return t ? t.ports.map((port) => ({ service: t.service, port })) : [];
    });
    if (targets.length === 0) return;
    const rules = obj.spec.rules ?? [{}];
    rules.forEach((rule, r) => {
      const path = `spec.rules[${r}]`;
      const filters = this.gatewayFilters(obj, rule.filters ?? [], `${path}.filters`);
      const backends = this.gatewayBackends(obj, rule.backendRefs ?? [], `${path}.backendRefs`);
      const common: Omit<Mutable<RouteRule>, 'matches'> = {
        ...(rule.name ? { name: rule.name } : {}),
        source: { kind: obj.kind, namespace: nsOf(obj), name: obj.metadata.name, rule: r },
        backends,
        filters,
      };
      if (obj.kind === 'HTTPRoute') {
        const hr = rule as NonNullable<HTTPRouteResource['spec']['rules']>[number];
        const timeouts = defined({
          requestMs: hr.timeouts?.request !== undefined ? durationMs(hr.timeouts.request) : undefined,
          perTryMs:
            hr.timeouts?.backendRequest !== undefined ? durationMs(hr.timeouts.backendRequest) : undefined,
        });
        if (Object.keys(timeouts).length > 0) common.timeouts = timeouts;
        common.retries = hr.retry
          ? defined({
              attempts: hr.retry.attempts ?? DEFAULT_RETRY_POLICY.attempts,
              perTryTimeoutMs: timeouts.perTryMs,
              retryOn: hr.retry.codes
                ? ['connect-failure', 'refused-stream', 'retriable-status-codes']
                : DEFAULT_RETRY_POLICY.retryOn,
              retryOnStatus: hr.retry.codes ?? DEFAULT_RETRY_POLICY.retryOnStatus,
              backoff:
                hr.retry.backoff !== undefined
                  ? { baseMs: durationMs(hr.retry.backoff), maxMs: 10 * durationMs(hr.retry.backoff) }
                  : undefined,
            })
          : DEFAULT_RETRY_POLICY;
      } else {
        common.retries = DEFAULT_RETRY_POLICY;
      }
      const matches: RouteMatch[] =
        obj.kind === 'HTTPRoute'
          ? ((rule as NonNullable<HTTPRouteResource['spec']['rules']>[number]).matches ?? []).map(
              httpRouteMatch,
            )
          : ((rule as NonNullable<GRPCRouteResource['spec']['rules']>[number]).matches ?? []).map(
              grpcRouteMatch,
            );
      const list =
        matches.length > 0
          ? matches
          : [obj.kind === 'HTTPRoute' ? { path: { type: 'path-prefix', value: '/' } as const } : {}];
      list.forEach((match, m) => {
        const order = [
          ...pathOrder(match.path),
          match.method !== undefined ? 0 : 1,
          -(match.headers?.length ?? 0),
          -(match.queryParams?.length ?? 0),
          obj.metadata.creationTimestamp ?? '\uffff',
          `${nsOf(obj)}/${obj.metadata.name}`,
          r,
          m,
        ];
        for (const t of targets) {
          const b = this.bucket(t.service, t.port);
          if (obj.kind === 'HTTPRoute') b.grpcOnly = false;
          b.http.push({ rule: { ...common, matches: [match] }, order, object: obj });
        }
      });
    });
  }

  addTcpRoute(obj: TCPRouteResource): void {
    const targets = (obj.spec.parentRefs ?? []).flatMap((ref, i) => {
      const t = this.parentPorts(obj, ref, `spec.parentRefs[${i}]`);
      return t ? t.ports.map((port) => ({ service: t.service, port })) : [];
    });
    obj.spec.rules.forEach((rule, r) => {
      const backends = this.gatewayBackends(obj, rule.backendRefs, `spec.rules[${r}].backendRefs`);
      const compiled: RouteRule = {
        ...(rule.name ? { name: rule.name } : {}),
        source: { kind: 'TCPRoute', namespace: nsOf(obj), name: obj.metadata.name, rule: r },
        matches: [],
        backends,
        filters: {},
      };
      const order = [obj.metadata.creationTimestamp ?? '\uffff', `${nsOf(obj)}/${obj.metadata.name}`, r];
      for (const t of targets)
        this.bucket(t.service, t.port).tcp.push({ rule: compiled, order, object: obj });
    });
  }

  addVirtualService(obj: VirtualServiceResource): void {
    const ns = nsOf(obj);
    obj.spec.hosts.forEach((rawHost, h) => {
      if (rawHost.startsWith('*')) {
        this.ctx.warn('ignored', obj, `spec.hosts[${h}]`, 'wildcard hosts are not supported');
        return;
      }
      const host = this.ctx.resolveHost(rawHost, ns);
      const service = this.inventory.servicesByHost.get(host);
      if (!service) {
        this.ctx.warn('unresolved-reference', obj, `spec.hosts[${h}]`, `no service ${host}`);
        return;
      }
      for (const p of service.ports) {
        if (p.protocol !== 'TCP' || !isHttpCapable(p.appProtocol)) continue;
        const key = `${host}:${p.port}`;
        if (this.buckets.get(key)?.http.length) {
          this.ctx.warn(
            'conflict',
            obj,
            `spec.hosts[${h}]`,
            `${key} is routed by Gateway API routes, which take precedence`,
          );
          continue;
        }
        const claimed = this.vsClaims.get(key);
        if (claimed) {
          this.ctx.warn(
            'conflict',
            obj,
            `spec.hosts[${h}]`,
            `${key} is already routed by VirtualService ${nsOf(claimed)}/${claimed.metadata.name}`,
          );
          continue;
        }
        this.vsClaims.set(key, obj);
        const rules: RouteRule[] = [];
        (obj.spec.http ?? []).forEach((route, r) => {
          const compiled = this.virtualServiceRule(obj, route, r, p.port);
          if (compiled) rules.push(compiled);
        });
        this.vsTables.set(key, { service, port: p.port, rules });
      }
    });
  }

  private virtualServiceRule(
    obj: VirtualServiceResource,
    route: NonNullable<VirtualServiceResource['spec']['http']>[number],
    r: number,
    port: number,
  ): RouteRule | undefined {
    const ns = nsOf(obj);
    const path = `spec.http[${r}]`;
    const rawMatches = route.match ?? [];
    const forPort = rawMatches.filter((m) => m.port === undefined || m.port === port);
    if (rawMatches.length > 0 && forPort.length === 0) return undefined;
    const matches = forPort.map(virtualServiceMatch);
    const dest = (
      d: { host: string; subset?: string | undefined; port?: { number: number } | undefined },
      where: string,
    ) => {
      const host = this.ctx.resolveHost(d.host, ns);
      const svc = this.inventory.servicesByHost.get(host);
      let unresolved: string | undefined;
      if (!svc) unresolved = `no service ${host}`;
      else if (d.port && !svc.ports.some((sp) => sp.port === d.port?.number))
        unresolved = `service ${host} has no port ${d.port.number}`;
      if (unresolved) this.ctx.warn('unresolved-reference', obj, where, unresolved);
      return defined({ host, port: d.port?.number, subset: d.subset, unresolved });
    };
    const dests = route.route ?? [];
    const backends: WeightedBackend[] = dests.map(
      (d, i) =>
        defined({
          ...dest(d.destination, `${path}.route[${i}].destination`),
          weight: dests.length === 1 ? 100 : (d.weight ?? 0),
          requestHeaders: d.headers?.request ? vsHeaders(d.headers.request) : undefined,
          responseHeaders: d.headers?.response ? vsHeaders(d.headers.response) : undefined,
        }) as WeightedBackend,
    );
    const filters: Mutable<RouteFilters> = {};
    if (route.headers?.request) filters.requestHeaders = vsHeaders(route.headers.request);
    if (route.headers?.response) filters.responseHeaders = vsHeaders(route.headers.response);
    if (route.rewrite) {
      const rw = route.rewrite;
      const rewritePath: PathRewrite | undefined =
        rw.uri !== undefined
          ? { type: 'prefix', value: rw.uri }
          : rw.uriRegexRewrite
            ? { type: 'regex', pattern: rw.uriRegexRewrite.match, substitution: rw.uriRegexRewrite.rewrite }
            : undefined;
      filters.rewrite = defined({ host: rw.authority, path: rewritePath });
    }
    if (route.redirect) {
      const rd = route.redirect;
      filters.redirect = defined({
        scheme: rd.scheme,
        host: rd.authority,
        port: rd.port,
        path: rd.uri !== undefined ? ({ type: 'full', value: rd.uri } as const) : undefined,
        statusCode: rd.redirectCode ?? 301,
      });
    }
    const mirrors: RouteMirror[] = [];
    const addMirror = (d: Parameters<typeof dest>[0], pct: number | undefined, where: string) => {
      const { unresolved, ...backend } = dest(d, where);
      if (unresolved === undefined) mirrors.push({ backend, percent: pct ?? 100 });
    };
    if (route.mirror) addMirror(route.mirror, route.mirrorPercentage?.value, `${path}.mirror`);
    route.mirrors?.forEach((m, i) => {
      addMirror(m.destination, m.percentage?.value, `${path}.mirrors[${i}].destination`);
    });
    if (mirrors.length > 0) filters.mirrors = mirrors;

    let retries: RetryPolicy = DEFAULT_RETRY_POLICY;
    if (route.retries) {
      const conditions = (route.retries.retryOn ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
      const statuses = conditions.filter((c) => /^[0-9]{3}$/.test(c)).map(Number);
      const names = conditions.filter((c) => !/^[0-9]{3}$/.test(c));
      if (statuses.length > 0 && !names.includes('retriable-status-codes'))
        names.push('retriable-status-codes');
      retries = defined({
        attempts: route.retries.attempts,
        perTryTimeoutMs:
          route.retries.perTryTimeout !== undefined ? durationMs(route.retries.perTryTimeout) : undefined,
        retryOn: conditions.length > 0 ? names : DEFAULT_RETRY_POLICY.retryOn,
        retryOnStatus: statuses.length > 0 ? statuses : DEFAULT_RETRY_POLICY.retryOnStatus,
        backoff:
          route.retries.backoff !== undefined
            ? { baseMs: durationMs(route.retries.backoff), maxMs: 10 * durationMs(route.retries.backoff) }
            : undefined,
      });
    }
    let fault: FaultPolicy | undefined;
    if (route.fault) {
      const { delay, abort } = route.fault;
      fault = defined({
        delay: delay
          ? { delayMs: durationMs(delay.fixedDelay), percent: delay.percentage?.value ?? 100 }
          : undefined,
        abort: abort
          ? defined({
              httpStatus: abort.httpStatus,
              grpcStatus: abort.grpcStatus,
              percent: abort.percentage?.value ?? 100,
            })
          : undefined,
      });
    }
    const perTry =
      route.retries?.perTryTimeout !== undefined ? durationMs(route.retries.perTryTimeout) : undefined;
    const timeouts = defined({
      requestMs: route.timeout !== undefined ? durationMs(route.timeout) : undefined,
      perTryMs: perTry,
    });
    return defined({
      name: route.name,
      source: { kind: 'VirtualService' as const, namespace: ns, name: obj.metadata.name, rule: r },
      matches,
      backends,
      filters,
      timeouts: Object.keys(timeouts).length > 0 ? timeouts : undefined,
      retries,
      fault,
    });
  }

  tables(): Record<string, RouteTable> {
    const out: [string, RouteTable][] = [];
    const emit = (
      service: ServiceDraft,
      port: number,
      protocol: RouteProtocol,
      rules: readonly RouteRule[],
    ) => {
      const key = `${service.hostname}:${port}`;
      const table: Omit<RouteTable, 'hash'> = { key, host: service.hostname, port, protocol, rules };
      out.push([key, { ...table, hash: contentHash(table) }]);
    };
    for (const [key, b] of this.buckets) {
      if (b.http.length > 0) {
        for (const e of b.tcp) {
          this.ctx.warn(
            'conflict',
            e.object,
            'spec.parentRefs',
            `${key} is routed by HTTP/gRPC routes; the TCPRoute is ignored there`,
          );
        }
        const sorted = [...b.http].sort((x, y) => compareOrder(x.order, y.order));
        emit(
          b.service,
          b.port,
          b.grpcOnly ? 'grpc' : 'http',
          sorted.map((e) => e.rule),
        );
      } else if (b.tcp.length > 0) {
        const sorted = [...b.tcp].sort((x, y) => compareOrder(x.order, y.order));
        emit(
          b.service,
          b.port,
          'tcp',
          sorted.map((e) => e.rule),
        );
      }
    }
    for (const [, t] of this.vsTables) {
      const grpc = t.service.ports.find((p) => p.port === t.port)?.appProtocol === 'grpc';
      emit(t.service, t.port, grpc ? 'grpc' : 'http', t.rules);
    }
    return sortedRecord(out);
  }
}

function gatewayPathModifier(m: {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string | undefined;
  replacePrefixMatch?: string | undefined;
}): PathRewrite {
  return m.type === 'ReplaceFullPath'
    ? { type: 'full', value: m.replaceFullPath ?? '/' }
    : { type: 'prefix', value: m.replacePrefixMatch ?? '/' };
}

type GatewayHeaderMatch = { type?: 'Exact' | 'RegularExpression' | undefined; name: string; value: string };

function gatewayHeaders(headers: readonly GatewayHeaderMatch[] | undefined): HeaderMatch[] | undefined {
  if (!headers || headers.length === 0) return undefined;
  const seen = new Set<string>();
  const out: HeaderMatch[] = [];
  for (const h of headers) {
    const name = h.name.toLowerCase();
    if (seen.has(name)) continue; // the spec: only the first entry of a name counts
    seen.add(name);
    out.push({ name, type: h.type === 'RegularExpression' ? 'regex' : 'exact', value: h.value });
  }
  return out;
}

function httpRouteMatch(
  m: NonNullable<NonNullable<HTTPRouteResource['spec']['rules']>[number]['matches']>[number],
): RouteMatch {
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
  return defined({
    path: {
      type: type === 'Exact' ? 'exact' : type === 'RegularExpression' ? 'regex' : 'path-prefix',
      value,
    } as PathMatch,
    method: m.method,
    headers: gatewayHeaders(m.headers),
    queryParams:
      m.queryParams && m.queryParams.length > 0
        ? m.queryParams.map((q) => ({
            name: q.name,
            type: q.type === 'RegularExpression' ? ('regex' as const) : ('exact' as const),
            value: q.value,
          }))
        : undefined,
  });
}

function grpcRouteMatch(
  m: NonNullable<NonNullable<GRPCRouteResource['spec']['rules']>[number]['matches']>[number],
): RouteMatch {
  let path: PathMatch | undefined;
  const mm = m.method;
  if (mm) {
    const exact = (mm.type ?? 'Exact') === 'Exact';
    const svc = mm.service;
    const method = mm.method;
    if (exact) {
      if (svc !== undefined && method !== undefined) path = { type: 'exact', value: `/${svc}/${method}` };
      else if (svc !== undefined) path = { type: 'prefix', value: `/${svc}/` };
      else path = { type: 'regex', value: `/[^/]+/${escapeRegex(method ?? '')}` };
    } else {
      path = { type: 'regex', value: `/${svc ?? '[^/]+'}/${method ?? '[^/]+'}` };
    }
  }
  return defined({ path, method: mm ? 'POST' : undefined, headers: gatewayHeaders(m.headers) });
}

type VsStringMatch = { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined };

function stringMatch(s: VsStringMatch): StringMatch {
  if (s.exact !== undefined) return { type: 'exact', value: s.exact };
  if (s.prefix !== undefined) return { type: 'prefix', value: s.prefix };
  return { type: 'regex', value: s.regex ?? '' };
}

function virtualServiceMatch(
  m: NonNullable<NonNullable<VirtualServiceResource['spec']['http']>[number]['match']>[number],
): RouteMatch {
  const headers: HeaderMatch[] = [];
  for (const [name, s] of Object.entries(m.headers ?? {}))
    headers.push({ name: name.toLowerCase(), ...stringMatch(s) });
  for (const [name, s] of Object.entries(m.withoutHeaders ?? {})) {
    headers.push({ name: name.toLowerCase(), ...stringMatch(s), invert: true });
  }
  let method: string | undefined;
  if (m.method) {
    const sm = stringMatch(m.method);
    if (sm.type === 'exact') method = sm.value;
    else headers.push({ name: ':method', ...sm });
  }
  const uri = m.uri ? stringMatch(m.uri) : undefined;
  return defined({
    path: uri ? defined({ ...uri, ignoreCase: m.ignoreUriCase ? true : undefined }) : undefined,
    method,
    headers: headers.length > 0 ? headers : undefined,
    queryParams: m.queryParams
      ? Object.entries(m.queryParams).map(([name, s]) => ({ name, ...stringMatch(s) }))
      : undefined,
    authority: m.authority ? stringMatch(m.authority) : undefined,
  }) as RouteMatch;
}

function vsHeaders(h: {
  set?: Record<string, string> | undefined;
  add?: Record<string, string> | undefined;
  remove?: readonly string[] | undefined;
}): HeaderModifier {
  return headerModifier({
    set: h.set ? Object.entries(h.set).map(([name, value]) => ({ name, value })) : undefined,
    add: h.add ? Object.entries(h.add).map(([name, value]) => ({ name, value })) : undefined,
    remove: h.remove,
  });
}

export function compileRoutes(
  ctx: CompileContext,
  input: {
    readonly httpRoutes: readonly HTTPRouteResource[];
    readonly grpcRoutes: readonly GRPCRouteResource[];
    readonly tcpRoutes: readonly TCPRouteResource[];
    readonly virtualServices: readonly VirtualServiceResource[];
  },
  inventory: Inventory,
): Record<string, RouteTable> {
  const c = new RouteCompiler(ctx, inventory);
  for (const r of [...input.httpRoutes].sort(olderFirst)) c.addHttpRoute(r);
  for (const r of [...input.grpcRoutes].sort(olderFirst)) c.addHttpRoute(r);
  for (const r of [...input.tcpRoutes].sort(olderFirst)) c.addTcpRoute(r);
  for (const vs of [...input.virtualServices].sort(olderFirst)) c.addVirtualService(vs);
  return c.tables();
}
