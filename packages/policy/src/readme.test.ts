// The example of README.md, kept runnable.
import {
  authorize,
  chooseWeighted,
  compile,
  matchRoute,
  policiesFor,
  resolvePeerAuthentication,
} from '@weft/policy';
import {
  authorizationPolicy,
  httpRoute,
  meshFixture,
  peerAuthentication,
  service,
} from '@weft/policy/testing';
import { expect, it } from 'vitest';

it('README example', () => {
  const { snapshot, errors } = compile([
    ...meshFixture(), // namespaces shop (ambient) and legacy, services web and db, a waypoint
    peerAuthentication('strict', { namespace: 'weft-system', mode: 'STRICT' }),
    authorizationPolicy('web-api', {
      namespace: 'shop',
      selector: { app: 'web' },
      rules: [
        {
          from: [{ source: { namespaces: ['legacy'] } }],
          to: [{ operation: { methods: ['GET'], paths: ['/api/*'] } }],
        },
      ],
    }),
    service('web-v2', { namespace: 'shop', selector: { app: 'web', version: 'v2' } }),
    httpRoute('canary', {
      namespace: 'shop',
      service: 'web',
      rules: [
        {
          backendRefs: [
            { name: 'web', port: 80, weight: 90 },
            { name: 'web-v2', port: 80, weight: 10 },
          ],
        },
      ],
    }),
  ]);
  expect(errors).toEqual([]);

  const web = snapshot.workloads['uid-shop-web-1'];
  if (!web) throw new Error('no workload');
  expect(web.identity).toBe('spiffe://cluster.local/ns/shop/sa/web');
  expect(resolvePeerAuthentication(snapshot, web, 8080)).toBe('STRICT');

  const policies = policiesFor(snapshot, { workload: web.uid });
  const client = 'spiffe://cluster.local/ns/legacy/sa/client';
  expect(authorize(policies, { sourcePrincipal: client, method: 'GET', path: '/api/items' }).action).toBe(
    'ALLOW',
  );
  expect(authorize(policies, { sourcePrincipal: client, method: 'GET', path: '/api/../admin' }).action).toBe(
    'DENY',
  );
  expect(
    authorize(policies, { sourcePrincipal: client, method: 'GET', path: '/api%2F..%2Fadmin' }).code,
  ).toBe('invalid-request');
  // ztunnel enforces the same policy at L4: the rule needs HTTP, so it cannot allow.
  expect(authorize(policies, { sourcePrincipal: client, destinationPort: 8080 }, { mode: 'L4' }).action).toBe(
    'DENY',
  );

  const route = matchRoute(snapshot.routes, { service: 'web.shop.svc.cluster.local', port: 80, path: '/' });
  if (route.kind !== 'matched') throw new Error(route.kind);
  expect(chooseWeighted(route.backends, () => 0.95)?.host).toBe('web-v2.shop.svc.cluster.local');
});
