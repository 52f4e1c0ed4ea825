import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith } from '../test-support/mesh.ts';
import { fakeFilterContext, makeRequest, stateOf } from '../test-support/requests.ts';
import { BUILTIN_FILTERS, buildChain, createFilterRegistry, DEFAULT_FILTER_CHAIN } from './registry.ts';
import type { FilterDefinition } from './types.ts';

const order: string[] = [];
const probe = (name: string, terminal = false): FilterDefinition => ({
  name,
  ...(terminal ? { terminal } : {}),
  configure: () => ({
    ok: true,
    value: () => (next) => async (req) => {
      order.push(`${name}>`);
      if (terminal) return { status: 204, headers: {}, body: { kind: 'empty' } };
      const res = await next(req);
      order.push(`<${name}`);
      return res;
    },
  }),
});

describe('filter registry and chain', () => {
  it('registers the built-in filters by name', () => {
    expect(createFilterRegistry().names()).toEqual(BUILTIN_FILTERS.map((f) => f.name));
    expect(DEFAULT_FILTER_CHAIN.map((f) => f.name)).toEqual([
      'trace',
      'rbac',
      'route',
      'fault',
      'rewrite',
      'headers',
      'mirror',
      'router',
    ]);
  });

  it('composes in order: first in the list runs first', async () => {
    const registry = createFilterRegistry([probe('a'), probe('b'), probe('end', true)]);
    const r = buildChain([{ name: 'a' }, { name: 'b' }, { name: 'end' }], registry, fakeFilterContext());
    if (!r.ok) throw new Error(r.error.message);
    order.length = 0;
    const state = stateOf([...SHOP, ...serviceWith([{ name: 'w', ip: '127.0.0.1', port: 1 }])]);
    expect((await r.value(makeRequest(state))).status).toBe(204);
    expect(order).toEqual(['a>', 'b>', 'end>', '<b', '<a']);
  });

  it.each([
    [[], 'filters', 'the chain is empty'],
    [[{ name: 'nope' }, { name: 'router' }], 'filters[0].name', 'unknown filter "nope"'],
    [[{ name: 'router' }, { name: 'trace' }], 'filters[0]', 'a terminal filter must be last'],
    [[{ name: 'trace' }], 'filters[0]', 'the chain must end with a terminal filter (router)'],
    [
      [{ name: 'headers', config: { request: { set: [{ name: 'x', value: 'a\nb' }] } } }, { name: 'router' }],
      'filters[0].config.request.set[0].value',
      'header value has CR, LF or NUL',
    ],
  ])('refuses %j: %s', (specs, field, message) => {
    const r = buildChain(specs, createFilterRegistry(), fakeFilterContext());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ field, message });
  });

  it('refuses duplicate and malformed names', () => {
    const registry = createFilterRegistry();
    expect(() => registry.register(probe('trace'))).toThrow(/already registered/);
    expect(() => registry.register(probe('Bad Name'))).toThrow(/kebab/);
  });
});
