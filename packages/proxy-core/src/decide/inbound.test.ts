import {
  authorizationPolicy,
  peerAuthentication,
  pod,
  waypointDeployment,
  waypointGateway,
} from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, DEFAULT_PROXY_PORTS, proxyOwnedPorts } from '../ports.ts';
import { applyUpdate, batchFromSnapshot, createStateStore, type ProxyState } from '../state/store.ts';
import { compileOrThrow, localMeshObjects, LOCAL_MESH as M, NODE_A } from '../testing/mesh.ts';
import {
  decideInboundHbone,
  decideInboundMtls,
  decideInboundPlaintext,
  type InboundDecision,
  type InboundRequest,
} from './inbound.ts';

const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';
const OTHER = 'spiffe://cluster.local/ns/other/sa/legacy';

function stateOf(extra: unknown[]): ProxyState {
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileOrThrow([...localMeshObjects(), ...extra]), 'test'));
  return store.state;
}

function summary(d: InboundDecision): string {
  return d.allow ? `allow ${d.target.ip}:${d.target.port} (${d.authz.code})` : `${d.status} ${d.reason}`;
}

const base: InboundRequest = {
  nodeName: NODE_A.name,
  mode: 'ambient',
  destination: { ip: M.echo1, port: 8080 },
  peerIdentity: CLIENT,
  sourceIp: M.client,
};

const denyOther = authorizationPolicy('deny-other', {
  namespace: 'demo',
  action: 'DENY',
  selector: { app: 'echo' },
  rules: [{ from: [{ source: { namespaces: ['other'] } }] }],
});
const allowClient = authorizationPolicy('allow-client', {
  namespace: 'demo',
  action: 'ALLOW',
  selector: { app: 'echo' },
  rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
});
const allowIp = authorizationPolicy('allow-ip', {
  namespace: 'demo',
  action: 'ALLOW',
  rules: [{ from: [{ source: { ipBlocks: ['127.0.2.0/24'] } }], to: [{ operation: { ports: ['8080'] } }] }],
});
const allowL7 = authorizationPolicy('allow-get', {
  namespace: 'demo',
  action: 'ALLOW',
  rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
});

