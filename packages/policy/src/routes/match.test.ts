import { describe, expect, it } from 'vitest';
import { compile } from '../compile/compile.ts';
import { grpcRoute, httpRoute, meshFixture, service, virtualService } from '../testing/index.ts';
import { matchRoute, type RouteRequest } from './match.ts';
import { rewritePath } from './rewrite.ts';
import { chooseWeighted, rollPercent } from './weighted.ts';

const WEB = 'web.shop.svc.cluster.local';

const { snapshot } = compile([
  ...meshFixture(),
  service('web-v2', {
    namespace: 'shop',
    selector: { app: 'web', version: 'v2' },
    ports: [{ name: 'http', port: 80, targetPort: 8080 }],
  }),
  service('grpc', { namespace: 'shop', selector: { app: 'web' }, ports: [{ name: 'grpc', port: 9000 }] }),
  httpRoute('main', {
    namespace: 'shop',
    service: 'web',
    rules: [
      { name: 'default', backendRefs: [{ name: 'web', port: 80 }] },
      {
        name: 'api',
        matches: [{ path: { type: 'PathPrefix', value: '/api/' } }],
        backendRefs: [{ name: 'web-v2', port: 80 }],
      },
      {
        name: 'login',
        matches: [{ path: { type: 'Exact', value: '/login' }, method: 'POST' }],
        backendRefs: [{ name: 'web-v2', port: 80 }],
      },
      {
        name: 'regex',
        matches: [{ path: { type: 'RegularExpression', value: '/items/[0-9]+' } }],
        backendRefs: [{ name: 'web', port: 80 }],
      },
      {
        name: 'canary',
        matches: [
          {
            path: { type: 'PathPrefix', value: '/' },
            headers: [{ name: 'X-Canary', value: 'on' }],
            queryParams: [{ name: 'v', value: '2' }],
          },
        ],
        backendRefs: [{ name: 'web-v2', port: 80 }],
      },
    ],
  }),
  grpcRoute('g', {
    namespace: 'shop',
    service: 'grpc',
    rules: [
      {
        name: 'say',
        matches: [{ method: { service: 'echo.Echo', method: 'Say' } }],
        backendRefs: [{ name: 'grpc', port: 9000 }],
      },
      {
        name: 'any-echo',
        matches: [{ method: { service: 'echo.Echo' } }],
        backendRefs: [{ name: 'grpc', port: 9000 }],
      },
      {
        name: 'any-ping',
        matches: [{ method: { method: 'Ping' } }],
        backendRefs: [{ name: 'grpc', port: 9000 }],
      },
    ],
  }),
]);

describe('matchRoute', () => {
  const table: [string, Omit<RouteRequest, 'service' | 'port'>, string | undefined][] = [
    ['root', { path: '/' }, 'default'],
    ['api prefix', { path: '/api/users' }, 'api'],
    ['api prefix is element-wise', { path: '/apiary' }, 'default'],
    ['exact path and method', { path: '/login', method: 'POST' }, 'login'],
    ['exact path, other method', { path: '/login', method: 'GET' }, 'default'],
    ['regex full match', { path: '/items/42' }, 'regex'],
    ['regex is anchored', { path: '/items/42/x' }, 'default'],
    ['header without the query', { path: '/x', headers: { 'x-canary': 'on' } }, 'default'],
    ['headers and query both set', { path: '/x?v=2', headers: { 'X-CANARY': 'on' } }, 'canary'],
    ['query decoded', { path: '/x?%76=%32', headers: { 'x-canary': 'on' } }, 'canary'],
    ['repeated header values', { path: '/x?v=2', headers: { 'x-canary': ['off', 'on'] } }, 'canary'],
    ['dot segments normalized before matching', { path: '/public/../api/x' }, 'api'],
    ['double slash normalized', { path: '//api//x' }, 'api'],
    ['encoded dots', { path: '/%2e%2e/login', method: 'POST' }, 'login'],
  ];
  it.each(table)('%s', (_name, req, ruleName) => {
    const r = matchRoute(snapshot.routes, { service: WEB, port: 80, ...req });
    expect(r.kind).toBe('matched');
    if (r.kind === 'matched') expect(r.rule.name).toBe(ruleName);
  });

  it('rejects hostile paths as bad requests', () => {
    for (const path of ['/api%2Fx', '/a%00', '/a\\b', '/a%zz']) {
      expect(matchRoute(snapshot.routes, { service: WEB, port: 80, path }).kind, path).toBe(
        'invalid-request',
      );
    }
  });

  it('distinguishes no routes from no match', () => {
    expect(matchRoute(snapshot.routes, { service: 'db.shop.svc.cluster.local', port: 5432 }).kind).toBe(
      'no-routes',
    );
    expect(matchRoute(undefined, { service: WEB, port: 80 }).kind).toBe('no-routes');
    const grpcTable = snapshot.routes['grpc.shop.svc.cluster.local:9000'];
    expect(
      matchRoute(grpcTable, { service: 'x', port: 0, path: '/other.Svc/Call', method: 'POST' }).kind,
    ).toBe('no-match');
  });

  it('matches gRPC methods', () => {
    const grpc = (path: string) => {
      const r = matchRoute(snapshot.routes, {
        service: 'grpc.shop.svc.cluster.local',
        port: 9000,
        path,
        method: 'POST',
      });
      return r.kind === 'matched' ? r.rule.name : r.kind;
    };
    expect(grpc('/echo.Echo/Say')).toBe('say');
    expect(grpc('/echo.Echo/Other')).toBe('any-echo');
    expect(grpc('/health.Health/Ping')).toBe('any-ping');
    expect(grpc('/echo.EchoX/Say')).toBe('no-match');
  });

  it('returns the normalized path and query for forwarding', () => {
    const r = matchRoute(snapshot.routes, { service: WEB, port: 80, path: '/api/./a?b=1#f' });
    expect(r).toMatchObject({ kind: 'matched', path: '/api/a', query: 'b=1' });
  });

  it('honours VirtualService order, header absence and authority', () => {
    const vs = compile([
      ...meshFixture(),
      virtualService('vs', {
        namespace: 'shop',
        hosts: ['web'],
        http: [
          {
            name: 'no-debug',
            match: [{ uri: { prefix: '/api' }, withoutHeaders: { 'x-debug': { exact: '1' } } }],
            route: [{ destination: { host: 'web' } }],
          },
          {
            name: 'case',
            match: [{ uri: { exact: '/Admin' }, ignoreUriCase: true }],
            route: [{ destination: { host: 'web' } }],
          },
          {
            name: 'authority',
            match: [{ authority: { prefix: 'beta.' } }],
            route: [{ destination: { host: 'web' } }],
          },
          {
            name: 'method',
            match: [{ method: { regex: 'PUT|PATCH' } }],
            route: [{ destination: { host: 'web' } }],
          },
          { name: 'rest', route: [{ destination: { host: 'web' } }] },
        ],
      }),
    ]).snapshot;
    const name = (req: Omit<RouteRequest, 'service' | 'port'>) => {
      const r = matchRoute(vs.routes, { service: WEB, port: 80, ...req });
      return r.kind === 'matched' ? r.rule.name : r.kind;
    };
    expect(name({ path: '/api/x' })).toBe('no-debug');
    expect(name({ path: '/apix' })).toBe('no-debug'); // uri.prefix is a plain string prefix
    expect(name({ path: '/api/x', headers: { 'x-debug': '1' } })).toBe('rest');
    expect(name({ path: '/ADMIN' })).toBe('case');
    expect(name({ path: '/', authority: 'Beta.Example.com:8080' })).toBe('authority');
    expect(name({ path: '/', method: 'PATCH' })).toBe('method');
    expect(name({ path: '/', method: 'GET' })).toBe('rest');
  });
});

