import { httpRoute } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore, l7State } from '@weft/proxy-core';
import { describe, expect, it } from 'vitest';
import { applyRole, decideRole, type EngineRole } from '../../role.ts';
import { SHOP, serviceWith, WEB_VIP } from '../../test-support/mesh.ts';
import { compileMesh } from '../../testing/harness.ts';
import { decideRoute, type RouteRequest } from './decide.ts';

const store = createStateStore();
applyUpdate(
  store,
  batchFromSnapshot(
    compileMesh([
      ...SHOP,
      ...serviceWith([{ name: 'web-1', ip: '127.0.0.41', port: 8080 }]),
      httpRoute('web', {
        namespace: 'shop',
        service: 'web',
        rules: [
          {
            matches: [{ path: { type: 'Exact', value: '/old' } }],
            filters: [
              {
                type: 'RequestRedirect',
                requestRedirect: {
                  path: { type: 'ReplaceFullPath', replaceFullPath: '/new' },
                  statusCode: 301,
                },
              },
            ],
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/secure' } }],
            filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 302 } }],
          },
          {
            matches: [
              { path: { type: 'PathPrefix', value: '/api' }, headers: [{ name: 'x-canary', value: 'yes' }] },
            ],
            backendRefs: [{ name: 'web', port: 80 }],
          },
        ],
      }),
    ]),
  ),
);
const view = l7State(store.state);

function decide(role: EngineRole, dest: readonly [string, number], req: Partial<RouteRequest>) {
  const target = view.target(dest[0], dest[1]);
  const applied = applyRole(decideRole(role, target), target, store.state);
  return decideRoute(applied, target, {
    method: 'GET',
    path: '/',
    authority: 'web.shop.svc.cluster.local:8000',
    scheme: 'http',
    headers: {},
    ...req,
  });
}

const VIP = [WEB_VIP, 80] as const;
const POD = ['127.0.0.41', 8080] as const;

// role, destination, request -> outcome (kind, and what it carries)
const table: readonly [string, EngineRole, readonly [string, number], Partial<RouteRequest>, object][] = [
  [
    'a matching rule',
    'waypoint',
    VIP,
    { path: '/api/x', headers: { 'x-canary': 'yes' } },
    {
      kind: 'route',
      route: { name: 'HTTPRoute/shop/web/2', path: '/api/x', query: undefined, servicePort: 80 },
    },
  ],
  [
    'the query kept apart',
    'waypoint',
    VIP,
    { path: '/api/x?a=1', headers: { 'x-canary': 'yes' } },
    { kind: 'route', route: { path: '/api/x', query: 'a=1' } },
  ],
  [
    'a table, no rule matches: 404 NR',
    'waypoint',
    VIP,
    { path: '/api/x' },
    { kind: 'reply', status: 404, message: 'no route matched', flags: ['NR'] },
  ],
  [
    'redirect, full path replaced, port kept',
    'waypoint',
    VIP,
    { path: '/old?q=1' },
    { kind: 'redirect', status: 301, location: 'http://web.shop.svc.cluster.local:8000/new?q=1' },
  ],
  [
    'redirect to https drops the port',
    'waypoint',
    VIP,
    { path: '/secure/a' },
    { kind: 'redirect', status: 302, location: 'https://web.shop.svc.cluster.local/secure/a' },
  ],
  [
    'sidecar-outbound routes as the waypoint does',
    'sidecar-outbound',
    VIP,
    { path: '/api/x', headers: { 'x-canary': 'yes' } },
    { kind: 'route', route: { name: 'HTTPRoute/shop/web/2' } },
  ],
  [
    'sidecar-outbound, no match: 404 NR',
    'sidecar-outbound',
    VIP,
    { path: '/nothing' },
    { kind: 'reply', status: 404 },
  ],
  [
    'sidecar-inbound: no routes, pass to the app',
    'sidecar-inbound',
    POD,
    { path: '/nothing' },
    { kind: 'pass' },
  ],
  [
    'sidecar-inbound, even addressed to the service',
    'sidecar-inbound',
    VIP,
    { path: '/old' },
    { kind: 'pass' },
  ],
  ['a workload address has no routes', 'waypoint', POD, { path: '/old' }, { kind: 'pass' }],
  ['an unknown destination has no routes', 'waypoint', ['10.9.9.9', 80], { path: '/old' }, { kind: 'pass' }],
];

describe('decideRoute', () => {
  it.each(table)('%s', (_name, role, dest, req, want) => {
    expect(decide(role, dest, req)).toMatchObject(want);
  });
});
