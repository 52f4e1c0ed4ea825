// The README's example, verbatim between the markers, run as a test.
import { describe, expect, it } from 'vitest';
import { parseKvLine, parsePrometheusText } from './testing/index.ts';

describe('README example', () => {
  it('runs', async () => {
    // --- README example start ---
    const {
      createRegistry,
      createMeshMetrics,
      rejectCounter,
      peerLabels,
      propagateTraceContext,
      TRACE_HEADER_NAMES,
      createAccessLogger,
      createLogger,
      functionSink,
    } = await import('@weft/telemetry');

    // Once per proxy: one registry, Istio's metrics, a reject counter, logs.
    const registry = createRegistry();
    const metrics = createMeshMetrics(registry);
    const rejected = rejectCounter<'bad_trace_header'>('waypoint', registry);
    const lines: string[] = []; // in a proxy: streamSink(process.stdout)
    const accessLog = createAccessLogger({ sink: functionSink((line) => lines.push(line)) });
    const log = createLogger({ sink: functionSink((line) => lines.push(line)), level: 'info' });
    const wlog = log.child({ component: 'waypoint' });

    // Once per workload pair (or connection): resolve the labels.
    const peer = metrics.http.bind(
      peerLabels({
        reporter: 'waypoint',
        source: {
          name: 'sleep',
          namespace: 'default',
          principal: 'spiffe://cluster.local/ns/default/sa/sleep',
        },
        destination: { name: 'reviews-v2', namespace: 'default', app: 'reviews', version: 'v2' },
        service: { hostname: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' },
        protocol: 'http',
        security: 'mutual_tls',
      }),
    );

    // Per request.
    const incoming = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-request-id': 'r-1',
    };
    const hop = propagateTraceContext(incoming);
    if (hop.rejected.length > 0) rejected.reject('bad_trace_header');
    const upstream: Record<string, string> = { ...incoming, accept: '*/*' };
    for (const name of TRACE_HEADER_NAMES) delete upstream[name];
    Object.assign(upstream, hop.headers); // same trace id, new span id
    peer.record({ responseCode: 200 }, { durationMs: 12, requestBytes: 0, responseBytes: 512 });
    accessLog.http({
      startTime: Date.now() - 12,
      durationMs: 12,
      protocol: 'HTTP/1.1',
      method: 'GET',
      path: '/reviews/1',
      status: 200,
      bytesReceived: 0,
      bytesSent: 512,
      rbac: { decision: 'allow', policy: 'default/allow-sleep' },
      traceId: hop.traceId,
      requestId: hop.requestId,
    });
    wlog.info('request done', { status: 200 });

    // The scrape endpoint (:15020/stats/prometheus) serves this text.
    const text = await registry.metrics();
    // --- README example end ---

    expect(upstream.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(upstream.traceparent).not.toContain('00f067aa0ba902b7');
    expect(upstream['x-request-id']).toBe('r-1');
    expect(upstream.accept).toBe('*/*');
    const prom = parsePrometheusText(text);
    expect(
      prom.value('istio_requests_total', {
        reporter: 'waypoint',
        destination_app: 'reviews',
        response_code: '200',
      }),
    ).toBe(1);
    expect(prom.find('weft_rejected_total')).toEqual([]);
    expect(parseKvLine((lines[0] ?? '').trimEnd())).toMatchObject({
      kind: 'http',
      path: '/reviews/1',
      rbac: 'allow',
      request_id: 'r-1',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(parseKvLine((lines[1] ?? '').trimEnd())).toMatchObject({
      level: 'info',
      component: 'waypoint',
      status: '200',
    });
  });
});
