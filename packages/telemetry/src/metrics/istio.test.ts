import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../testing/index.ts';
import {
  createMeshMetrics,
  HTTP_LABEL_NAMES,
  ISTIO_DEFAULT_BUCKETS,
  type PeerLabels,
  peerLabels,
  TCP_LABEL_NAMES,
} from './istio.ts';
import { createRegistry } from './registry.ts';

const peer: PeerLabels = peerLabels({
  reporter: 'destination',
  source: {
    name: 'sleep',
    namespace: 'default',
    principal: 'spiffe://cluster.local/ns/default/sa/sleep',
    app: 'sleep',
    version: 'v1',
    cluster: 'Kubernetes',
  },
  destination: {
    name: 'reviews-v2',
    namespace: 'default',
    principal: 'spiffe://cluster.local/ns/default/sa/reviews',
    app: 'reviews',
    version: 'v2',
    cluster: 'Kubernetes',
  },
  service: { hostname: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' },
  security: 'mutual_tls',
});

const peerExpected = {
  reporter: 'destination',
  source_workload: 'sleep',
  source_workload_namespace: 'default',
  source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
  source_app: 'sleep',
  source_version: 'v1',
  source_cluster: 'Kubernetes',
  destination_workload: 'reviews-v2',
  destination_workload_namespace: 'default',
  destination_principal: 'spiffe://cluster.local/ns/default/sa/reviews',
  destination_app: 'reviews',
  destination_version: 'v2',
  destination_service: 'reviews.default.svc.cluster.local',
  destination_service_name: 'reviews',
  destination_service_namespace: 'default',
  destination_cluster: 'Kubernetes',
};

describe('createMeshMetrics: exported text', () => {
  it('exports the TCP metrics with Istio names and exactly Istio labels', async () => {
    const m = createMeshMetrics();
    const conn = m.tcp.bind(peer);
    conn.opened();
    conn.bytes(100, 40);
    conn.bytes(50, 0);
    conn.closed();
    const text = parsePrometheusText(await m.registry.metrics());
    const labels = {
      ...peerExpected,
      request_protocol: 'tcp',
      response_flags: '-',
      connection_security_policy: 'mutual_tls',
    };
    for (const [name, value] of [
      ['istio_tcp_connections_opened_total', 1],
      ['istio_tcp_connections_closed_total', 1],
      ['istio_tcp_sent_bytes_total', 150],
      ['istio_tcp_received_bytes_total', 40],
    ] as const) {
      expect(text.families.get(name)?.type).toBe('counter');
      const samples = text.find(name);
      expect(samples).toHaveLength(1);
      expect(samples[0]?.labels).toEqual(labels);
      expect(Object.keys(samples[0]?.labels ?? {}).sort()).toEqual([...TCP_LABEL_NAMES].sort());
      expect(samples[0]?.value).toBe(value);
    }
  });

  it('exports the HTTP counter and histograms with Istio buckets and labels', async () => {
    const m = createMeshMetrics();
    const h = m.http.bind({ ...peer, request_protocol: 'http' });
    h.record({ responseCode: 200 }, { durationMs: 3, requestBytes: 0, responseBytes: 1500 });
    h.record({ responseCode: 200 }, { durationMs: 700, requestBytes: 10, responseBytes: 20 });
    h.record(
      { responseCode: 503, responseFlags: 'UF' },
      { durationMs: 1, requestBytes: 0, responseBytes: 19 },
    );
    const text = parsePrometheusText(await m.registry.metrics());

    const ok = {
      ...peerExpected,
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'mutual_tls',
    };
    const failed = { ...ok, response_code: '503', response_flags: 'UF' };

    expect(text.families.get('istio_requests_total')?.type).toBe('counter');
    expect(text.value('istio_requests_total', ok)).toBe(2);
    expect(text.value('istio_requests_total', failed)).toBe(1);
    for (const s of text.find('istio_requests_total')) {
      expect(Object.keys(s.labels).sort()).toEqual([...HTTP_LABEL_NAMES].sort());
    }

    for (const name of [
      'istio_request_duration_milliseconds',
      'istio_request_bytes',
      'istio_response_bytes',
    ]) {
      expect(text.families.get(name)?.type).toBe('histogram');
      const buckets = text.find(`${name}_bucket`, ok);
      expect(buckets.map((b) => b.labels.le)).toEqual([...ISTIO_DEFAULT_BUCKETS.map(String), '+Inf']);
      expect(text.value(`${name}_count`, ok)).toBe(2);
      expect(buckets.at(-1)?.value).toBe(2);
      for (const b of buckets)
        expect(Object.keys(b.labels).sort()).toEqual([...HTTP_LABEL_NAMES, 'le'].sort());
    }
    // 3 ms and 700 ms: cumulative buckets
    const d = (le: string) => text.value('istio_request_duration_milliseconds_bucket', { ...ok, le });
    expect([d('1'), d('5'), d('500'), d('1000')]).toEqual([0, 1, 1, 2]);
    expect(text.value('istio_request_duration_milliseconds_sum', ok)).toBe(703);
    expect(text.value('istio_response_bytes_sum', ok)).toBe(1520);
    // le is inclusive: 1 ms lands in le="1"
    expect(text.value('istio_request_duration_milliseconds_bucket', { ...failed, le: '1' })).toBe(1);
    expect(text.value('istio_request_duration_milliseconds_bucket', { ...failed, le: '0.5' })).toBe(0);
  });

  it('labels gRPC outcomes and fills missing peer labels with "unknown"', async () => {
    const m = createMeshMetrics();
    m.http
      .bind({
        reporter: 'waypoint',
        request_protocol: 'grpc',
        destination_service: 'echo.ns.svc.cluster.local',
      })
      .record({ responseCode: 200, grpcStatus: 14 }, { durationMs: 2, requestBytes: 5, responseBytes: 0 });
    const text = parsePrometheusText(await m.registry.metrics());
    const [s] = text.find('istio_requests_total');
    expect(s?.labels).toEqual({
      reporter: 'waypoint',
      source_workload: 'unknown',
      source_workload_namespace: 'unknown',
      source_principal: 'unknown',
      source_app: 'unknown',
      source_version: 'unknown',
      source_cluster: 'unknown',
      destination_workload: 'unknown',
      destination_workload_namespace: 'unknown',
      destination_principal: 'unknown',
      destination_app: 'unknown',
      destination_version: 'unknown',
      destination_service: 'echo.ns.svc.cluster.local',
      destination_service_name: 'unknown',
      destination_service_namespace: 'unknown',
      destination_cluster: 'unknown',
      request_protocol: 'grpc',
      response_code: '200',
      grpc_response_status: '14',
      response_flags: '-',
      connection_security_policy: 'unknown',
    });
  });

  it('unbound calls land on the same series as bound ones', async () => {
    const m = createMeshMetrics();
    m.tcp.bind(peer).opened();
    m.tcp.opened(peer);
    m.tcp.closed({ ...peer, response_flags: 'UF' });
    m.tcp.bytes(peer, 1, 2);
    m.http.record(
      { ...peer, response_code: 404, response_flags: 'NR' },
      { durationMs: 1, requestBytes: 0, responseBytes: 0 },
    );
    m.http
      .bind(peer)
      .record(
        { responseCode: 404, responseFlags: 'NR' },
        { durationMs: 1, requestBytes: 0, responseBytes: 0 },
      );
    const text = parsePrometheusText(await m.registry.metrics());
    expect(text.find('istio_tcp_connections_opened_total')).toHaveLength(1);
    expect(text.value('istio_tcp_connections_opened_total')).toBe(2);
    expect(text.value('istio_tcp_connections_closed_total', { response_flags: 'UF' })).toBe(1);
    expect(text.value('istio_requests_total', { response_code: '404', response_flags: 'NR' })).toBe(2);
  });

  it('bind is memoized per label set', () => {
    const m = createMeshMetrics();
    expect(m.tcp.bind(peer)).toBe(m.tcp.bind({ ...peer }));
    expect(m.http.bind(peer)).toBe(m.http.bind({ ...peer }));
    expect(m.http.bind(peer)).not.toBe(m.http.bind({ ...peer, reporter: 'source' }));
  });

  it('ignores negative and non-finite amounts instead of corrupting counters', async () => {
    const m = createMeshMetrics();
    const c = m.tcp.bind(peer);
    c.bytes(-5, Number.NaN);
    c.bytes(Number.POSITIVE_INFINITY, 3);
    m.http
      .bind(peer)
      .record({ responseCode: 200 }, { durationMs: Number.NaN, requestBytes: -1, responseBytes: 1 });
    const text = parsePrometheusText(await m.registry.metrics());
    expect(text.find('istio_tcp_sent_bytes_total')).toEqual([]);
    expect(text.value('istio_tcp_received_bytes_total')).toBe(3);
    expect(text.value('istio_request_duration_milliseconds_count')).toBe(0);
    expect(text.value('istio_response_bytes_count')).toBe(1);
  });

  it('keeps hostile label values inside their quotes', async () => {
    const m = createMeshMetrics();
    m.tcp.bind({ reporter: 'source', source_principal: 'x"} evil 1\n# TYPE x counter\r\u0000\\' }).opened();
    const body = await m.registry.metrics();
    const text = parsePrometheusText(body);
    expect(text.families.has('evil')).toBe(false);
    expect(text.families.has('x')).toBe(false);
    expect(text.value('istio_tcp_connections_opened_total')).toBe(1);
    expect(text.find('istio_tcp_connections_opened_total')[0]?.labels.source_principal).toBe(
      'x"} evil 1\n# TYPE x counter\ufffd\ufffd\\',
    );
  });

  it('shares the registry with plain prom-client metrics and default labels', async () => {
    const registry = createRegistry({ defaultLabels: { node: 'n1' } });
    const m = createMeshMetrics(registry);
    new Counter({ name: 'other_total', help: 'x', registers: [registry] }).inc();
    m.tcp.bind(peer).opened();
    const text = parsePrometheusText(await registry.metrics());
    expect(text.value('other_total', { node: 'n1' })).toBe(1);
    expect(text.value('istio_tcp_connections_opened_total', { node: 'n1', reporter: 'destination' })).toBe(1);
  });

  it('a second createMeshMetrics on one registry reuses the families', async () => {
    const registry = createRegistry();
    createMeshMetrics(registry).tcp.bind(peer).opened();
    createMeshMetrics(registry).tcp.bind(peer).opened();
    expect(parsePrometheusText(await registry.metrics()).value('istio_tcp_connections_opened_total')).toBe(2);
  });

  it('exports JSON with merged labels and resets in place', async () => {
    const m = createMeshMetrics();
    const c = m.tcp.bind(peer);
    c.opened();
    const json = await m.registry.getMetricsAsJSON();
    const opened = json.find((f) => f.name === 'istio_tcp_connections_opened_total');
    expect(opened?.values[0]?.labels).toMatchObject({ reporter: 'destination', response_flags: '-' });
    m.registry.resetMetrics();
    c.opened();
    expect(parsePrometheusText(await m.registry.metrics()).value('istio_tcp_connections_opened_total')).toBe(
      1,
    );
  });

  it('renders OpenMetrics too', async () => {
    const registry = createRegistry();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const m = createMeshMetrics(registry);
    m.tcp.bind(peer).opened();
    const body = await m.registry.metrics();
    expect(body).toContain('# TYPE istio_tcp_connections_opened counter');
    expect(body).toMatch(/^istio_tcp_connections_opened_total\{.*\} 1$/m);
    expect(body.endsWith('# EOF\n')).toBe(true);
  });
});
