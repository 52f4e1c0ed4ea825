import { httpRoute } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureFault, fault } from './config.ts';
import { grpcCode } from './filter.ts';

const state = stateOf([
  ...SHOP,
  ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }]),
  httpRoute('web', {
    namespace: 'shop',
    service: 'web',
    rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
  }),
]);

// HTTPRoute has no fault field; give the compiled rule one (as a VirtualService would).
function withFault(f: object) {
  const req = makeRequest(state, { path: '/x', route: true });
  const route = req.ctx.route;
  if (route === undefined) throw new Error('no route');
  req.ctx.route = { ...route, rule: { ...route.rule, fault: f } };
  return req;
}

async function run(f: object, random: number) {
  const r = configureFault(undefined);
  if (!r.ok) throw new Error(r.error.message);
  const delays: number[] = [];
  const fctx = fakeFilterContext({
    random: () => random,
    delay: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  });
  const req = withFault(f);
  const res = await r.value(fctx)(recorder())(req);
  return { res, req, delays };
}

describe('fault filter', () => {
  it.each([
    ['abort at 100%', { abort: { httpStatus: 503, percent: 100 } }, 0.99, 503, ['FI'], []],
    ['abort at 10%, roll 0.05', { abort: { httpStatus: 418, percent: 10 } }, 0.05, 418, ['FI'], []],
    ['abort at 10%, roll 0.5', { abort: { httpStatus: 418, percent: 10 } }, 0.5, 200, [], []],
    ['delay at 50%, roll 0.2', { delay: { delayMs: 150, percent: 50 } }, 0.2, 200, ['DI'], [150]],
    ['delay at 50%, roll 0.7', { delay: { delayMs: 150, percent: 50 } }, 0.7, 200, [], []],
    [
      'delay then abort',
      { delay: { delayMs: 5, percent: 100 }, abort: { httpStatus: 500, percent: 100 } },
      0,
      500,
      ['DI', 'FI'],
      [5],
    ],
  ] as const)('%s', async (_n, f, random, status, flags, delays) => {
    const out = await run(f, random);
    expect(out.res.status).toBe(status);
    expect(out.req.ctx.flags).toEqual(flags);
    expect(out.delays).toEqual(delays);
  });

  it('maps gRPC status names', () => {
    expect(grpcCode('UNAVAILABLE')).toBe(14);
    expect(grpcCode('14')).toBe(14);
    expect(grpcCode('nonsense')).toBe(2);
  });

  it('is registered by name', () => {
    expect(fault.name).toBe('fault');
    expect(configureFault({ x: 1 }).ok).toBe(false);
  });
});
