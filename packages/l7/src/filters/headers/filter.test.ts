import { httpRoute } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, recorder, stateOf } from '../../test-support/requests.ts';
import { configureHeaders } from './config.ts';

const state = stateOf([
  ...SHOP,
  ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: 8080 }]),
  httpRoute('web', {
    namespace: 'shop',
    service: 'web',
    rules: [
      {
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: {
              set: [{ name: 'x-set', value: 'route' }],
              add: [{ name: 'x-add', value: 'r' }],
              remove: ['x-secret'],
            },
          },
          {
            type: 'ResponseHeaderModifier',
            responseHeaderModifier: { set: [{ name: 'x-resp', value: 'route' }] },
          },
        ],
        backendRefs: [{ name: 'web', port: 80 }],
      },
    ],
  }),
]);

async function run(config: unknown, headers: Record<string, string>) {
  const r = configureHeaders(config);
  if (!r.ok) throw new Error(`${r.error.field}: ${r.error.message}`);
  const next = recorder();
  const res = await r.value(fakeFilterContext())(next)(
    makeRequest(state, { path: '/', headers, route: true }),
  );
  return { seen: next.seen[0]?.headers, res };
}

describe('headers filter', () => {
  it('applies the route modifiers, then the static ones', async () => {
    const { seen, res } = await run(
      {
        request: { set: [{ name: 'X-Static', value: '1' }], remove: ['x-set'] },
        response: { add: [{ name: 'x-resp', value: 'static' }] },
      },
      { 'x-secret': 's', 'x-add': 'client' },
    );
    expect(seen).toMatchObject({ 'x-static': '1', 'x-add': ['client', 'r'] });
    expect(seen?.['x-secret']).toBeUndefined();
    expect(seen?.['x-set']).toBeUndefined();
    expect(res.headers['x-resp']).toEqual(['route', 'static']);
  });

  it('can ignore the route modifiers', async () => {
    const { seen } = await run({ fromRoute: false }, {});
    expect(seen?.['x-set']).toBeUndefined();
  });

  it.each([
    [{ request: { set: [{ name: 'bad name', value: 'x' }] } }, 'request.set[0].name'],
    [{ request: { set: [{ name: 'x', value: 'a\r\nb' }] } }, 'request.set[0].value'],
    [{ request: { remove: ['content-length'] } }, 'request.remove[0]'],
    [{ request: { set: [{ name: 'host', value: 'evil' }] } }, 'request.set[0].name'],
    [{ bogus: true }, 'bogus'],
  ])('refuses %j naming %s', (config, field) => {
    const r = configureHeaders(config);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ filter: 'headers', field });
  });
});
