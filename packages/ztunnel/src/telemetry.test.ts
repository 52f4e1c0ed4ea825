// ztunnel's access-log lines come from @weft/telemetry's access logger, the refusal or ending
// reason included (its `reason` field), in both formats.
import { createRegistry } from '@weft/telemetry';
import { memorySink, parseKvLine } from '@weft/telemetry/testing';
import { describe, expect, it } from 'vitest';
import { type ConnectionReport, createZtunnelTelemetry } from './telemetry.ts';

const report: ConnectionReport = {
  reporter: 'destination',
  security: 'mutual_tls',
  sourceAddress: '10.0.0.1',
  source: { identity: 'spiffe://cluster.local/ns/demo/sa/client' },
  upstreamHost: '10.0.0.9:8080',
};

function lines(format: 'kv' | 'json') {
  const sink = memorySink();
  const t = createZtunnelTelemetry({ registry: createRegistry(), accessLog: sink, accessLogFormat: format });
  t.refused(report, 'denied', ['RBAC']);
  t.open(report, {
    direction: 'inbound',
    kind: 'hbone',
    source: '10.0.0.1',
    destination: '10.0.0.9:8080',
  }).end({ bytesReceived: 3, bytesSent: 5, responseFlags: ['UC'], reason: 'reset_by_upstream' });
  t.open(report, {
    direction: 'inbound',
    kind: 'hbone',
    source: '10.0.0.1',
    destination: '10.0.0.9:8080',
  }).end({ bytesReceived: 1, bytesSent: 1 });
  // A spliced connection (plaintext, outbound) reports splice outcomes: side a is the downstream.
  t.open(report, {
    direction: 'outbound',
    kind: 'socks5',
    source: '10.0.0.1',
    destination: '10.0.0.9:8080',
  }).end({ bytesReceived: 0, bytesSent: 0, reason: 'reset_a' });
  return sink.lines;
}

describe('access log', () => {
  it('kv: the reason is the access log field (absent: "-")', () => {
    const [refused, reset, clean, spliced] = lines('kv').map((l) => parseKvLine(l));
    expect(refused).toMatchObject({ reason: 'denied', response_flags: 'RBAC', src_addr: '10.0.0.1' });
    expect(reset).toMatchObject({ reason: 'reset_by_upstream', response_flags: 'UC', bytes_sent: '5' });
    expect(clean).toMatchObject({ reason: '-', bytes_received: '1' });
    expect(spliced).toMatchObject({ reason: 'reset_by_peer' });
  });

  it('json: the access logger record (snake_case fields), reason only when there is one', () => {
    const [refused, reset, clean] = lines('json').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(refused).toMatchObject({ kind: 'tcp', reason: 'denied', src_addr: '10.0.0.1' });
    expect(refused).not.toHaveProperty('sourceAddress');
    expect(reset).toMatchObject({
      reason: 'reset_by_upstream',
      bytes_sent: 5,
      upstream_host: '10.0.0.9:8080',
    });
    expect(clean).not.toHaveProperty('reason');
  });
});
