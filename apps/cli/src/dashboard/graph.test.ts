import { describe, expect, it } from 'vitest';
import {
  buildGraph,
  counterDelta,
  EMPTY_RATE_STATE,
  edgeCounters,
  mtlsState,
  type Sample,
  type Scrape,
  type SnapshotView,
  workloadMode,
} from './graph.ts';

const req = (
  reporter: string,
  src: string,
  dst: string,
  code: string,
  value: number,
  extra: Record<string, string> = {},
): Sample => ({
  name: 'istio_requests_total',
  labels: {
    reporter,
    source_workload: src,
    source_workload_namespace: 'demo',
    destination_workload: dst,
    destination_workload_namespace: dst === 'unknown' ? 'unknown' : 'demo',
    destination_service: 'echo.demo.svc.cluster.local',
    response_code: code,
    response_flags: code === '403' ? 'RBAC' : '-',
    connection_security_policy: 'mutual_tls',
    ...extra,
  },
  value,
});
const scrape = (name: string, samples: Sample[]): Scrape => ({
  name,
  url: `http://${name}/metrics`,
  samples,
});

const SNAPSHOT: SnapshotView = {
  version: 'v1',
  workloads: {
    u1: { uid: 'u1', name: 'client', namespace: 'demo', mode: 'ambient', labels: {} },
    u2: { uid: 'u2', name: 'echo-v1', namespace: 'demo', mode: 'ambient', labels: { app: 'echo' } },
    u3: {
      uid: 'u3',
      name: 'waypoint-0',
      namespace: 'demo',
      mode: 'none',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
    },
    u4: { uid: 'u4', name: 'sidecar-client', namespace: 'hybrid', mode: 'sidecar' },
  },
  services: {
    'echo.demo.svc.cluster.local': {
      hostname: 'echo.demo.svc.cluster.local',
      name: 'echo',
      namespace: 'demo',
      endpoints: [{ workloadUid: 'u2' }],
    },
  },
};

describe('workloadMode', () => {
  it.each([
    [{ mode: 'ambient' }, 'ambient'],
    [{ mode: 'sidecar' }, 'sidecar'],
    [{ mode: 'proxyless' }, 'proxyless'],
    [{ mode: 'none' }, 'none'],
    [{ mode: 'something-new' }, 'none'],
    [{}, 'none'],
    [{ mode: 'none', labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } }, 'waypoint'],
    [{ mode: 'ambient', labels: { 'gateway.networking.k8s.io/gateway-name': '' } }, 'ambient'],
  ])('%j -> %s', (w, mode) => {
    expect(workloadMode(w)).toBe(mode);
  });
});

describe('counterDelta', () => {
  it.each([
    [undefined, 5, 0],
    [3, 5, 2],
    [5, 5, 0],
    [9, 2, 2], // reset: the proxy restarted
  ])('%s -> %s = %s', (prev, cur, delta) => {
    expect(counterDelta(prev, cur)).toBe(delta);
  });
});

describe('mtlsState', () => {
  it.each([
    [[], 'unknown'],
    [['unknown'], 'unknown'],
    [['mutual_tls'], 'mutual_tls'],
    [['none'], 'none'],
    [['mutual_tls', 'none'], 'mixed'],
    [['mutual_tls', 'unknown'], 'mutual_tls'],
  ])('%j -> %s', (seen, state) => {
    expect(mtlsState(new Set(seen))).toBe(state);
  });
});

describe('edgeCounters', () => {
  it('counts a call once though source, waypoint and destination each report it', () => {
    const c = edgeCounters([
      scrape('ztunnel node-b', [req('source', 'client', 'echo-v1', '200', 4)]),
      scrape('waypoint-0', [req('waypoint', 'client', 'echo-v1', '200', 5)]),
      scrape('ztunnel node-a', [req('destination', 'client', 'echo-v1', '200', 5)]),
    ]);
    expect(c.get('wl:demo/client->wl:demo/echo-v1')).toMatchObject({ requests: 5, ok: 5, denied: 0 });
  });

  it.each([
    [['destination:mutual_tls', 'source:none'], 'mutual_tls'],
    [['waypoint:mutual_tls'], 'mutual_tls'],
    [['source:none'], 'none'],
    [['source:mutual_tls', 'destination:unknown'], 'mutual_tls'],
    [['destination:none', 'source:mutual_tls'], 'none'],
  ])('mTLS from %j is %s (the receiver decides)', (seen, expected) => {
    const c = edgeCounters([
      scrape(
        'p',
        seen.map((s) => {
          const [reporter = '', policy = ''] = s.split(':');
          return req(reporter, 'client', 'echo-v1', '200', 1, { connection_security_policy: policy });
        }),
      ),
    ]);
    expect(mtlsState(c.get('wl:demo/client->wl:demo/echo-v1')?.mtls ?? new Set())).toBe(expected);
  });

  it('puts a denied call with no destination workload on the service it was for', () => {
    const c = edgeCounters([scrape('waypoint-0', [req('waypoint', 'client', 'unknown', '403', 3)])]);
    expect(c.get('wl:demo/client->svc:echo.demo.svc.cluster.local')).toMatchObject({
      requests: 3,
      ok: 0,
      denied: 3,
    });
  });

  it.each([
    ['200', 1, 0],
    ['404', 1, 0],
    ['403', 0, 1],
    ['500', 0, 0],
    ['503', 0, 0],
  ])('response %s: ok %d, denied %d', (code, ok, denied) => {
    const c = edgeCounters([scrape('w', [req('waypoint', 'client', 'echo-v1', code, 1)])]);
    expect(c.get('wl:demo/client->wl:demo/echo-v1')).toMatchObject({ ok, denied });
  });

  it('reads L4 connections and RBAC-flagged ones as denies; skips unknown sources', () => {
    const c = edgeCounters([
      scrape('ztunnel node-a', [
        {
          name: 'istio_tcp_connections_opened_total',
          labels: {
            reporter: 'destination',
            source_workload: 'client',
            source_workload_namespace: 'demo',
            destination_workload: 'echo-direct',
            destination_workload_namespace: 'demo',
            response_flags: 'RBAC',
            connection_security_policy: 'mutual_tls',
          },
          value: 2,
        },
        {
          name: 'istio_tcp_connections_opened_total',
          labels: { reporter: 'destination', source_workload: 'unknown', destination_workload: 'echo-v1' },
          value: 7,
        },
      ]),
    ]);
    expect([...c.keys()]).toEqual(['wl:demo/client->wl:demo/echo-direct']);
    expect(c.get('wl:demo/client->wl:demo/echo-direct')).toMatchObject({ connections: 2, denied: 2 });
  });
});

