import { httpRoute } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureRewrite } from './config.ts';

const state = stateOf([
  ...SHOP,
  ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }]),
  httpRoute('web', {
    namespace: 'shop',
    service: 'web',
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/v1' } }],
        filters: [
          {
            type: 'URLRewrite',
            urlRewrite: {
              hostname: 'internal.example',
              path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' },
            },
          },
        ],
        backendRefs: [{ name: 'web', port: 80 }],
      },
      {
        matches: [{ path: { type: 'PathPrefix', value: '/full' } }],
        filters: [
          {
            type: 'URLRewrite',
            urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/replaced' } },
          },
        ],
        backendRefs: [{ name: 'web', port: 80 }],
      },
    ],
  }),
]);

describe('rewrite filter', () => {
  it.each([
    ['/v1/items?id=3', '/v2/items?id=3', 'internal.example'],
    ['/v1', '/v2', 'internal.example'],
    ['/full/a/b', '/replaced', 'web.shop.svc.cluster.local'],
  ])('%s -> %s', async (path, expected, authority) => {
    const r = configureRewrite(undefined);
    if (!r.ok) throw new Error('config');
    const next = recorder();
    await r.value(fakeFilterContext())(next)(makeRequest(state, { path, route: true }));
    expect(next.seen[0]?.path).toBe(expected);
    expect(next.seen[0]?.authority).toBe(authority);
  });
});
