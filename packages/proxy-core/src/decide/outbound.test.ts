import type { DataplaneMode } from '@weft/policy';
import { pod, service, waypointDeployment, waypointGateway } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { applyUpdate, batchFromSnapshot, createStateStore, type ProxyState } from '../state/store.ts';
import { compileOrThrow, localMeshObjects, LOCAL_MESH as M, NODE_B } from '../testing/mesh.ts';
import {
  type OutboundConnection,
  type OutboundPlan,
  planOutbound,
  randomPicker,
  roundRobinPicker,
} from './outbound.ts';

function stateOf(extra: unknown[] = []): ProxyState {
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileOrThrow([...localMeshObjects(), ...extra]), 'test'));
  return store.state;
}

/** A short text form of a plan, so tables stay readable. */
function summary(plan: OutboundPlan): string {
  switch (plan.kind) {
    case 'deny':
      return `deny ${plan.reason}`;
    case 'hbone':
      return `hbone ${plan.sourceIdentity.replace('spiffe://cluster.local/', '')} -> ${plan.via.ip}:${plan.via.port} authority ${plan.authority.ip}:${plan.authority.port} expect ${plan.expectedIdentity.replace('spiffe://cluster.local/', '')}${plan.service ? ` svc ${plan.service.name}` : ''}${plan.waypoint ? ` waypoint ${plan.waypoint.key}` : ''}`;
    case 'mtls':
      return `mtls ${plan.sourceIdentity.replace('spiffe://cluster.local/', '')} -> ${plan.target.ip}:${plan.target.port} expect ${plan.expectedIdentity.replace('spiffe://cluster.local/', '')}${plan.service ? ` svc ${plan.service.name}:${plan.servicePort?.port}` : ''}`;
    case 'passthrough':
      return `passthrough ${plan.reason} ${plan.target.ip}:${plan.target.port}`;
    default: {
      const never: never = plan;
      return never;
    }
  }
}

const extra = [
  waypointGateway('waypoint', { namespace: 'demo', for: 'all' }),
  // A second healthy echo on node-b for endpoint choice.
  pod('echo-3', {
    namespace: 'demo',
    labels: { app: 'echo', version: 'v3' },
    ip: '127.0.2.12',
    serviceAccount: 'echo',
    node: NODE_B.name,
    ports: [{ name: 'tcp-echo', containerPort: 8080 }],
  }),
  pod('sidecar-app', {
    namespace: 'other',
    labels: { app: 'sc' },
    ip: '127.0.2.30',
    serviceAccount: 'sc',
    node: NODE_B.name,
    mode: 'sidecar',
  }),
  pod('wp-user', {
    namespace: 'demo',
    labels: { app: 'wp' },
    ip: '127.0.2.40',
    serviceAccount: 'wp',
    node: NODE_B.name,
    waypoint: 'waypoint',
  }),
  // A proxyless gRPC server (mesh mTLS on its own port 50051) and its service.
  pod('grpc-1', {
    namespace: 'demo',
    labels: { app: 'grpc' },
    ip: '127.0.1.80',
    serviceAccount: 'grpc',
    node: 'node-a',
    mode: 'proxyless',
    ports: [{ name: 'grpc', containerPort: 50051 }],
  }),
  service('grpc', {
    namespace: 'demo',
    clusterIP: '10.96.0.80',
    selector: { app: 'grpc' },
    ports: [{ name: 'grpc', port: 8080, targetPort: 50051 }],
  }),
  service('empty', {
    namespace: 'demo',
    clusterIP: '10.96.0.30',
    selector: { app: 'nothing' },
    ports: [{ port: 7 }],
  }),
  // A deployed waypoint for services (pod 127.0.1.50, sa svc-wp) and service `shop` bound to it.
  waypointGateway('svc-wp', { namespace: 'demo' }),
  ...waypointDeployment('svc-wp', { namespace: 'demo', ip: '127.0.1.50', clusterIP: '10.96.0.49' }),
  service('shop', {
    namespace: 'demo',
    clusterIP: '10.96.0.50',
    labels: { 'weft.dev/use-waypoint': 'svc-wp' },
    selector: { app: 'shop' },
    ports: [{ name: 'http', port: 80, targetPort: 8080 }],
  }),
  // The same pods behind a second, unbound service: its traffic still reaches a guarded port.
  service('shop-direct', {
    namespace: 'demo',
    clusterIP: '10.96.0.51',
    selector: { app: 'shop' },
    ports: [{ name: 'http', port: 81, targetPort: 8080 }],
  }),
  pod('shop-1', {
    namespace: 'demo',
    labels: { app: 'shop' },
    ip: '127.0.1.60',
    serviceAccount: 'shop',
    node: 'node-a',
    ports: [{ name: 'http', containerPort: 8080 }],
  }),
  // A waypoint whose only pod is not ready, and a service bound to it.
  waypointGateway('down-wp', { namespace: 'demo' }),
  pod('down-wp-0', {
    namespace: 'demo',
    labels: { 'gateway.networking.k8s.io/gateway-name': 'down-wp' },
    ip: '127.0.1.70',
    serviceAccount: 'down-wp',
    ready: false,
  }),
  service('down', {
    namespace: 'demo',
    clusterIP: '10.96.0.52',
    labels: { 'weft.dev/use-waypoint': 'down-wp' },
    selector: { app: 'shop' },
    ports: [{ port: 82, targetPort: 9090 }],
  }),
];