describe('chooseWeighted', () => {
  const backends = [
    { host: 'a', weight: 90 },
    { host: 'b', weight: 10 },
    { host: 'c', weight: 0 },
  ];
  it.each([
    [0, 'a'],
    [0.5, 'a'],
    [0.8999, 'a'],
    [0.9, 'b'],
    [0.99999, 'b'],
    [1, 'b'],
    [-1, 'a'],
    [Number.NaN, 'a'],
  ])('random %d -> %s', (r, host) => {
    expect(chooseWeighted(backends, () => r)?.host).toBe(host);
  });

  it('never picks zero weights and splits by weight', () => {
    let seed = 1;
    const lcg = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 10_000; i++) {
      const host = chooseWeighted(backends, lcg)?.host ?? '';
      counts[host] = (counts[host] ?? 0) + 1;
    }
    expect(counts.c).toBe(0);
    expect(counts.b).toBeGreaterThan(800);
    expect(counts.b).toBeLessThan(1200);
  });

  it('returns undefined when nothing has weight', () => {
    expect(chooseWeighted([{ weight: 0 }], () => 0.5)).toBeUndefined();
    expect(chooseWeighted([], () => 0.5)).toBeUndefined();
  });

  it('rolls percentages', () => {
    expect(rollPercent(0, () => 0)).toBe(false);
    expect(rollPercent(100, () => 0.999)).toBe(true);
    expect(rollPercent(1.5, () => 0.014)).toBe(true);
    expect(rollPercent(1.5, () => 0.016)).toBe(false);
  });
});

describe('rewritePath', () => {
  it.each([
    ['/foo/bar', { type: 'full', value: '/x' }, undefined, '/x'],
    ['/foo/bar', { type: 'prefix', value: '/baz' }, { type: 'path-prefix', value: '/foo' }, '/baz/bar'],
    ['/foo', { type: 'prefix', value: '/baz' }, { type: 'path-prefix', value: '/foo' }, '/baz'],
    ['/foo/bar', { type: 'prefix', value: '/' }, { type: 'path-prefix', value: '/foo' }, '/bar'],
    ['/foo', { type: 'prefix', value: '/' }, { type: 'path-prefix', value: '/foo' }, '/'],
    ['/foo/bar', { type: 'prefix', value: '/baz/' }, { type: 'path-prefix', value: '/foo/' }, '/baz/bar'],
    ['/api/v1/x', { type: 'prefix', value: '/v2' }, { type: 'prefix', value: '/api/v1' }, '/v2/x'],
    ['/exact', { type: 'prefix', value: '/other' }, { type: 'exact', value: '/exact' }, '/other'],
    [
      '/svc/123/x',
      { type: 'regex', pattern: '^/svc/([0-9]+)/', substitution: '/id/\\1/' },
      undefined,
      '/id/123/x',
    ],
    ['/a', { type: 'regex', pattern: 'a', substitution: '$1' }, undefined, '/$1'],
  ] as const)('%s with %j', (path, rewrite, matched, expected) => {
    expect(rewritePath(path, rewrite, matched)).toBe(expected);
  });
});
