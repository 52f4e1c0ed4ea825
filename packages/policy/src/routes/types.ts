// The one L7/L4 route model. HTTPRoute, GRPCRoute, TCPRoute and VirtualService all compile into
// RouteTables; proxies evaluate them with matchRoute / chooseWeighted and never look at the
// source objects.

export type StringMatchType = 'exact' | 'prefix' | 'regex';

export interface StringMatch {
  readonly type: StringMatchType;
  readonly value: string;
  readonly ignoreCase?: boolean;
}

/**
 * Path matching. `path-prefix` is Gateway API PathPrefix (element-wise: "/foo" matches "/foo"
 * and "/foo/bar" but not "/foobar"); `prefix` is a plain string prefix (VirtualService uri.prefix).
 * `regex` must match the whole path.
 */
export interface PathMatch {
  readonly type: 'exact' | 'path-prefix' | 'prefix' | 'regex';
  readonly value: string;
  readonly ignoreCase?: boolean;
}

export interface HeaderMatch {
  /** Lower-case header name. */
  readonly name: string;
  readonly type: StringMatchType | 'present';
  readonly value?: string;
  /** Match when the header does NOT match (VirtualService withoutHeaders). */
  readonly invert?: boolean;
}

export interface QueryParamMatch {
  readonly name: string;
  readonly type: StringMatchType;
  readonly value: string;
}

/** All set fields must match. An empty match matches every request. */
export interface RouteMatch {
  readonly path?: PathMatch;
  readonly method?: string;
  readonly headers?: readonly HeaderMatch[];
  readonly queryParams?: readonly QueryParamMatch[];
  /** VirtualService match.port: the service port the request was sent to. */
  readonly port?: number;
  readonly authority?: StringMatch;
}

export interface HeaderModifier {
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  readonly add?: readonly { readonly name: string; readonly value: string }[];
  readonly remove?: readonly string[];
}

export type PathRewrite =
  | { readonly type: 'full'; readonly value: string }
  /** Replace the part of the path matched by the rule's prefix match. */
  | { readonly type: 'prefix'; readonly value: string }
  | { readonly type: 'regex'; readonly pattern: string; readonly substitution: string };

export interface BackendRef {
  /** Service hostname ("reviews.default.svc.cluster.local"). */
  readonly host: string;
  /** Service port; absent means the port the request came in on. */
  readonly port?: number;
  /** DestinationRule subset name. */
  readonly subset?: string;
}

export interface WeightedBackend extends BackendRef {
  readonly weight: number;
  readonly requestHeaders?: HeaderModifier;
  readonly responseHeaders?: HeaderModifier;
  /** Set when the backend does not resolve to a known Service (port); traffic to it fails. */
  readonly unresolved?: string;
}

export interface RouteRedirect {
  readonly scheme?: 'http' | 'https';
  readonly host?: string;
  readonly port?: number;
  readonly path?: PathRewrite;
  readonly statusCode: number;
}

export interface RouteMirror {
  readonly backend: BackendRef;
  /** 0..100, fractional allowed. */
  readonly percent: number;
}

export interface RouteFilters {
  readonly requestHeaders?: HeaderModifier;
  readonly responseHeaders?: HeaderModifier;
  readonly rewrite?: { readonly host?: string; readonly path?: PathRewrite };
  readonly redirect?: RouteRedirect;
  readonly mirrors?: readonly RouteMirror[];
}

export interface RetryPolicy {
  /** Retries after the first try; 0 disables retries. */
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  /** Envoy-style conditions: "5xx", "gateway-error", "connect-failure", "reset",
   * "refused-stream", "retriable-status-codes", "cancelled", "deadline-exceeded",
   * "unavailable", "resource-exhausted", "internal". */
  readonly retryOn: readonly string[];
  /** Status codes retried under "retriable-status-codes". */
  readonly retryOnStatus: readonly number[];
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

export interface FaultPolicy {
  readonly delay?: { readonly delayMs: number; readonly percent: number };
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly percent: number };
}

export interface RouteSource {
  readonly kind: 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute' | 'VirtualService';
  readonly namespace: string;
  readonly name: string;
  /** Index of the rule in the source object. */
  readonly rule: number;
}

export interface RouteRule {
  readonly name?: string;
  readonly source: RouteSource;
  /** Any one must match; empty = match everything. */
  readonly matches: readonly RouteMatch[];
  /** Empty with no redirect: the proxy answers 500 (Gateway API) — nothing to send to. */
  readonly backends: readonly WeightedBackend[];
  readonly filters: RouteFilters;
  readonly timeouts?: { readonly requestMs?: number; readonly perTryMs?: number };
  readonly retries?: RetryPolicy;
  readonly fault?: FaultPolicy;
}

export type RouteProtocol = 'http' | 'grpc' | 'tcp';

/**
 * Routes for one service port. When a table exists for a port and no rule matches, the proxy
 * answers 404; when no table exists, traffic goes to the service itself.
 */
export interface RouteTable {
  /** "hostname:port". */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: RouteProtocol;
  /** In evaluation order (Gateway API precedence already applied). */
  readonly rules: readonly RouteRule[];
  readonly hash: string;
}