const state = stateOf(extra);
const first = () => 0;

const cases: { name: string; conn: OutboundConnection; expected: string; mode?: DataplaneMode }[] = [
  {
    name: 'service VIP -> healthy endpoint over HBONE (unhealthy echo-2 skipped)',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: M.echoVip, port: 80 } },
    expected: `hbone ns/demo/sa/client -> ${M.echo1}:15008 authority ${M.echo1}:8080 expect ns/demo/sa/echo svc echo`,
  },
  {
    name: 'mesh hostname -> service -> endpoint',
    conn: { sourceIp: M.client, target: { kind: 'hostname', hostname: M.echoHost, port: 80 } },
    expected: `hbone ns/demo/sa/client -> ${M.echo1}:15008 authority ${M.echo1}:8080 expect ns/demo/sa/echo svc echo`,
  },
  {
    name: 'hostname in upper case with a trailing dot',
    conn: {
      sourceIp: M.client,
      target: { kind: 'hostname', hostname: 'ECHO.demo.svc.cluster.local.', port: 80 },
    },
    expected: `hbone ns/demo/sa/client -> ${M.echo1}:15008 authority ${M.echo1}:8080 expect ns/demo/sa/echo svc echo`,
  },
  {
    name: 'IP literal given as a DOMAINNAME',
    conn: { sourceIp: M.client, target: { kind: 'hostname', hostname: M.echo1, port: 8080 } },
    expected: `hbone ns/demo/sa/client -> ${M.echo1}:15008 authority ${M.echo1}:8080 expect ns/demo/sa/echo`,
  },
  {
    name: 'direct pod IP (any port) -> HBONE to that pod',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: M.echo1, port: 9999 } },
    expected: `hbone ns/demo/sa/client -> ${M.echo1}:15008 authority ${M.echo1}:9999 expect ns/demo/sa/echo`,
  },
  {
    name: 'destination workload in sidecar mode -> HBONE (sidecars terminate HBONE)',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.2.30', port: 80 } },
    expected: 'hbone ns/demo/sa/client -> 127.0.2.30:15008 authority 127.0.2.30:80 expect ns/other/sa/sc',
  },
  {
    name: 'destination workload in mode none -> passthrough',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: M.legacy, port: 9000 } },
    expected: `passthrough destination-not-captured ${M.legacy}:9000`,
  },
  {
    name: 'service whose endpoints are in mode none -> passthrough to the endpoint',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: M.legacyVip, port: 90 } },
    expected: `passthrough destination-not-captured ${M.legacy}:9000`,
  },
  {
    name: 'proxyless destination pod -> mesh mTLS straight to its port, expecting its identity',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.1.80', port: 50051 } },
    expected: 'mtls ns/demo/sa/client -> 127.0.1.80:50051 expect ns/demo/sa/grpc',
  },
  {
    name: 'service whose endpoint is proxyless (VIP) -> mesh mTLS to the endpoint target port',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '10.96.0.80', port: 8080 } },
    expected: 'mtls ns/demo/sa/client -> 127.0.1.80:50051 expect ns/demo/sa/grpc svc grpc:8080',
  },
  {
    name: 'service whose endpoint is proxyless (hostname) -> mesh mTLS',
    conn: {
      sourceIp: M.client,
      target: { kind: 'hostname', hostname: 'grpc.demo.svc.cluster.local', port: 8080 },
    },
    expected: 'mtls ns/demo/sa/client -> 127.0.1.80:50051 expect ns/demo/sa/grpc svc grpc:8080',
  },
  {
    name: 'a sidecar source plans mesh mTLS to a proxyless destination too',
    mode: 'sidecar',
    conn: { sourceIp: '127.0.2.30', target: { kind: 'address', ip: '10.96.0.80', port: 8080 } },
    expected: 'mtls ns/other/sa/sc -> 127.0.1.80:50051 expect ns/demo/sa/grpc svc grpc:8080',
  },
  {
    name: 'address outside the mesh -> passthrough',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.9.9', port: 5432 } },
    expected: 'passthrough not-in-mesh 127.0.9.9:5432',
  },
  {
    name: 'IPv6 outside the mesh -> passthrough, canonical',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '0:0:0:0:0:0:0:1', port: 5432 } },
    expected: 'passthrough not-in-mesh ::1:5432',
  },
  {
    name: 'IPv4-mapped source address is the IPv4 workload',
    conn: { sourceIp: `::ffff:${M.client}`, target: { kind: 'address', ip: '127.0.9.9', port: 1 } },
    expected: 'passthrough not-in-mesh 127.0.9.9:1',
  },
  {
    name: 'unknown source -> deny',
    conn: { sourceIp: '127.0.2.99', target: { kind: 'address', ip: M.echoVip, port: 80 } },
    expected: 'deny unknown-source',
  },
  {
    name: 'source on another node -> deny',
    conn: { sourceIp: M.echo1, target: { kind: 'address', ip: M.echoVip, port: 80 } },
    expected: 'deny source-not-local',
  },
  {
    name: 'source not in ambient mode -> deny',
    conn: { sourceIp: M.legacy, target: { kind: 'address', ip: M.echoVip, port: 80 } },
    expected: 'deny source-not-ambient',
  },
  {
    name: 'unknown hostname -> deny',
    conn: { sourceIp: M.client, target: { kind: 'hostname', hostname: 'example.com', port: 80 } },
    expected: 'deny unknown-hostname',
  },
  {
    name: 'service port not declared (VIP) -> deny',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: M.echoVip, port: 81 } },
    expected: 'deny unknown-service-port',
  },
  {
    name: 'service port not declared (hostname) -> deny',
    conn: { sourceIp: M.client, target: { kind: 'hostname', hostname: M.echoHost, port: 81 } },
    expected: 'deny unknown-service-port',
  },
  {
    name: 'service without endpoints -> deny',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '10.96.0.30', port: 7 } },
    expected: 'deny no-endpoints',
  },
  {
    name: 'bound service VIP -> its waypoint pod, :authority the VIP, expecting the waypoint identity',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '10.96.0.50', port: 80 } },
    expected:
      'hbone ns/demo/sa/client -> 127.0.1.50:15008 authority 10.96.0.50:80 expect ns/demo/sa/svc-wp svc shop waypoint demo/svc-wp',
  },
  {
    name: 'bound service hostname -> its waypoint, :authority the service VIP',
    conn: {
      sourceIp: M.client,
      target: { kind: 'hostname', hostname: 'shop.demo.svc.cluster.local', port: 80 },
    },
    expected:
      'hbone ns/demo/sa/client -> 127.0.1.50:15008 authority 10.96.0.50:80 expect ns/demo/sa/svc-wp svc shop waypoint demo/svc-wp',
  },
  {
    name: 'pod IP on a port a bound service targets -> the waypoint, :authority the pod (no way around it)',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.1.60', port: 8080 } },
    expected:
      'hbone ns/demo/sa/client -> 127.0.1.50:15008 authority 127.0.1.60:8080 expect ns/demo/sa/svc-wp waypoint demo/svc-wp',
  },
  {
    name: 'unbound service whose endpoint port a bound service targets -> the waypoint, :authority the endpoint',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '10.96.0.51', port: 81 } },
    expected:
      'hbone ns/demo/sa/client -> 127.0.1.50:15008 authority 127.0.1.60:8080 expect ns/demo/sa/svc-wp svc shop-direct waypoint demo/svc-wp',
  },
  {
    name: 'pod IP on a port no bound service targets -> straight to the pod',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.1.60', port: 9999 } },
    expected: 'hbone ns/demo/sa/client -> 127.0.1.60:15008 authority 127.0.1.60:9999 expect ns/demo/sa/shop',
  },
  {
    name: 'workload bound to a waypoint without pods -> deny (fail closed, never around it)',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.2.40', port: 80 } },
    expected: 'deny waypoint-unavailable',
  },
  {
    name: 'service bound to a waypoint whose pods are not ready -> deny',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '10.96.0.52', port: 82 } },
    expected: 'deny waypoint-unavailable',
  },
  {
    name: 'unspecified address -> deny',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '0.0.0.0', port: 80 } },
    expected: 'deny invalid-destination',
  },
  {
    name: 'port 0 -> deny',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: '127.0.9.9', port: 0 } },
    expected: 'deny invalid-destination',
  },
  {
    name: 'a proxy serving sidecar mode plans for its sidecar source',
    mode: 'sidecar',
    conn: { sourceIp: '127.0.2.30', target: { kind: 'address', ip: M.echo1, port: 8080 } },
    expected: `hbone ns/other/sa/sc -> ${M.echo1}:15008 authority ${M.echo1}:8080 expect ns/demo/sa/echo`,
  },
  {
    name: 'a proxy serving sidecar mode refuses an ambient source',
    mode: 'sidecar',
    conn: { sourceIp: M.client, target: { kind: 'address', ip: M.echo1, port: 8080 } },
    expected: 'deny source-not-ambient',
  },
  {
    name: 'the mode served is the source check only: a sidecar proxy still goes through a guarding waypoint',
    mode: 'sidecar',
    conn: { sourceIp: '127.0.2.30', target: { kind: 'address', ip: '127.0.2.40', port: 80 } },
    expected: 'deny waypoint-unavailable',
  },
];

