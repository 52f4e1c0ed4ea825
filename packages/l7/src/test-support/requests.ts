// Building requests and filter contexts for filter unit tests (no sockets).
import { matchRoute } from '@weft/policy';
import {
  applyUpdate,
  batchFromSnapshot,
  createStateStore,
  type L7State,
  l7State,
  type ProxyState,
} from '@weft/proxy-core';
import { noopLogger } from '@weft/telemetry';
import type { FilterContext, Handler } from '../filters/types.ts';
import type { Body, Headers, L7Request, L7Response, RouteDecision } from '../http/message.ts';
import { applyRole, decideRole, type EngineRole } from '../role.ts';
import { Cancellation } from '../runtime.ts';
import { createEngineTelemetry } from '../telemetry.ts';
import { compileMesh } from '../testing/harness.ts';
import { createTcpUpstreamConnector } from '../upstream/connector.ts';
import { createUpstreams, type Upstreams } from '../upstream/upstreams.ts';
import { WEB_VIP } from './mesh.ts';

// The store generation behind each view (what the sidecar roles select policies from).
const generations = new WeakMap<L7State, ProxyState>();

export function stateOf(objects: readonly unknown[], waypoint?: string): L7State {
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileMesh(objects)));
  const view = l7State(store.state, waypoint);
  generations.set(view, store.state);
  return view;
}

export interface RequestSpec {
  method?: string;
  path?: string;
  authority?: string;
  headers?: Headers;
  body?: Body;
  principal?: string;
  grpc?: boolean;
  destination?: { ip: string; port: number };
  /** Run matchRoute and set ctx.route (what the route filter does). */
  route?: boolean;
  /** The engine role the request is served in. Default waypoint. */
  role?: EngineRole;
}

export function makeRequest(state: L7State, spec: RequestSpec = {}): L7Request {
  const dest = spec.destination ?? { ip: WEB_VIP, port: 80 };
  const target = state.target(dest.ip, dest.port);
  const generation = generations.get(state);
  if (generation === undefined) throw new Error('makeRequest: a state from stateOf() is needed');
  const applied = applyRole(decideRole(spec.role ?? 'waypoint', target, state.waypoint), target, generation);
  const req: L7Request = {
    method: spec.method ?? 'GET',
    path: spec.path ?? '/',
    rawPath: spec.path ?? '/',
    authority: spec.authority ?? 'web.shop.svc.cluster.local',
    scheme: 'http',
    headers: { ...spec.headers },
    body: spec.body ?? { kind: 'empty' },
    upgrade: undefined,
    ctx: {
      id: 1,
      startTime: 0,
      startMono: 0,
      protocol: 'HTTP/1.1',
      grpc: spec.grpc ?? false,
      downstream: {
        remoteIp: '10.2.0.5',
        remotePort: 40000,
        principal: spec.principal,
        forwardedFor: undefined,
        destinationIp: dest.ip,
        destinationPort: dest.port,
        security: spec.principal === undefined ? 'none' : 'mutual_tls',
      },
      state,
      target,
      applied,
      cancel: new Cancellation(),
      deadline: undefined,
      flags: [],
      route: undefined,
      rbac: undefined,
      upstream: undefined,
      requestId: undefined,
      traceId: undefined,
      retries: 0,
    },
  };
  if (spec.route && target.kind === 'service') {
    const r = matchRoute(target.routes, {
      service: target.service.hostname,
      port: target.port.port,
      path: req.path,
      method: req.method,
      headers: req.headers as Record<string, string>,
    });
    if (r.kind === 'matched') {
      const s = r.rule.source;
      const decision: RouteDecision = {
        name: `${s.kind}/${s.namespace}/${s.name}/${s.rule}`,
        rule: r.rule,
        match: r.match,
        path: r.path,
        query: r.query,
        servicePort: target.port.port,
      };
      req.ctx.route = decision;
    }
  }
  return req;
}

export function fakeFilterContext(over: Partial<FilterContext> = {}): FilterContext {
  const upstreams: Upstreams =
    over.upstreams ??
    createUpstreams({ connector: createTcpUpstreamConnector(), clock: { now: () => 0 }, random: () => 0 });
  return {
    clock: { now: () => 0 },
    random: () => 0,
    delay: () => Promise.resolve(),
    logger: noopLogger,
    telemetry: createEngineTelemetry(),
    upstreams,
    ...over,
  };
}

/** A terminal handler that records what reached it and answers 200. */
export function recorder(): Handler & { readonly seen: L7Request[] } {
  const seen: L7Request[] = [];
  const h = (req: L7Request): Promise<L7Response> => {
    seen.push(req);
    return Promise.resolve({ status: 200, headers: { 'x-terminal': '1' }, body: { kind: 'empty' } });
  };
  return Object.assign(h, { seen });
}
