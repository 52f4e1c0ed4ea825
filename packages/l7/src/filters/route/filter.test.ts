import { httpRoute } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureRoute } from './config.ts';

const state = stateOf([
  ...SHOP,
  ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }]),
  httpRoute('web', {
    namespace: 'shop',
    service: 'web',
    rules: [
      {
        matches: [{ path: { type: 'Exact', value: '/old' } }],
        filters: [
          {
            type: 'RequestRedirect',
            requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/new' }, statusCode: 301 },
          },
        ],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/secure' } }],
        filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 302 } }],
      },
      {
        matches: [
          {
            path: { type: 'PathPrefix', value: '/api' },
            method: 'GET',
            headers: [{ name: 'x-canary', value: 'yes' }],
          },
          { path: { type: 'PathPrefix', value: '/api' }, queryParams: [{ name: 'v', value: '2' }] },
        ],
        backendRefs: [{ name: 'web', port: 80 }],
      },
    ],
  }),
]);

async function run(spec: Parameters<typeof makeRequest>[1]) {
  const r = configureRoute(undefined);
  if (!r.ok) throw new Error(r.error.message);
  const next = recorder();
  const req = makeRequest(state, spec);
  const res = await r.value(fakeFilterContext())(next)(req);
  return { req, res, next };
}

describe('route filter', () => {
  it.each([
    ['header + method match', { path: '/api/x', headers: { 'x-canary': 'yes' } }, 200],
    ['query match', { path: '/api/x?v=2' }, 200],
    [
      'wrong method for the header match',
      { method: 'POST', path: '/api/x', headers: { 'x-canary': 'yes' } },
      404,
    ],
    ['no match at all', { path: '/elsewhere' }, 404],
    ['element-wise prefix: /apix does not match /api', { path: '/apix?v=2' }, 404],
  ] as const)('%s -> %i', async (_n, spec, status) => {
    const { res } = await run(spec);
    expect(res.status).toBe(status);
  });

  it('sets the route decision for later filters', async () => {
    const { req, next } = await run({ path: '/api/x?v=2' });
    expect(next.seen).toHaveLength(1);
    expect(req.ctx.route?.name).toBe('HTTPRoute/shop/web/2');
    expect(req.ctx.route?.query).toBe('v=2');
  });

  it('no match is 404 with flag NR', async () => {
    const { req } = await run({ path: '/none' });
    expect(req.ctx.flags).toEqual(['NR']);
  });

  it('redirects with the rewritten path', async () => {
    const { res } = await run({ path: '/old?q=1' });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('http://web.shop.svc.cluster.local/new?q=1');
  });

  it('redirects to https keeping the host and dropping the old port', async () => {
    const { res } = await run({ path: '/secure/x', authority: 'web.shop.svc.cluster.local:80' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://web.shop.svc.cluster.local/secure/x');
  });

  it('a service without routes passes through', async () => {
    const plain = stateOf([...SHOP, ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }])]);
    const r = configureRoute({});
    if (!r.ok) throw new Error('config');
    const next = recorder();
    const res = await r.value(fakeFilterContext())(next)(makeRequest(plain, { path: '/x' }));
    expect(res.status).toBe(200);
  });
});
