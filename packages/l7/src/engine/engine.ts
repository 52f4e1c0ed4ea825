// The L7 engine: the filter chain built from config, the state store it reads, the upstreams it
// sends to, and the request entry every listener (HTTP/1.1, HTTP/2, the sidecar's) goes through.
// `dispatch` validates what the protocol layer cannot (authority, request target, gRPC deadline),
// resolves the destination, and runs the chain; failures become local replies, never throws.

import type { NormalizePathOptions } from '@weft/policy';
import { normalizeHost, normalizePath } from '@weft/policy/runtime';
import { createStateStore, type L7State, l7State, type StateStore, type Target } from '@weft/proxy-core';
import {
  type AccessLogger,
  type Clock,
  type IdSource,
  type Logger,
  type MetricsRegistry,
  monotonicClock,
  noopLogger,
  systemClock,
} from '@weft/telemetry';
import {
  buildChain,
  createFilterRegistry,
  DEFAULT_FILTER_CHAIN,
  type FilterRegistry,
} from '../filters/registry.ts';
import type { FilterConfigError, FilterContext, FilterSpec, Handler } from '../filters/types.ts';
import { localReply } from '../http/local-reply.ts';
import type {
  Body,
  Downstream,
  Headers,
  HttpProtocol,
  L7Request,
  L7Response,
  RequestContext,
} from '../http/message.ts';
import { type Applied, applyRole, componentFor, decideRole, type EngineRole, reporterFor } from '../role.ts';
import { type Cancellation, type Delay, realDelay } from '../runtime.ts';
import {
  createEngineTelemetry,
  type EngineTelemetry,
  type RejectReason,
  type RequestSample,
} from '../telemetry.ts';
import type { UpstreamConnector } from '../upstream/connector.ts';
import { createTcpUpstreamConnector } from '../upstream/connector.ts';
import { createUpstreams, type Upstreams } from '../upstream/upstreams.ts';

export interface EngineLimits {
  /** Largest request head (HTTP/1.1 headers; HTTP/2 header list); beyond: 431. Default 16 KiB. */
  readonly maxRequestHeadersBytes: number;
  /** Largest request body; beyond: 413 (or a reset once the response started). Default 32 MiB. */
  readonly maxRequestBodyBytes: number;
  /** Downstream connections open at once. Default 4096. */
  readonly maxConnections: number;
  /** HTTP/1.1: the request head must arrive within this. Default 10 s. */
  readonly headersTimeoutMs: number;
  /** HTTP/1.1 idle keep-alive connections close after this. Default 60 s. */
  readonly keepAliveTimeoutMs: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. Default 100. */
  readonly h2MaxConcurrentStreams: number;
  /** HTTP/2 streams a client may cancel before their response per window. Default 200. */
  readonly h2MaxPrematureResets: number;
  /** HTTP/2 SETTINGS + PING frames a client may send per window. Default 1000. */
  readonly h2MaxControlFrames: number;
  /** Window for the two HTTP/2 counters above. Default 10 s. */
  readonly h2WindowMs: number;
  /** How long to wait for the first bytes when sniffing the protocol. Default 5 s. */
  readonly sniffTimeoutMs: number;
}

export const DEFAULT_ENGINE_LIMITS: EngineLimits = {
  maxRequestHeadersBytes: 16 * 1024,
  maxRequestBodyBytes: 32 * 1024 * 1024,
  maxConnections: 4096,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
  h2MaxConcurrentStreams: 100,
  h2MaxPrematureResets: 200,
  h2MaxControlFrames: 1000,
  h2WindowMs: 10_000,
  sniffTimeoutMs: 5_000,
};

export interface EngineConfig {
  /** The filter chain; default DEFAULT_FILTER_CHAIN. */
  readonly filters?: readonly FilterSpec[];
  readonly limits?: Partial<EngineLimits>;
  /** How request paths are normalized (default: reject %2F/%5C, merge slashes). */
  readonly path?: NormalizePathOptions;
  /**
   * What this engine is (`role.ts` decides what each applies: policies, routes, the metrics
   * `reporter` label). Default `waypoint`.
   */
  readonly role?: EngineRole;
  /** The waypoint this engine serves ("namespace/name"); its targetRef'd policies apply. */
  readonly waypoint?: string;
}