describe('buildGraph', () => {
  it('draws workloads by mode, services with their backends, and no rate on the first poll', () => {
    const { graph } = buildGraph(
      SNAPSHOT,
      [scrape('waypoint-0', [req('waypoint', 'client', 'echo-v1', '200', 5)])],
      EMPTY_RATE_STATE,
      1000,
    );
    expect(graph.nodes.map((n) => [n.id, n.mode ?? n.kind])).toEqual([
      ['svc:echo.demo.svc.cluster.local', 'service'],
      ['wl:demo/client', 'ambient'],
      ['wl:demo/echo-v1', 'ambient'],
      ['wl:demo/waypoint-0', 'waypoint'],
      ['wl:hybrid/sidecar-client', 'sidecar'],
    ]);
    expect(graph.edges.map((e) => [e.id, e.kind])).toEqual([
      ['svc:echo.demo.svc.cluster.local=>wl:demo/echo-v1', 'backend'],
      ['wl:demo/client->wl:demo/echo-v1', 'traffic'],
    ]);
    expect(graph.edges[1]).toMatchObject({ rps: 0, successRate: 1, mtls: 'mutual_tls', denied: false });
  });

  it('turns counters into rates, success share and DENY over the poll interval, then lets DENY fade', () => {
    const first = buildGraph(
      SNAPSHOT,
      [
        scrape('w', [
          req('waypoint', 'client', 'echo-v1', '200', 10),
          req('waypoint', 'client', 'echo-v1', '503', 0),
        ]),
      ],
      EMPTY_RATE_STATE,
      1000,
    );
    const second = buildGraph(
      SNAPSHOT,
      [
        scrape('w', [
          req('waypoint', 'client', 'echo-v1', '200', 16),
          req('waypoint', 'client', 'echo-v1', '503', 2),
          req('waypoint', 'client', 'unknown', '403', 1),
        ]),
      ],
      first.state,
      3000,
      { denyHoldMs: 5000 },
    );
    const byId = new Map(second.graph.edges.map((e) => [e.id, e]));
    expect(byId.get('wl:demo/client->wl:demo/echo-v1')).toMatchObject({
      rps: 4,
      successRate: 0.75,
      denied: false,
    });
    // an edge first seen after the first poll: all of its count is new
    const deny = byId.get('wl:demo/client->svc:echo.demo.svc.cluster.local');
    expect(deny).toMatchObject({ deniedTotal: 1, denied: true, rps: 0.5, successRate: 0 });
    const third = buildGraph(
      SNAPSHOT,
      [
        scrape('w', [
          req('waypoint', 'client', 'echo-v1', '200', 16),
          req('waypoint', 'client', 'unknown', '403', 3),
        ]),
      ],
      second.state,
      4000,
      { denyHoldMs: 5000 },
    );
    const denied = third.graph.edges.find((e) => e.id === 'wl:demo/client->svc:echo.demo.svc.cluster.local');
    expect(denied).toMatchObject({ denied: true, rps: 2, successRate: 0 });
    const later = buildGraph(
      SNAPSHOT,
      [scrape('w', [req('waypoint', 'client', 'unknown', '403', 3)])],
      third.state,
      8000,
      { denyHoldMs: 5000 },
    );
    expect(later.graph.edges.find((e) => e.id === denied?.id)?.denied).toBe(true);
    const faded = buildGraph(
      SNAPSHOT,
      [scrape('w', [req('waypoint', 'client', 'unknown', '403', 3)])],
      later.state,
      9500,
      {
        denyHoldMs: 5000,
      },
    );
    expect(faded.graph.edges.find((e) => e.id === denied?.id)?.denied).toBe(false);
  });

  it('keeps drawing when weftd or a proxy is down, and says which', () => {
    const { graph } = buildGraph(
      null,
      [
        { name: 'ztunnel node-a', url: 'http://a/metrics', samples: null, error: 'ECONNREFUSED' },
        scrape('waypoint-0', [
          { name: 'weft_rejected_total', labels: { component: 'waypoint', reason: 'denied' }, value: 2 },
          {
            name: 'weft_rejected_total',
            labels: { component: 'waypoint', reason: 'bad_trace_header' },
            value: 9,
          },
          req('waypoint', 'client', 'echo-v1', '200', 1),
        ]),
      ],
      EMPTY_RATE_STATE,
      1,
    );
    expect(graph.proxies).toEqual([
      { name: 'ztunnel node-a', url: 'http://a/metrics', ok: false, error: 'ECONNREFUSED', policyRejects: 0 },
      { name: 'waypoint-0', url: 'http://waypoint-0/metrics', ok: true, policyRejects: 2 },
    ]);
    // nodes named only by metrics still show
    expect(graph.nodes.map((n) => n.id)).toEqual(['wl:demo/client', 'wl:demo/echo-v1']);
  });
});
