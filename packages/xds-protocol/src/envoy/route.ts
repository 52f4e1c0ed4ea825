// Client RouteConfigurations for proxyless gRPC (gRFC A28 routing, A31 timeouts, A33 faults,
// A42 hash policies, A44 retries), shaped as grpc-js-xds 1.14.1 reads them: timeouts only as
// `max_stream_duration` (it ignores RouteAction.timeout), retry_on only in gRPC status names,
// faults as per-route HTTPFault overrides, and never a `non_forwarding_action` (it crashes a
// client). Path specifiers are `prefix`, `path` and `safe_regex` (it NACKs path_separated_prefix).
import { RouteConfiguration } from '../gen/envoy/config/route/v3/route.ts';
import { HeaderMatcher, Route, type VirtualHost } from '../gen/envoy/config/route/v3/route_components.ts';
import { HTTPFault } from '../gen/envoy/extensions/filters/http/fault/v3/fault.ts';
import type { Any } from '../gen/google/protobuf/any.ts';
import { ENVOY_TYPE_URL } from '../type-urls.ts';
import { msDuration } from './duration.ts';

/** The HTTP filter name fault overrides are keyed by (the client Listener uses the same). */
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

export interface MeshPathMatch {
  type: 'exact' | 'prefix' | 'regex';
  value: string;
  ignoreCase?: boolean;
}

export interface MeshHeaderMatch {
  name: string;
  type: 'exact' | 'prefix' | 'suffix' | 'regex' | 'present';
  value?: string;
  ignoreCase?: boolean;
  invert?: boolean;
}

export interface MeshRouteMatch {
  /** Absent: every path (prefix ''). */
  path?: MeshPathMatch;
  headers?: readonly MeshHeaderMatch[];
}

export interface MeshRetry {
  /** gRPC status names grpc-js-xds retries on: cancelled, deadline-exceeded, internal, resource-exhausted, unavailable. */
  retryOn: readonly string[];
  /** >= 1 (0 is NACKed). */
  numRetries: number;
  backoff?: { baseMs: number; maxMs: number };
}

export interface MeshFault {
  delay?: { delayMs: number; percent: number };
  /** One of grpcStatus / httpStatus. */
  abort?: { grpcStatus?: number; httpStatus?: number; percent: number };
}

export interface MeshRoute {
  match: MeshRouteMatch;
  clusters: readonly { name: string; weight: number }[];
  /** Whole-call deadline cap (max_stream_duration). */
  timeoutMs?: number;
  retry?: MeshRetry;
  fault?: MeshFault;
  /** Ring-hash keys: the first header present picks the endpoint. */
  hashHeaders?: readonly string[];
}

/** 0..100 as a FractionalPercent per million (keeps fractional percents). */
function percent(p: number) {
  const clamped = Math.min(100, Math.max(0, p));
  return { numerator: Math.round(clamped * 10_000), denominator: 2 as const };
}

export function httpFault(fault: MeshFault): HTTPFault {
  return HTTPFault.fromPartial({
    ...(fault.delay === undefined
      ? {}
      : {
          delay: {
            fixedDelay: msDuration(fault.delay.delayMs),
            percentage: percent(fault.delay.percent),
          },
        }),
    ...(fault.abort === undefined
      ? {}
      : {
          abort: {
            ...(fault.abort.grpcStatus !== undefined
              ? { grpcStatus: fault.abort.grpcStatus }
              : { httpStatus: fault.abort.httpStatus ?? 503 }),
            percentage: percent(fault.abort.percent),
          },
        }),
  });
}

function faultAny(fault: MeshFault): Any {
  return { typeUrl: ENVOY_TYPE_URL.httpFault, value: HTTPFault.encode(httpFault(fault)).finish() };
}

function headerMatcher(h: MeshHeaderMatch): HeaderMatcher {
  const ignoreCase = h.ignoreCase ?? false;
  const value = h.value ?? '';
  const base = { name: h.name, invertMatch: h.invert ?? false };
  switch (h.type) {
    case 'present':
      return HeaderMatcher.fromPartial({ ...base, presentMatch: true });
    case 'exact':
      return HeaderMatcher.fromPartial({ ...base, stringMatch: { exact: value, ignoreCase } });
    case 'prefix':
      return HeaderMatcher.fromPartial({ ...base, stringMatch: { prefix: value, ignoreCase } });
    case 'suffix':
      return HeaderMatcher.fromPartial({ ...base, stringMatch: { suffix: value, ignoreCase } });
    case 'regex':
      return HeaderMatcher.fromPartial({
        ...base,
        stringMatch: { safeRegex: { regex: ignoreCase ? `(?i)${value}` : value }, ignoreCase: false },
      });
    default: {
      const never: never = h.type;
      return never;
    }
  }
}

export function meshRoute(r: MeshRoute): Route {
  const path = r.match.path;
  const pathSpec =
    path === undefined
      ? { prefix: '' }
      : path.type === 'exact'
        ? { path: path.value }
        : path.type === 'prefix'
          ? { prefix: path.value }
          : { safeRegex: { regex: path.value } };
  const only = r.clusters.length === 1 ? r.clusters[0] : undefined;
  return Route.fromPartial({
    match: {
      ...pathSpec,
      ...(path?.ignoreCase === true ? { caseSensitive: false } : {}),
      headers: (r.match.headers ?? []).map(headerMatcher),
    },
    route: {
      ...(only !== undefined
        ? { cluster: only.name }
        : { weightedClusters: { clusters: r.clusters.map((c) => ({ name: c.name, weight: c.weight })) } }),
      ...(r.timeoutMs === undefined
        ? {}
        : { maxStreamDuration: { maxStreamDuration: msDuration(r.timeoutMs) } }),
      ...(r.retry === undefined
        ? {}
        : {
            retryPolicy: {
              retryOn: r.retry.retryOn.join(','),
              numRetries: Math.max(1, r.retry.numRetries),
              ...(r.retry.backoff === undefined
                ? {}
                : {
                    retryBackOff: {
                      baseInterval: msDuration(r.retry.backoff.baseMs),
                      maxInterval: msDuration(Math.max(r.retry.backoff.baseMs, r.retry.backoff.maxMs)),
                    },
                  }),
            },
          }),
      hashPolicy: (r.hashHeaders ?? []).map((headerName) => ({ header: { headerName }, terminal: false })),
    },
    typedPerFilterConfig: r.fault === undefined ? {} : { [FAULT_FILTER_NAME]: faultAny(r.fault) },
  });
}

/** One virtual host for `domains`, routes in order (first match wins). */
export function meshRouteConfiguration(
  name: string,
  domains: readonly string[],
  routes: readonly MeshRoute[],
): RouteConfiguration {
  const vhost: Partial<VirtualHost> = { name, domains: [...domains], routes: routes.map(meshRoute) };
  return RouteConfiguration.fromPartial({ name, virtualHosts: [vhost] });
}