/** Capabilities; all optional (tests inject fakes, production takes the defaults). */
export interface EngineDeps {
  /** The one store (`@weft/proxy-core`) the engine reads; default a new empty one. */
  readonly store?: StateStore;
  /** How endpoints are reached. Default plain TCP (the waypoint server passes HBONE). */
  readonly connector?: UpstreamConnector;
  /** Monotonic: durations, deadlines, outlier ejection. Default `monotonicClock`. */
  readonly clock?: Clock;
  /** Epoch milliseconds: access-log start times. Default `systemClock`. */
  readonly wallClock?: Clock;
  readonly random?: () => number;
  readonly delay?: Delay;
  readonly logger?: Logger;
  readonly registry?: MetricsRegistry;
  readonly accessLog?: AccessLogger;
  readonly ids?: IdSource;
  readonly filterRegistry?: FilterRegistry;
}

/** What a listener knows about one request before the engine looks at it. */
export interface RequestInit {
  readonly protocol: HttpProtocol;
  readonly method: string;
  /** The request target as received. */
  readonly rawPath: string;
  /** Host / :authority; undefined when absent. */
  readonly authority: string | undefined;
  readonly scheme: 'http' | 'https';
  readonly headers: Headers;
  readonly body: Body;
  readonly upgrade?: string | undefined;
  readonly downstream: Downstream;
  /** Aborts when the downstream request went away. */
  readonly cancel: Cancellation;
}

export interface Engine {
  readonly role: EngineRole;
  readonly store: StateStore;
  /** The store's current generation as this engine reads it (its waypoint's policies apply). */
  state(): L7State;
  /** What this engine's role applies to a destination (policies, route table). */
  applied(target: Target): Applied;
  readonly telemetry: EngineTelemetry;
  readonly upstreams: Upstreams;
  readonly limits: EngineLimits;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Validates, resolves and runs one request. The promise never rejects. */
  dispatch(init: RequestInit): { readonly req: L7Request; readonly response: Promise<L7Response> };
  /** Reports a finished request (metrics, access log); listeners call it once per request. */
  finish(req: L7Request, sample: RequestSample): void;
  /** Counts a refused input that never became a request (parse errors, floods). */
  reject(reason: RejectReason): void;
  /** Replaces the filter chain; the old one stays on error. */
  setFilters(
    specs: readonly FilterSpec[],
  ): { readonly ok: true } | { readonly ok: false; readonly error: FilterConfigError };
  /** The chain config in force (admin). */
  filters(): readonly FilterSpec[];
  close(): void;
}

export class EngineConfigError extends Error {
  readonly error: FilterConfigError;
  constructor(error: FilterConfigError) {
    super(`filter chain: ${error.field}: ${error.message}`);
    this.error = error;
  }
}

/** grpc-timeout ("100m", "5S", ...) in milliseconds; undefined when malformed. */
export function parseGrpcTimeout(v: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  if (m === null) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H':
      return n * 3_600_000;
    case 'M':
      return n * 60_000;
    case 'S':
      return n * 1000;
    case 'm':
      return n;
    case 'u':
      return n / 1000;
    default:
      return n / 1_000_000;
  }
}

