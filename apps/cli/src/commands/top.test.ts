import { describe, expect, it } from 'vitest';
import { EXIT } from '../errors.ts';
import type { Io } from '../io.ts';
import { run } from '../program.ts';
import { parsePrometheus } from '../prometheus.ts';
import { countersFrom, quantile, topRows } from './top.ts';

const labels = (code: string, reporter = 'waypoint') =>
  `reporter="${reporter}",destination_workload="echo-v1",destination_workload_namespace="demo",response_code="${code}"`;

const metrics = (ok: number, failed: number, buckets: [string, number][]) => `# HELP istio_requests_total x
# TYPE istio_requests_total counter
istio_requests_total{${labels('200')}} ${ok}
istio_requests_total{${labels('503')}} ${failed}
istio_requests_total{${labels('200', 'source')}} 999
${buckets.map(([le, n]) => `istio_request_duration_milliseconds_bucket{le="${le}",${labels('200')}} ${n}`).join('\n')}
`;

describe('weft top', () => {
  it('reads Prometheus text with escaped label values', () => {
    expect(parsePrometheus('a{x="q\\"uote",y="b"} 2\nb 3\n# c\n')).toEqual([
      { name: 'a', labels: { x: 'q"uote', y: 'b' }, value: 2 },
      { name: 'b', labels: {}, value: 3 },
    ]);
  });

  it('interpolates quantiles inside buckets', () => {
    const b = new Map([
      [1, 0],
      [5, 50],
      [10, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(quantile(0.5, b)).toBe(5);
    expect(quantile(0.99, b)).toBeCloseTo(9.9);
    expect(quantile(0.5, new Map())).toBeNull();
  });

  it('rates the difference between two readings; the client side is not counted', () => {
    const before = countersFrom(
      parsePrometheus(
        metrics(10, 0, [
          ['5', 10],
          ['+Inf', 10],
        ]),
      ),
    );
    const after = countersFrom(
      parsePrometheus(
        metrics(28, 2, [
          ['5', 20],
          ['10', 30],
          ['+Inf', 30],
        ]),
      ),
    );
    const [row] = topRows(before, after, 2);
    expect(row).toMatchObject({ workload: 'demo/echo-v1', rps: 10, successRate: 0.9, requests: 30 });
    expect(row?.p50Ms).toBe(5);
  });

  it('exits 3 when the endpoints file is missing', async () => {
    const io: Io = { out() {}, err() {}, isTTY: false, env: {}, cwd: '/nonexistent-weft-cwd' };
    expect(await run(['top', '--once', '--interval', '0.01'], io)).toBe(EXIT.unreachable);
  });
});
