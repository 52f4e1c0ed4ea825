import { describe, expect, it } from 'vitest';
import { memorySink, parseKvLine } from '../testing/index.ts';
import { createAccessLogger, type HttpAccessLogEntry, type TcpAccessLogEntry } from './access-log.ts';
import { formatResponseFlags, isResponseFlag } from './response-flags.ts';

function hasLineBreakOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

const START = Date.UTC(2025, 0, 1, 12, 0, 0, 250);

const httpEntry: HttpAccessLogEntry = {
  startTime: START,
  durationMs: 12.3456,
  protocol: 'HTTP/1.1',
  method: 'GET',
  path: '/productpage?x=1',
  authority: 'productpage.default.svc.cluster.local:9080',
  status: 200,
  userAgent: 'curl/8.5.0',
  reporter: 'destination',
  sourceAddress: '10.0.0.5:41000',
  sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/sleep',
  sourceWorkload: 'sleep',
  destinationPrincipal: 'spiffe://cluster.local/ns/default/sa/productpage',
  destinationWorkload: 'productpage-v1',
  destinationService: 'productpage.default.svc.cluster.local',
  upstreamHost: '10.0.0.9:9080',
  routeName: 'default/productpage',
  bytesReceived: 0,
  bytesSent: 5183,
  rbac: { decision: 'allow', policy: 'default/allow-sleep' },
  connectionSecurity: 'mutual_tls',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  requestId: '6f1c7c2e-8d43-4c1b-9b7e-0e1f2a3b4c5d',
};

const tcpEntry: TcpAccessLogEntry = {
  startTime: START,
  durationMs: 1500,
  reporter: 'source',
  sourceWorkload: 'sleep',
  destinationService: 'db.default.svc.cluster.local',
  upstreamHost: '10.0.0.7:5432',
  responseFlags: ['UF', 'URX'],
  bytesReceived: 0,
  bytesSent: 0,
  rbac: { decision: 'deny' },
};

describe('access log, key=value', () => {
  it('writes an HTTP line with every field in fixed order', () => {
    const sink = memorySink();
    createAccessLogger({ sink }).http(httpEntry);
    expect(sink.lines).toEqual([
      'kind=http start_time=2025-01-01T12:00:00.250Z duration_ms=12.346 protocol=HTTP/1.1 method=GET' +
        ' path="/productpage?x=1" authority=productpage.default.svc.cluster.local:9080 status=200 grpc_status=-' +
        ' user_agent=curl/8.5.0 response_flags=- bytes_received=0 bytes_sent=5183 upstream_host=10.0.0.9:9080' +
        ' route=default/productpage reporter=destination src_addr=10.0.0.5:41000' +
        ' src_principal=spiffe://cluster.local/ns/default/sa/sleep src_workload=sleep' +
        ' dst_principal=spiffe://cluster.local/ns/default/sa/productpage dst_workload=productpage-v1' +
        ' dst_service=productpage.default.svc.cluster.local rbac=allow rbac_policy=default/allow-sleep' +
        ' security=mutual_tls trace_id=4bf92f3577b34da6a3ce929d0e0e4736' +
        ' request_id=6f1c7c2e-8d43-4c1b-9b7e-0e1f2a3b4c5d reason=-',
    ]);
  });

  it('writes a TCP line with "-" for absent fields and joined flags', () => {
    const sink = memorySink();
    createAccessLogger({ sink }).tcp(tcpEntry);
    const f = parseKvLine(sink.lines[0] ?? '');
    expect(f).toMatchObject({
      kind: 'tcp',
      protocol: 'tcp',
      duration_ms: '1500',
      response_flags: 'UF,URX',
      upstream_host: '10.0.0.7:5432',
      rbac: 'deny',
      rbac_policy: '-',
      src_principal: '-',
      request_id: '-',
      reason: '-',
    });
  });

  it.each([
    ['tcp', 'upstream_connect_failed'],
    ['http', 'route_not_found'],
  ] as const)('writes the reason of a %s entry last', (kind, reason) => {
    const sink = memorySink();
    const log = createAccessLogger({ sink });
    if (kind === 'tcp') log.tcp({ ...tcpEntry, reason });
    else log.http({ ...httpEntry, reason });
    expect(sink.lines[0]?.endsWith(` reason=${reason}`)).toBe(true);
    expect(parseKvLine(sink.lines[0] ?? '').reason).toBe(reason);
  });

  it.each([
    ['CRLF in path', { path: '/a\r\nkind=http status=200 rbac=allow' }],
    ['quotes in path', { path: '/"a" b="c"' }],
    ['backslash at end', { path: '/a\\' }],
    ['NUL and ESC', { path: '/\u0000\u001b[2J' }],
    ['unicode line separators', { path: '/\u2028\u2029\u0085' }],
    ['hostile method and authority', { method: 'GET\n', authority: 'evil" x="1' }],
    ['hostile user agent', { userAgent: 'Mozilla\r\n\r\nrbac=allow' }],
    ['hostile request id', { requestId: 'id" request_id="forged' }],
    ['hostile reason', { reason: 'denied"\nkind=tcp rbac=allow reason=ok' }],
  ])('keeps %s inside its own field on one line', (_name, patch) => {
    const sink = memorySink();
    const entry = { ...httpEntry, ...patch } as HttpAccessLogEntry;
    createAccessLogger({ sink }).http(entry);
    expect(sink.lines).toHaveLength(1);
    const line = sink.lines[0] ?? '';
    expect(hasLineBreakOrControl(line)).toBe(false);
    const f = parseKvLine(line);
    expect(f.path).toBe(entry.path);
    expect(f.method).toBe(entry.method);
    expect(f.authority).toBe(entry.authority);
    expect(f.user_agent).toBe(entry.userAgent);
    expect(f.request_id).toBe(entry.requestId);
    expect(f.reason ?? '-').toBe(entry.reason ?? '-');
    expect(f.status).toBe('200');
    expect(f.rbac).toBe('allow');
    expect(Object.keys(f)).toHaveLength(28);
  });

  it('caps very long values', () => {
    const sink = memorySink();
    createAccessLogger({ sink, maxValueLength: 16 }).http({ ...httpEntry, path: `/${'a'.repeat(100_000)}` });
    expect(parseKvLine(sink.lines[0] ?? '').path).toBe(`/${'a'.repeat(15)}...`);
  });

  it('survives a throwing sink', () => {
    const log = createAccessLogger({
      sink: {
        write() {
          throw new Error('EPIPE');
        },
      },
    });
    expect(() => log.http(httpEntry)).not.toThrow();
  });
});

