import { sequenceIds } from '@weft/telemetry/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureTrace } from './config.ts';

const state = stateOf([...SHOP, ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }])]);
const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function run(headers: Record<string, string>, config: unknown = {}) {
  const r = configureTrace(config);
  if (!r.ok) throw new Error(r.error.message);
  const fctx = fakeFilterContext({ ids: sequenceIds() });
  const next = recorder();
  const req = makeRequest(state, { headers });
  const res = await r.value(fctx)(next)(req);
  return { req, res, fctx };
}

describe('trace filter', () => {
  it('generates x-request-id when absent', async () => {
    const { req } = await run({});
    expect(req.headers['x-request-id']).toBe('00000000-0000-4000-8000-000000000001');
    expect(req.ctx.requestId).toBe(req.headers['x-request-id']);
  });

  it('keeps a sane x-request-id and replaces a bad one (counted)', async () => {
    expect((await run({ 'x-request-id': 'abc-123' })).req.headers['x-request-id']).toBe('abc-123');
    const bad = await run({ 'x-request-id': 'has space' });
    expect(bad.req.headers['x-request-id']).not.toBe('has space');
    expect(bad.fctx.telemetry.rejects.count('bad_trace_header')).toBe(1);
  });

  it('propagates traceparent with the same trace id and a new span id', async () => {
    const { req } = await run({ traceparent: TP });
    const out = String(req.headers.traceparent);
    expect(out.slice(0, 36)).toBe(TP.slice(0, 36));
    expect(out.slice(36, 52)).not.toBe(TP.slice(36, 52));
    expect(req.ctx.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('propagates B3 multi headers with a new span id', async () => {
    const { req } = await run({
      'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
      'x-b3-spanid': 'e457b5a2e4d86bd1',
      'x-b3-sampled': '1',
    });
    expect(req.headers['x-b3-traceid']).toBe('80f198ee56343ba864fe8b2a57d3eff7');
    expect(req.headers['x-b3-parentspanid']).toBe('e457b5a2e4d86bd1');
    expect(req.headers['x-b3-spanid']).not.toBe('e457b5a2e4d86bd1');
  });

  it('drops an invalid traceparent instead of forwarding it', async () => {
    const { req, fctx } = await run({ traceparent: 'garbage' });
    expect(req.headers.traceparent).toBeUndefined();
    expect(fctx.telemetry.rejects.count('bad_trace_header')).toBe(1);
  });

  it('echoes the request id when configured', async () => {
    const { res } = await run({}, { echoRequestId: true });
    expect(res.headers['x-request-id']).toBeDefined();
  });
});
