import { compileMesh } from '@weft/l7/testing';
import { namespace, pod, service, waypointGateway } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore } from '@weft/proxy-core';
import { describe, expect, it } from 'vitest';
import { type ProxylessDestination, resolveProxylessDestination } from './proxyless-destination.ts';

const store = createStateStore();
applyUpdate(
  store,
  batchFromSnapshot(
    compileMesh([
      namespace('shop'),
      namespace('legacy'),
      waypointGateway('waypoint', { namespace: 'shop' }),
      waypointGateway('other-waypoint', { namespace: 'shop' }),
      pod('web-1', { namespace: 'shop', ip: '10.0.0.5', labels: { app: 'web' } }),
      service('web', { namespace: 'shop', clusterIP: '10.96.0.10', waypoint: 'waypoint' }),
      service('api', { namespace: 'shop', clusterIP: '10.96.0.11', waypoint: 'other-waypoint' }),
      service('plain', { namespace: 'shop', clusterIP: '10.96.0.12' }),
      service('web', { namespace: 'legacy', clusterIP: '10.96.1.10' }),
      service('headless', { namespace: 'shop', clusterIP: 'None', waypoint: 'waypoint' }),
    ]),
  ),
);

const summary = (d: ProxylessDestination) =>
  d.kind === 'service'
    ? `${d.service.hostname} -> ${d.ip}:${d.port.port}`
    : d.kind === 'not_bound'
      ? `not_bound ${d.service.hostname}`
      : `unknown: ${d.reason}`;

describe('resolveProxylessDestination', () => {
  const cases: [authority: string | undefined, caller: string | undefined, expected: string][] = [
    ['web.shop.svc.cluster.local:80', 'legacy', 'web.shop.svc.cluster.local -> 10.96.0.10:80'],
    ['WEB.Shop.svc.cluster.local.:80', 'legacy', 'web.shop.svc.cluster.local -> 10.96.0.10:80'],
    ['web.shop.svc:80', 'legacy', 'web.shop.svc.cluster.local -> 10.96.0.10:80'],
    ['web.shop:80', 'legacy', 'web.shop.svc.cluster.local -> 10.96.0.10:80'],
    ['web:80', 'shop', 'web.shop.svc.cluster.local -> 10.96.0.10:80'],
    ['10.96.0.10:80', undefined, 'web.shop.svc.cluster.local -> 10.96.0.10:80'],
    // the caller's namespace decides a short name: legacy's web is not this waypoint's
    ['web:80', 'legacy', 'not_bound web.legacy.svc.cluster.local'],
    ['web:80', undefined, 'unknown: no service web:80'],
    ['api.shop.svc.cluster.local:80', 'shop', 'not_bound api.shop.svc.cluster.local'],
    ['plain.shop:80', 'shop', 'not_bound plain.shop.svc.cluster.local'],
    [
      'web.shop.svc.cluster.local:81',
      'shop',
      'unknown: service web.shop.svc.cluster.local has no TCP port 81',
    ],
    ['web.shop.svc.cluster.local', 'shop', 'unknown: web.shop.svc.cluster.local names no port'],
    ['nope.shop.svc.cluster.local:80', 'shop', 'unknown: no service nope.shop.svc.cluster.local:80'],
    ['web.shop.svc.other.domain:80', 'shop', 'unknown: no service web.shop.svc.other.domain:80'],
    ['10.96.0.99:80', 'shop', 'unknown: no service 10.96.0.99:80'],
    ['10.0.0.5:80', 'shop', 'unknown: no service 10.0.0.5:80'],
    [
      'headless.shop:80',
      'shop',
      'unknown: service headless.shop.svc.cluster.local is headless (no VIP to send to)',
    ],
    [undefined, 'shop', 'unknown: no :authority'],
    ['', 'shop', 'unknown: no :authority'],
    ['web.shop:99999', 'shop', 'unknown: invalid port in host: "99999"'],
    ['we b:80', 'shop', 'unknown: invalid host "we b:80"'],
  ];
  it.each(cases)('%s from %s: %s', (authority, caller, expected) => {
    expect(summary(resolveProxylessDestination(store.state, authority, caller, 'shop/waypoint'))).toBe(
      expected,
    );
  });
});