describe('access log, JSON', () => {
  it('writes one JSON object per line, leaving absent fields out', () => {
    const sink = memorySink();
    createAccessLogger({ sink, format: 'json' }).tcp(tcpEntry);
    expect(JSON.parse(sink.lines[0] ?? '')).toEqual({
      kind: 'tcp',
      start_time: '2025-01-01T12:00:00.250Z',
      duration_ms: 1500,
      protocol: 'tcp',
      response_flags: 'UF,URX',
      bytes_received: 0,
      bytes_sent: 0,
      upstream_host: '10.0.0.7:5432',
      reporter: 'source',
      src_workload: 'sleep',
      dst_service: 'db.default.svc.cluster.local',
      rbac: 'deny',
    });
  });

  it('writes the reason when there is one, escaped by JSON', () => {
    const sink = memorySink();
    const reason = 'no_healthy_upstream"}\n{"kind":"forged';
    createAccessLogger({ sink, format: 'json' }).tcp({ ...tcpEntry, reason });
    expect(sink.lines).toHaveLength(1);
    expect((JSON.parse(sink.lines[0] ?? '') as Record<string, unknown>).reason).toBe(reason);
  });

  it('keeps hostile values inside the JSON string', () => {
    const sink = memorySink();
    const path = '/a"}\n{"kind":"forged\u2028\ud800';
    createAccessLogger({ sink, format: 'json' }).http({ ...httpEntry, path, grpcStatus: 14 });
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).not.toMatch(/[\r\n]/);
    const r = JSON.parse(sink.lines[0] ?? '') as Record<string, unknown>;
    expect(r.path).toBe(path);
    expect(r.kind).toBe('http');
    expect(r.grpc_status).toBe(14);
    expect(r.status).toBe(200);
  });
});

describe('response flags', () => {
  it('formats like Envoy', () => {
    expect(formatResponseFlags(undefined)).toBe('-');
    expect(formatResponseFlags([])).toBe('-');
    expect(formatResponseFlags(['NR'])).toBe('NR');
    expect(formatResponseFlags(['UH', 'RBAC'])).toBe('UH,RBAC');
  });
  it('recognizes known codes only', () => {
    expect(isResponseFlag('UF')).toBe(true);
    expect(isResponseFlag('RBAC')).toBe(true);
    expect(isResponseFlag('toString')).toBe(false);
    expect(isResponseFlag('XX')).toBe(false);
  });
});
