// Per-call cost of the hot-path APIs. Not a test: prints a table.
//   pnpm --filter @weft/telemetry bench        (Node, through tsx)
//   bun packages/telemetry/bench/record.ts     (Bun)
import { Counter, Histogram, Registry } from 'prom-client';
import { createAccessLogger } from '../src/access-log/access-log.ts';
import {
  createMeshMetrics,
  HTTP_LABEL_NAMES,
  ISTIO_DEFAULT_BUCKETS,
  peerLabels,
} from '../src/metrics/istio.ts';
import { propagateTraceContext } from '../src/trace/propagate.ts';

const N = 1_000_000;

function bench(name: string, n: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn(i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ns = ((performance.now() - t0) * 1e6) / n;
  process.stdout.write(`${name.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/op\n`);
}

const peer = peerLabels({
  reporter: 'destination',
  source: { name: 'sleep', namespace: 'default', principal: 'spiffe://cluster.local/ns/default/sa/sleep' },
  destination: {
    name: 'reviews-v2',
    namespace: 'default',
    principal: 'spiffe://cluster.local/ns/default/sa/reviews',
  },
  service: { hostname: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' },
  protocol: 'http',
  security: 'mutual_tls',
});
const sample = { durationMs: 12, requestBytes: 0, responseBytes: 1500 };

const mesh = createMeshMetrics();
const bound = mesh.http.bind(peer);
bench('http.bind(peer).record (bound, 200)', N, () => bound.record({ responseCode: 200 }, sample));
const codes = [200, 200, 200, 404, 503];
bench('http.bind(peer).record (bound, mixed codes)', N, (i) =>
  bound.record({ responseCode: codes[i % 5] as number }, sample),
);
bench('http.bind(same peer object) per request + record', N, () =>
  mesh.http.bind(peer).record({ responseCode: 200 }, sample),
);
bench('http.bind(new equal peer object) per request + record', N / 4, () =>
  mesh.http.bind({ ...peer }).record({ responseCode: 200 }, sample),
);
bench('http.record(labels) (unbound)', N, () => mesh.http.record({ ...peer, response_code: 200 }, sample));
const conn = mesh.tcp.bind(peer);
bench('tcp bound: opened + bytes + closed', N, () => {
  conn.opened();
  conn.bytes(1500, 300);
  conn.closed();
});

// the same four HTTP metrics through prom-client's own classes, for comparison
const registry = new Registry();
const labelNames = [...HTTP_LABEL_NAMES];
const c = new Counter({ name: 'r_total', help: 'h', labelNames, registers: [registry] });
const h1 = new Histogram({
  name: 'd',
  help: 'h',
  labelNames,
  buckets: [...ISTIO_DEFAULT_BUCKETS],
  registers: [registry],
});
const h2 = new Histogram({
  name: 'q',
  help: 'h',
  labelNames,
  buckets: [...ISTIO_DEFAULT_BUCKETS],
  registers: [registry],
});
const h3 = new Histogram({
  name: 's',
  help: 'h',
  labelNames,
  buckets: [...ISTIO_DEFAULT_BUCKETS],
  registers: [registry],
});
const full = {
  ...(Object.fromEntries(Object.entries(peer).map(([k, v]) => [k, v ?? 'unknown'])) as Record<
    string,
    string
  >),
  response_code: '200',
  grpc_response_status: '',
  response_flags: '-',
};
const cc = c.labels(full);
const hh1 = h1.labels(full);
const hh2 = h2.labels(full);
const hh3 = h3.labels(full);
bench('prom-client labels(...) children: inc + 3 observe', N / 4, () => {
  cc.inc();
  hh1.observe(sample.durationMs);
  hh2.observe(sample.requestBytes);
  hh3.observe(sample.responseBytes);
});

const headers = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'rojo=00f067aa0ba902b7',
  'x-request-id': '6f1c7c2e-8d43-4c1b-9b7e-0e1f2a3b4c5d',
};
bench('propagateTraceContext (traceparent+tracestate+request id)', N / 4, () =>
  propagateTraceContext(headers),
);
bench('propagateTraceContext (no headers: new request id)', N / 4, () => propagateTraceContext({}));

let bytes = 0;
const countingSink = {
  write(l: string): void {
    bytes += l.length;
  },
};
const log = createAccessLogger({ sink: countingSink });
const start = Date.now();
bench('access log http line (kv)', N / 4, () =>
  log.http({
    startTime: start,
    durationMs: 12,
    protocol: 'HTTP/1.1',
    method: 'GET',
    path: '/reviews/1',
    status: 200,
    bytesReceived: 0,
    bytesSent: 1500,
    sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/sleep',
    upstreamHost: '10.0.0.9:9080',
    requestId: '6f1c7c2e-8d43-4c1b-9b7e-0e1f2a3b4c5d',
  }),
);
const jlog = createAccessLogger({ sink: countingSink, format: 'json' });
bench('access log http line (json)', N / 4, () =>
  jlog.http({
    startTime: start,
    durationMs: 12,
    protocol: 'HTTP/1.1',
    method: 'GET',
    path: '/reviews/1',
    status: 200,
    bytesReceived: 0,
    bytesSent: 1500,
  }),
);
process.stdout.write(`(${bytes} log bytes written)\n`);