describe('decideInboundHbone', () => {
  const cases: { name: string; extra: unknown[]; req: Partial<InboundRequest>; expected: string }[] = [
    { name: 'no policy: allowed', extra: [], req: {}, expected: `allow ${M.echo1}:8080 (no-policy)` },
    {
      name: 'DENY by namespace matches other/legacy',
      extra: [denyOther],
      req: { peerIdentity: OTHER },
      expected: '401 denied',
    },
    {
      name: 'DENY by namespace lets demo/client in',
      extra: [denyOther],
      req: {},
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
    {
      name: 'ALLOW by principal matches',
      extra: [allowClient],
      req: {},
      expected: `allow ${M.echo1}:8080 (allowed)`,
    },
    {
      name: 'ALLOW by principal refuses others',
      extra: [allowClient],
      req: { peerIdentity: OTHER },
      expected: '401 denied',
    },
    {
      name: 'ALLOW by ipBlock and port',
      extra: [allowIp],
      req: {},
      expected: `allow ${M.echo1}:8080 (allowed)`,
    },
    {
      name: 'ALLOW by ipBlock: other port refused',
      extra: [allowIp],
      req: { destination: { ip: M.echo1, port: 9090 } },
      expected: '401 denied',
    },
    {
      name: 'ALLOW by ipBlock: other source refused',
      extra: [allowIp],
      req: { sourceIp: '127.0.3.3' },
      expected: '401 denied',
    },
    { name: 'L7-only ALLOW never matches at L4', extra: [allowL7], req: {}, expected: '401 denied' },
    {
      name: 'unknown destination address',
      extra: [],
      req: { destination: { ip: '127.0.9.9', port: 1 } },
      expected: '400 unknown-destination',
    },
    {
      name: 'workload on another node',
      extra: [],
      req: { destination: { ip: M.client, port: 1 } },
      expected: '400 destination-not-local',
    },
    {
      name: 'authority names another workload than the listener serves',
      extra: [],
      req: { listenerWorkloadUid: 'uid-demo-client' },
      expected: '400 authority-mismatch',
    },
    {
      name: 'a local workload that is not ambient: not served here',
      extra: [],
      req: { nodeName: 'node-b', destination: { ip: M.legacy, port: 9000 } },
      expected: '400 destination-not-ambient',
    },
    {
      name: 'a proxy serving another mode: an ambient workload is not its to serve',
      extra: [],
      req: { mode: 'sidecar' },
      expected: '400 destination-not-ambient',
    },
    {
      name: 'a proxy serving the workload mode serves it',
      extra: [],
      req: { mode: 'none', nodeName: 'node-b', destination: { ip: M.legacy, port: 9000 } },
      expected: `allow ${M.legacy}:9000 (no-policy)`,
    },
    {
      name: 'listener workload matches',
      extra: [],
      req: { listenerWorkloadUid: 'uid-demo-echo-1' },
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
  ];
  it.each(cases)('$name', ({ extra, req, expected }) => {
    expect(summary(decideInboundHbone(stateOf(extra), { ...base, ...req }))).toBe(expected);
  });
});

describe('decideInboundPlaintext', () => {
  const strict = peerAuthentication('strict', { namespace: 'demo', mode: 'STRICT' });
  const permissive = peerAuthentication('permissive', { namespace: 'demo', mode: 'PERMISSIVE' });
  const portStrict = peerAuthentication('port', {
    namespace: 'demo',
    selector: { app: 'echo' },
    mode: 'PERMISSIVE',
    portLevelMtls: { '8080': 'STRICT' },
  });
  const cases: { name: string; extra: unknown[]; req: Partial<InboundRequest>; expected: string }[] = [
    {
      name: 'default (PERMISSIVE): passes',
      extra: [],
      req: {},
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
    { name: 'STRICT refuses', extra: [strict], req: {}, expected: '401 strict-mtls' },
    {
      name: 'PERMISSIVE passes',
      extra: [permissive],
      req: {},
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
    {
      name: 'port-level STRICT refuses that port',
      extra: [portStrict],
      req: {},
      expected: '401 strict-mtls',
    },
    {
      name: 'port-level STRICT leaves other ports',
      extra: [portStrict],
      req: { destination: { ip: M.echo1, port: 9090 } },
      expected: `allow ${M.echo1}:9090 (no-policy)`,
    },
    {
      name: 'ALLOW requiring principals does not match plaintext (even with an identity passed in)',
      extra: [permissive, allowClient],
      req: {},
      expected: '401 denied',
    },
    {
      name: 'ALLOW by ipBlock matches plaintext',
      extra: [permissive, allowIp],
      req: {},
      expected: `allow ${M.echo1}:8080 (allowed)`,
    },
    {
      name: 'DENY by namespace does not match plaintext',
      extra: [denyOther],
      req: {},
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
  ];
  it.each(cases)('$name', ({ extra, req, expected }) => {
    expect(summary(decideInboundPlaintext(stateOf(extra), { ...base, ...req }))).toBe(expected);
  });
});

describe('the destination service of an inbound decision', () => {
  const strict = peerAuthentication('strict', { namespace: 'demo', mode: 'STRICT' });
  const denyAll = authorizationPolicy('deny-all', {
    namespace: 'demo',
    action: 'DENY',
    selector: { app: 'echo' },
    rules: [{}],
  });
  it.each([
    { name: 'HBONE, a service port', decide: decideInboundHbone, extra: [], port: 8080, service: M.echoHost },
    { name: 'HBONE, a port no service targets', decide: decideInboundHbone, extra: [], port: 9090 },
    {
      name: 'HBONE, denied',
      decide: decideInboundHbone,
      extra: [denyAll],
      port: 8080,
      service: M.echoHost,
    },
    { name: 'plaintext', decide: decideInboundPlaintext, extra: [], port: 8080, service: M.echoHost },
    {
      name: 'plaintext, STRICT',
      decide: decideInboundPlaintext,
      extra: [strict],
      port: 8080,
      service: M.echoHost,
    },
  ])('$name', ({ decide, extra, port, service }) => {
    const d = decide(stateOf(extra), { ...base, destination: { ip: M.echo1, port } });
    expect(d.service?.hostname).toBe(service);
  });
});

describe('waypoint-guarded ports take HBONE only from their waypoint', () => {
  const WAYPOINT = 'spiffe://cluster.local/ns/demo/sa/wp';
  const WORKLOAD_WP = 'spiffe://cluster.local/ns/demo/sa/wl-wp';
  const bindEcho = (objects: Record<string, unknown>[]) =>
    objects.map((o) =>
      o.kind === 'Service' && (o.metadata as { name: string }).name === 'echo'
        ? { ...o, metadata: { ...(o.metadata as object), labels: { 'weft.dev/use-waypoint': 'wp' } } }
        : o,
    );
  // `echo` (8080 -> echo-1) bound to waypoint demo/wp (pod sa wp); echo-1 itself is not bound.
  const serviceBound = (() => {
    const store = createStateStore();
    const objects = [
      ...bindEcho(localMeshObjects()),
      waypointGateway('wp', { namespace: 'demo' }),
      ...waypointDeployment('wp', { namespace: 'demo', ip: '127.0.1.50' }),
      denyOther,
    ];
    applyUpdate(store, batchFromSnapshot(compileOrThrow(objects), 'test'));
    return store.state;
  })();
  // A waypoint for workloads (demo/wl-wp, pod sa wl-wp) and a workload bound to it on node-a.
  const workloadBound = stateOf([
    waypointGateway('wl-wp', { namespace: 'demo', for: 'workload' }),
    pod('wl-wp-0', {
      namespace: 'demo',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'wl-wp' },
      ip: '127.0.1.51',
      serviceAccount: 'wl-wp',
    }),
    pod('bound', {
      namespace: 'demo',
      labels: { app: 'bound' },
      ip: '127.0.1.60',
      serviceAccount: 'bound',
      node: NODE_A.name,
      waypoint: 'wl-wp',
      ports: [{ containerPort: 7000 }],
    }),
    // Declared, never deployed: its bound workload is unreachable over HBONE (fail closed).
    waypointGateway('ghost', { namespace: 'demo', for: 'workload' }),
    pod('haunted', {
      namespace: 'demo',
      labels: { app: 'haunted' },
      ip: '127.0.1.61',
      serviceAccount: 'haunted',
      node: NODE_A.name,
      waypoint: 'ghost',
    }),
  ]);
  const cases: { name: string; state: ProxyState; req: Partial<InboundRequest>; expected: string }[] = [
    {
      name: 'service-bound port, the waypoint calls: allowed',
      state: serviceBound,
      req: { peerIdentity: WAYPOINT, sourceIp: '127.0.1.50' },
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
    {
      name: 'service-bound port, the client calls directly: refused',
      state: serviceBound,
      req: {},
      expected: '401 waypoint-bypass',
    },
    {
      name: 'service-bound port, no peer identity: refused',
      state: serviceBound,
      req: { peerIdentity: undefined as unknown as string },
      expected: '401 waypoint-bypass',
    },
    {
      name: 'a port no bound service targets: L4 policy as usual',
      state: serviceBound,
      req: { destination: { ip: M.echo1, port: 9090 } },
      expected: `allow ${M.echo1}:9090 (no-policy)`,
    },
    {
      name: 'a look-alike identity (same account name, another namespace): refused',
      state: serviceBound,
      req: { peerIdentity: 'spiffe://cluster.local/ns/other/sa/wp', sourceIp: '127.0.1.50' },
      expected: '401 waypoint-bypass',
    },
    {
      name: 'workload-bound, its waypoint calls: allowed',
      state: workloadBound,
      req: { destination: { ip: '127.0.1.60', port: 7000 }, peerIdentity: WORKLOAD_WP },
      expected: 'allow 127.0.1.60:7000 (no-policy)',
    },
    {
      name: 'workload-bound, any port, the client calls: refused',
      state: workloadBound,
      req: { destination: { ip: '127.0.1.60', port: 7001 } },
      expected: '401 waypoint-bypass',
    },
    {
      name: 'workload-bound, another waypoint calls: refused',
      state: workloadBound,
      req: { destination: { ip: '127.0.1.60', port: 7000 }, peerIdentity: WAYPOINT },
      expected: '401 waypoint-bypass',
    },
    {
      name: 'bound to a waypoint with no pods: nobody gets in',
      state: workloadBound,
      req: { destination: { ip: '127.0.1.61', port: 80 } },
      expected: '401 waypoint-bypass',
    },
  ];
  it.each(cases)('$name', ({ state, req, expected }) => {
    expect(summary(decideInboundHbone(state, { ...base, ...req }))).toBe(expected);
  });

  it('says who may connect, and names the service', () => {
    const d = decideInboundHbone(serviceBound, base);
    expect(d.allow ? '' : d.message).toBe(
      `demo/echo-1 port 8080 is served by waypoint demo/wp: only ${WAYPOINT} may connect, not ${CLIENT}`,
    );
    expect(d.service?.hostname).toBe(M.echoHost);
  });

  it.each([
    { name: 'service-bound port, PERMISSIVE', state: serviceBound, dest: { ip: M.echo1, port: 8080 } },
    { name: 'workload-bound, any port', state: workloadBound, dest: { ip: '127.0.1.60', port: 7000 } },
    { name: 'bound to a waypoint with no pods', state: workloadBound, dest: { ip: '127.0.1.61', port: 80 } },
  ])('plaintext to a guarded port is refused: $name', ({ state, dest }) => {
    // Even when the caller passes an identity: plaintext carries none, so it is never the waypoint.
    const d = decideInboundPlaintext(state, { ...base, destination: dest, peerIdentity: WAYPOINT });
    expect(summary(d)).toBe('401 waypoint-bypass');
    expect(d.allow ? '' : d.message).toContain(`not plaintext from ${M.client}`);
  });

  it('plaintext to a port no bound service targets: PERMISSIVE as usual', () => {
    const d = decideInboundPlaintext(serviceBound, { ...base, destination: { ip: M.echo1, port: 9090 } });
    expect(summary(d)).toBe(`allow ${M.echo1}:9090 (no-policy)`);
  });
});

describe('the proxy-owned ports are never dialled for a caller', () => {
  const permissive = peerAuthentication('permissive', {
    namespace: 'demo',
    selector: { app: 'echo' },
    mode: 'PERMISSIVE',
  });
  const ports = [...DEFAULT_PROXY_PORTS].sort((a, b) => a - b);
  it('covers every port the ztunnel listens on', () => {
    expect(ports).toEqual(Object.values(DEFAULT_PORTS).sort((a, b) => a - b));
    expect(ports).toEqual([15000, 15001, 15006, 15008, 15020, 15021, 15080]);
  });
  const cases = ports.flatMap((port) => [
    { name: `HBONE to the listener workload's ${port}`, decide: decideInboundHbone, ip: M.echo1, port },
    { name: `HBONE to node-a's own address, ${port}`, decide: decideInboundHbone, ip: NODE_A.ip, port },
    { name: `HBONE to another node's workload, ${port}`, decide: decideInboundHbone, ip: M.client, port },
    { name: `plaintext to ${port}`, decide: decideInboundPlaintext, ip: M.echo1, port },
  ]);
  it.each(cases)('$name: 400', ({ decide, ip, port }) => {
    const d = decide(stateOf([permissive]), { ...base, destination: { ip, port } });
    expect(summary(d)).toBe('400 proxy-port');
  });
  it('a port configured for the proxy is refused too; a workload port next to it is not', () => {
    const proxyPorts = proxyOwnedPorts({ hbone: 25008 });
    const state = stateOf([permissive]);
    const to = (port: number) => ({ ...base, destination: { ip: M.echo1, port }, proxyPorts });
    expect(summary(decideInboundHbone(state, to(25008)))).toBe('400 proxy-port');
    expect(summary(decideInboundHbone(state, to(15008)))).toBe('400 proxy-port');
    expect(summary(decideInboundHbone(state, to(15007)))).toBe(`allow ${M.echo1}:15007 (no-policy)`);
  });
});

describe('the true source: Forwarded is honoured only from a peer that may speak for another', () => {
  const WAYPOINT = 'spiffe://cluster.local/ns/demo/sa/wp';
  const bound = stateOf([
    waypointGateway('wp', { namespace: 'demo', for: 'workload' }),
    ...waypointDeployment('wp', { namespace: 'demo', ip: '127.0.1.50' }),
    pod('bound', {
      namespace: 'demo',
      labels: { app: 'bound' },
      ip: '127.0.1.60',
      serviceAccount: 'bound',
      node: NODE_A.name,
      waypoint: 'wp',
      ports: [{ containerPort: 7000 }],
    }),
  ]);
  const toBound = { destination: { ip: '127.0.1.60', port: 7000 } };
  const cases: {
    name: string;
    state: ProxyState;
    req: Partial<InboundRequest>;
    source: string;
    forwarded: string;
  }[] = [
    {
      name: 'no Forwarded: the TCP peer',
      state: stateOf([]),
      req: { sourceIp: '127.0.2.1' },
      source: '127.0.2.1',
      forwarded: 'absent',
    },
    {
      name: 'a peer naming a workload of its own identity (its ztunnel names the pod): honoured',
      state: stateOf([]),
      req: { sourceIp: '127.0.2.1', forwardedFor: M.client },
      source: M.client,
      forwarded: 'honoured',
    },
    {
      name: 'a peer naming an address of another identity: ignored',
      state: stateOf([]),
      req: { sourceIp: '127.0.2.1', forwardedFor: M.legacy },
      source: '127.0.2.1',
      forwarded: 'ignored',
    },
    {
      name: 'a peer naming an address outside the mesh: ignored',
      state: stateOf([]),
      req: { sourceIp: '127.0.2.1', forwardedFor: '10.0.0.7' },
      source: '127.0.2.1',
      forwarded: 'ignored',
    },
    {
      name: 'the waypoint guarding the destination speaks for its client: honoured',
      state: bound,
      req: { ...toBound, peerIdentity: WAYPOINT, sourceIp: '127.0.1.50', forwardedFor: '10.0.0.7' },
      source: '10.0.0.7',
      forwarded: 'honoured',
    },
    {
      name: 'that waypoint calling a port it does not guard: ignored',
      state: bound,
      req: { peerIdentity: WAYPOINT, sourceIp: '127.0.1.50', forwardedFor: '10.0.0.7' },
      source: '127.0.1.50',
      forwarded: 'ignored',
    },
    {
      name: 'a client of a guarded port forging its source: ignored (and refused as a bypass)',
      state: bound,
      req: { ...toBound, sourceIp: '127.0.2.1', forwardedFor: '127.0.1.50' },
      source: '127.0.2.1',
      forwarded: 'ignored',
    },
    {
      name: 'a refusal before the destination is known still reports the true source',
      state: stateOf([]),
      req: { destination: { ip: '127.0.9.9', port: 80 }, sourceIp: '127.0.2.1', forwardedFor: '10.0.0.7' },
      source: '127.0.2.1',
      forwarded: 'ignored',
    },
  ];
  it.each(cases)('$name', ({ state, req, source, forwarded }) => {
    const d = decideInboundHbone(state, { ...base, ...req });
    expect(d.source).toEqual({ ip: source, forwarded });
  });

  it('policy sees the true source: an ipBlock ALLOW cannot be met by forging Forwarded', () => {
    const allowOnlyLegacyIp = authorizationPolicy('allow-legacy-ip', {
      namespace: 'demo',
      action: 'ALLOW',
      rules: [{ from: [{ source: { ipBlocks: [`${M.legacy}/32`] } }] }],
    });
    const state = stateOf([allowOnlyLegacyIp]);
    const forged = decideInboundHbone(state, { ...base, sourceIp: M.client, forwardedFor: M.legacy });
    expect(summary(forged)).toBe('401 denied');
    expect(forged.source.ip).toBe(M.client);
  });

  it('plaintext ignores any Forwarded passed in', () => {
    const d = decideInboundPlaintext(stateOf([]), { ...base, sourceIp: '127.0.2.1', forwardedFor: M.client });
    expect(d.source).toEqual({ ip: '127.0.2.1', forwarded: 'absent' });
  });
});

describe('decideInboundMtls: a proxyless peer on the captured port is decided as an HBONE peer', () => {
  const PROXYLESS = 'spiffe://cluster.local/ns/other/sa/grpc-client';
  const denyProxyless = authorizationPolicy('deny-proxyless', {
    namespace: 'demo',
    action: 'DENY',
    selector: { app: 'echo' },
    rules: [{ from: [{ source: { principals: ['cluster.local/ns/other/sa/grpc-client'] } }] }],
  });
  const strict = peerAuthentication('strict', { namespace: 'demo', mode: 'STRICT' });
  const req: InboundRequest = { ...base, peerIdentity: PROXYLESS, sourceIp: '127.0.2.77' };
  const cases: { name: string; extra: unknown[]; req: Partial<InboundRequest>; expected: string }[] = [
    {
      name: 'STRICT, no policy: allowed',
      extra: [strict],
      req: {},
      expected: `allow ${M.echo1}:8080 (no-policy)`,
    },
    { name: 'DENY by principal applies', extra: [strict, denyProxyless], req: {}, expected: '401 denied' },
    { name: 'DENY by namespace applies', extra: [denyOther], req: {}, expected: '401 denied' },
    {
      name: 'ALLOW by another principal leaves it out',
      extra: [allowClient],
      req: {},
      expected: '401 denied',
    },
    {
      name: 'ALLOW by its principal lets it in',
      extra: [allowClient],
      req: { peerIdentity: CLIENT },
      expected: `allow ${M.echo1}:8080 (allowed)`,
    },
    {
      name: 'a proxy port is never dialled',
      extra: [],
      req: { destination: { ip: M.echo1, port: 15008 } },
      expected: '400 proxy-port',
    },
  ];
  it.each(cases)('$name (same as HBONE)', ({ extra, req: r, expected }) => {
    const state = stateOf(extra);
    const asMtls = decideInboundMtls(state, { ...req, ...r });
    expect(summary(asMtls)).toBe(expected);
    expect(summary(asMtls)).toBe(summary(decideInboundHbone(state, { ...req, ...r })));
  });

  it('makes no Forwarded claim: the source is the TCP peer', () => {
    const d = decideInboundMtls(stateOf([]), { ...req, forwardedFor: M.client });
    expect(d.source).toEqual({ ip: '127.0.2.77', forwarded: 'absent' });
  });

  it('while plaintext from the same peer is refused under STRICT', () => {
    const { peerIdentity: _id, ...plain } = req;
    const d = decideInboundPlaintext(stateOf([strict]), plain);
    expect(summary(d)).toBe('401 strict-mtls');
  });
});
