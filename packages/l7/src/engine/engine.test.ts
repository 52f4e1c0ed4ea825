import { httpRoute } from '@weft/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  type HttpUpstream,
  httpRequest,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
} from '../testing/index.ts';

describe('engine through a plaintext listener', () => {
  let a: HttpUpstream;
  let b: HttpUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    a = await startHttpUpstream({ name: 'a', ip: '127.0.0.11' });
    b = await startHttpUpstream({ name: 'b', ip: '127.0.0.12' });
    proxy = await startTestProxy(
      [
        ...SHOP,
        ...serviceWith([
          { name: 'web-a', ip: a.ip, port: a.port },
          { name: 'web-b', ip: b.ip, port: b.port },
        ]),
        ...serviceWith([{ name: 'api-a', ip: a.ip, port: a.port }], { name: 'api', vip: '10.96.0.20' }),
        httpRoute('web', {
          namespace: 'shop',
          service: 'web',
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
              filters: [
                {
                  type: 'URLRewrite',
                  urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } },
                },
              ],
              backendRefs: [{ name: 'api', port: 80 }],
            },
            {
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              filters: [
                {
                  type: 'RequestHeaderModifier',
                  requestHeaderModifier: { set: [{ name: 'x-route', value: 'default' }] },
                },
              ],
              backendRefs: [{ name: 'web', port: 80 }],
            },
          ],
        }),
      ],
      { destination: { ip: WEB_VIP, port: 80 } },
    );
  });
  afterAll(async () => {
    await proxy.close();
    await a.close();
    await b.close();
  });

  it('routes by path prefix with a rewrite, and by default rule with a header', async () => {
    const r1 = await httpRequest(proxy.port, { path: '/api/items?x=1' });
    expect(r1.status).toBe(200);
    expect(JSON.parse(r1.body).url).toBe('/v2/items?x=1');
    const r2 = await httpRequest(proxy.port, { path: '/hello' });
    expect(r2.status).toBe(200);
    const echoed = JSON.parse(r2.body);
    expect(echoed.url).toBe('/hello');
    expect(echoed.headers['x-route']).toBe('default');
    expect(echoed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('spreads requests over both endpoints (round robin)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++)
      seen.add((await httpRequest(proxy.port, { path: '/rr' })).headers['x-upstream'] as string);
    expect([...seen].sort()).toEqual(['a', 'b']);
  });

  it('forwards a request body', async () => {
    const r = await httpRequest(proxy.port, {
      method: 'POST',
      path: '/post',
      body: 'hello body',
      headers: { 'content-type': 'text/plain' },
    });
    expect(JSON.parse(r.body).body).toBe('hello body');
  });
});
