import * as promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../testing/index.ts';
import { createMeshMetrics } from './istio.ts';
import { createRegistry, enableProcessMetrics, metricsHandler, Registry, renderMetrics } from './registry.ts';

describe('registry helpers', () => {
  it('renders the text format with its content type', async () => {
    const m = createMeshMetrics();
    m.tcp.bind({ reporter: 'source' }).opened();
    const r = await renderMetrics(m.registry);
    expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(parsePrometheusText(r.body).value('istio_tcp_connections_opened_total')).toBe(1);
  });

  it("the registry is prom-client's own class (one module instance), so plain prom-client metrics register in it", async () => {
    expect(Registry).toBe(promClient.Registry);
    const registry = createRegistry({ defaultLabels: { component: 'test' } });
    expect(registry).toBeInstanceOf(promClient.Registry);
    new promClient.Counter({ name: 'plain_total', help: 'a plain counter', registers: [registry] }).inc(2);
    expect(parsePrometheusText(await registry.metrics()).value('plain_total', { component: 'test' })).toBe(2);
  });

  it('process metrics are opt-in', async () => {
    const registry = createRegistry();
    expect(parsePrometheusText(await registry.metrics()).samples).toHaveLength(0);
    expect(enableProcessMetrics(registry, { prefix: 'weft_' })).toEqual({ ok: true });
    const text = parsePrometheusText(await registry.metrics());
    expect(text.families.get('weft_process_cpu_seconds_total')?.type).toBe('counter');
    expect(
      text.families.has('weft_process_resident_memory_bytes') ||
        text.families.has('weft_nodejs_heap_size_total_bytes'),
    ).toBe(true);
  });

  it('serves GET and HEAD, refuses other methods', async () => {
    const m = createMeshMetrics();
    m.tcp.bind({ reporter: 'source' }).opened();
    const handler = metricsHandler(m.registry);
    const call = (method: string) =>
      new Promise<{ status: number; headers: Record<string, string>; body: string | undefined }>(
        (resolve) => {
          const headers: Record<string, string> = {};
          const res = {
            statusCode: 0,
            setHeader(n: string, v: string) {
              headers[n] = v;
            },
            end(body?: string) {
              resolve({ status: res.statusCode, headers, body });
            },
          };
          handler({ method }, res);
        },
      );
    const get = await call('GET');
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toContain('text/plain');
    expect(parsePrometheusText(get.body ?? '').value('istio_tcp_connections_opened_total')).toBe(1);
    const head = await call('HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
    const post = await call('POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });
});
