import { PassThrough } from 'node:stream';
import { virtualService } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureMirror } from './config.ts';
import { shadowAuthority } from './filter.ts';

const state = stateOf([
  ...SHOP,
  ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 1 }]),
  ...serviceWith([{ name: 'shadow-1', ip: '127.0.0.1', port: 1 }], { name: 'shadow', vip: '10.96.0.40' }),
  virtualService('web', {
    namespace: 'shop',
    hosts: ['web'],
    http: [
      {
        route: [{ destination: { host: 'web', port: { number: 80 } } }],
        mirror: { host: 'shadow', port: { number: 80 } },
        mirrorPercentage: { value: 50 },
      },
    ],
  }),
]);

async function run(random: number, body?: { length: number | undefined }) {
  const r = configureMirror({ maxBodyBytes: 8 });
  if (!r.ok) throw new Error(r.error.message);
  const fctx = fakeFilterContext({ random: () => random });
  const spec: Parameters<typeof makeRequest>[1] = { path: '/m', route: true, method: 'POST' };
  if (body !== undefined) {
    const stream = new PassThrough();
    stream.end('0123456789'.slice(0, body.length ?? 10));
    spec.body = { kind: 'stream', stream, length: body.length, trailers: () => undefined };
  }
  const next = recorder();
  const res = await r.value(fctx)(next)(makeRequest(state, spec));
  return { res, c: fctx.telemetry.counters, next };
}

describe('mirror filter', () => {
  it.each([
    ['api.example', 'api.example-shadow'],
    ['api.example:8080', 'api.example-shadow:8080'],
    ['[::1]:80', '[::1]-shadow:80'],
  ])('shadow authority of %s is %s', (a, expected) => {
    expect(shadowAuthority(a)).toBe(expected);
  });

  it('sends a copy at its percentage (never blocking the request)', async () => {
    const hit = await run(0.2);
    expect(hit.res.status).toBe(200);
    expect(hit.c.mirrored.value).toBe(1);
    const miss = await run(0.7);
    expect(miss.c.mirrored.value).toBe(0);
  });

  it('buffers a small body so both get it; skips the copy for a large or unknown-length one', async () => {
    const small = await run(0, { length: 5 });
    expect(small.c.mirrored.value).toBe(1);
    expect(small.next.seen[0]?.body.kind).toBe('bytes');
    const large = await run(0, { length: 10 });
    expect(large.c.mirrorSkipped.value).toBe(1);
    const unknown = await run(0, { length: undefined });
    expect(unknown.c.mirrorSkipped.value).toBe(1);
    expect(unknown.next.seen[0]?.body.kind).toBe('stream');
  });

  it('validates its config', () => {
    expect(configureMirror({ maxBodyBytes: -1 }).ok).toBe(false);
  });
});