describe('planOutbound', () => {
  it.each(cases)('$name', ({ conn, expected, mode = 'ambient' }) => {
    expect(summary(planOutbound(state, conn, { nodeName: NODE_B.name, mode, pick: first }))).toBe(expected);
  });

  it('round robin alternates between the healthy endpoints of a service port', () => {
    const pick = roundRobinPicker();
    const conn: OutboundConnection = {
      sourceIp: M.client,
      target: { kind: 'address', ip: M.echoVip, port: 80 },
    };
    const via = [0, 1, 2, 3].map((): string => {
      const plan = planOutbound(state, conn, { nodeName: NODE_B.name, mode: 'ambient', pick });
      return plan.kind === 'hbone' ? plan.via.ip : plan.kind;
    });
    expect(via).toEqual([M.echo1, '127.0.2.12', M.echo1, '127.0.2.12']);
  });

  it.each([
    { r: 0, ip: M.echo1 },
    { r: 0.49, ip: M.echo1 },
    { r: 0.5, ip: '127.0.2.12' },
    { r: 0.999, ip: '127.0.2.12' },
  ])('random picker with injected randomness $r -> $ip', ({ r, ip }) => {
    const plan = planOutbound(
      state,
      { sourceIp: M.client, target: { kind: 'address', ip: M.echoVip, port: 80 } },
      { nodeName: NODE_B.name, mode: 'ambient', pick: randomPicker(() => r) },
    );
    expect(plan.kind === 'hbone' ? plan.via.ip : plan.kind).toBe(ip);
  });

  it('falls back to unhealthy endpoints when none is healthy', () => {
    const only = stateOf(); // echo-1 (healthy, node-a) and echo-2 (not ready)
    const down = createStateStore();
    const objects = localMeshObjects().filter((o) => (o.metadata as { name: string }).name !== 'echo-1');
    applyUpdate(down, batchFromSnapshot(compileOrThrow(objects), 'test'));
    const plan = planOutbound(
      down.state,
      { sourceIp: M.client, target: { kind: 'address', ip: M.echoVip, port: 80 } },
      { nodeName: NODE_B.name, mode: 'ambient', pick: first },
    );
    expect(summary(plan)).toBe(
      `hbone ns/demo/sa/client -> ${M.echo2}:15008 authority ${M.echo2}:8080 expect ns/demo/sa/echo svc echo`,
    );
    expect(only.workloads.size).toBe(4);
  });

  it('uses the configured HBONE port', () => {
    const plan = planOutbound(
      state,
      { sourceIp: M.client, target: { kind: 'address', ip: M.echo1, port: 8080 } },
      { nodeName: NODE_B.name, mode: 'ambient', pick: first, hbonePort: 25008 },
    );
    expect(plan.kind === 'hbone' ? plan.via.port : 0).toBe(25008);
  });

  it("reaches a waypoint through the pods its Waypoint resource lists, not the pods' labels", () => {
    const conn: OutboundConnection = {
      sourceIp: M.client,
      target: { kind: 'address', ip: '10.96.0.50', port: 80 },
    };
    const options = { nodeName: NODE_B.name, mode: 'ambient' as const, pick: first };
    expect(summary(planOutbound(state, conn, options))).toContain('-> 127.0.1.50:15008');
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(compileOrThrow([...localMeshObjects(), ...extra]), 'test'));
    applyUpdate(store, { source: 'test', waypoints: { removals: ['demo/svc-wp'] } });
    // The pod still carries the gateway-name label; without its Waypoint nothing runs it: fail closed.
    expect(planOutbound(store.state, conn, options).kind).toBe('deny');
  });
});