export function createEngine(config: EngineConfig = {}, deps: EngineDeps = {}): Engine {
  const clock = deps.clock ?? monotonicClock;
  const wallClock = deps.wallClock ?? systemClock;
  const random = deps.random ?? Math.random;
  const logger = deps.logger ?? noopLogger;
  const limits: EngineLimits = { ...DEFAULT_ENGINE_LIMITS, ...config.limits };
  const store = deps.store ?? createStateStore();
  const waypoint = config.waypoint;
  const state = (): L7State => l7State(store.state, waypoint);
  const role: EngineRole = config.role ?? 'waypoint';
  // Targets are cached per generation by the view, so one lookup per target and generation.
  const appliedCache = new WeakMap<Target, Applied>();
  const applied = (target: Target): Applied => {
    let a = appliedCache.get(target);
    if (a === undefined) {
      a = applyRole(decideRole(role, target, waypoint), target, store.state);
      appliedCache.set(target, a);
    }
    return a;
  };
  const telemetry = createEngineTelemetry({
    ...(deps.registry !== undefined ? { registry: deps.registry } : {}),
    reporter: reporterFor(role),
    component: componentFor(role),
    accessLog: deps.accessLog,
  });
  const upstreams = createUpstreams({
    connector: deps.connector ?? createTcpUpstreamConnector(),
    clock,
    random,
    onProtocolError: (reason) => {
      telemetry.rejects.reject('upstream_protocol_error');
      logger.debug('upstream protocol error', { reason });
    },
  });
  const fctx: FilterContext = {
    clock,
    random,
    delay: deps.delay ?? realDelay,
    logger,
    telemetry,
    upstreams,
    ids: deps.ids,
  };
  const registry = deps.filterRegistry ?? createFilterRegistry();
  let specs: readonly FilterSpec[] = config.filters ?? DEFAULT_FILTER_CHAIN;
  const built = buildChain(specs, registry, fctx);
  if (!built.ok) throw new EngineConfigError(built.error);
  let chain: Handler = built.value;
  const pathOptions = config.path;
  let nextId = 1;
  const rejects = telemetry.rejects;

  const run = async (req: L7Request): Promise<L7Response> => {
    try {
      return await chain(req);
    } catch (e) {
      logger.error('filter chain failed', {
        error: e instanceof Error ? e : String(e),
        route: req.ctx.route?.name,
      });
      return localReply(req, 500, 'internal error');
    }
  };

  // A malformed request also closes its connection: the peer is not speaking HTTP as we do.
  const reply = (req: L7Request, reason: RejectReason, status: number, message: string) => {
    rejects.reject(reason);
    return {
      req,
      response: Promise.resolve(localReply(req, status, message, { headers: { connection: 'close' } })),
    };
  };

  return {
    role,
    store,
    state,
    applied,
    telemetry,
    upstreams,
    limits,
    logger,
    clock,
    dispatch(init) {
      const view = state();
      const d = init.downstream;
      const target = view.target(d.destinationIp, d.destinationPort);
      const ct = init.headers['content-type'];
      const grpc = typeof ct === 'string' && ct.startsWith('application/grpc');
      const ctx: RequestContext = {
        id: nextId++,
        startTime: wallClock.now(),
        startMono: clock.now(),
        protocol: init.protocol,
        grpc,
        downstream: d,
        state: view,
        target,
        applied: applied(target),
        cancel: init.cancel,
        deadline: undefined,
        flags: [],
        route: undefined,
        rbac: undefined,
        upstream: undefined,
        requestId: undefined,
        traceId: undefined,
        retries: 0,
      };
      const req: L7Request = {
        method: init.method,
        path: init.rawPath,
        rawPath: init.rawPath,
        authority: init.authority ?? '',
        scheme: init.scheme,
        headers: init.headers,
        body: init.body,
        upgrade: init.upgrade,
        ctx,
      };
      if (init.authority === undefined || init.authority === '')
        return reply(req, 'invalid_host', 400, 'missing host');
      const host = normalizeHost(init.authority);
      if (!host.ok) return reply(req, 'invalid_host', 400, `invalid host: ${host.reason}`);
      if (init.method !== 'CONNECT') {
        const n = normalizePath(init.rawPath, pathOptions);
        if (!n.ok) return reply(req, 'invalid_path', 400, `invalid request path: ${n.reason}`);
        if (n.path === '*' && init.method !== 'OPTIONS')
          return reply(req, 'invalid_path', 400, 'invalid request path: "*"');
        req.path = n.query === undefined ? n.path : `${n.path}?${n.query}`;
      } else {
        return reply(req, 'bad_request', 405, 'CONNECT is not proxied here');
      }
      if (grpc) {
        const gt = init.headers['grpc-timeout'];
        if (gt !== undefined) {
          const ms = typeof gt === 'string' ? parseGrpcTimeout(gt) : undefined;
          if (ms === undefined) rejects.reject('invalid_grpc_timeout');
          else ctx.deadline = ctx.startMono + ms;
        }
      }
      if (ctx.target.kind === 'unknown') rejects.reject('unknown_destination');
      return { req, response: run(req) };
    },
    finish(req, sample) {
      try {
        telemetry.requestDone(req, sample);
      } catch (e) {
        logger.warn('telemetry failed', { error: e instanceof Error ? e : String(e) });
      }
    },
    reject(reason) {
      rejects.reject(reason);
    },
    setFilters(next) {
      const r = buildChain(next, registry, fctx);
      if (!r.ok) {
        logger.warn('filter chain refused', {
          filter: r.error.filter,
          field: r.error.field,
          reason: r.error.message,
        });
        return { ok: false, error: r.error };
      }
      chain = r.value;
      specs = next;
      return { ok: true };
    },
    filters: () => specs,
    close() {
      upstreams.close();
    },
  };
}
