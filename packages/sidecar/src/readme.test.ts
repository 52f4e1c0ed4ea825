// The README's example, run as written there.
import { createTestCa } from '@weft/ca/testing';
import { createCertStore } from '@weft/hbone';
import { namespace, pod, service, waypointGateway } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore, planOutbound } from '@weft/proxy-core';
import { compileOrThrow } from '@weft/proxy-core/testing';
import { expect, it } from 'vitest';
import { createSidecar, routeOf } from './index.ts';

it('README example', async () => {
  const ca = await createTestCa();
  const c = await ca.issue('spiffe://cluster.local/ns/shop/sa/client');
  const certs = createCertStore({
    keyPem: c.keyPem,
    certChainPem: c.certChainPem,
    trustBundlePem: ca.trustBundlePem,
  });
  const manifests = [
    namespace('shop'),
    pod('client', {
      namespace: 'shop',
      ip: '127.0.72.2',
      node: 'n1',
      serviceAccount: 'client',
      mode: 'sidecar',
    }),
    pod('web-1', {
      namespace: 'shop',
      ip: '127.0.72.3',
      node: 'n1',
      serviceAccount: 'web',
      mode: 'sidecar',
      labels: { app: 'web' },
      ports: [{ name: 'http', containerPort: 8080 }],
    }),
    pod('wp-1', {
      namespace: 'shop',
      ip: '127.0.72.5',
      node: 'n1',
      serviceAccount: 'wp',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' },
    }),
    waypointGateway('wp', { namespace: 'shop' }),
    service('web', {
      namespace: 'shop',
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    service('bound', {
      namespace: 'shop',
      selector: { app: 'web' },
      waypoint: 'wp',
      ports: [{ name: 'http', port: 81, targetPort: 'http' }],
    }),
  ];

  // 1. Decisions are proxy-core's, with the mode a parameter; the sidecar only picks how to carry them.
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileOrThrow(manifests as never)));
  const plan = (hostname: string, port: number) =>
    planOutbound(
      store.state,
      { sourceIp: '127.0.72.2', target: { kind: 'hostname', hostname, port } },
      { nodeName: 'n1', mode: 'sidecar', pick: () => 0 },
    );
  const toWeb = plan('web.shop.svc.cluster.local', 80);
  const toBound = plan('bound.shop.svc.cluster.local', 81);
  expect(toWeb.kind === 'deny' ? toWeb.kind : routeOf(toWeb)).toBe('l7'); // engine, then HBONE to 127.0.72.3:15008
  expect(toBound.kind === 'deny' ? toBound.kind : routeOf(toBound)).toBe('waypoint'); // HBONE to 127.0.72.5:15008

  // 2. A sidecar (main.ts does this from flags; `ca` + `xds` would replace deps.certs and the store).
  const sidecar = await createSidecar(
    {
      pod: 'shop/client',
      podIp: '127.0.72.2',
      hbone: { port: 0 },
      inbound: { port: 0 },
      outbound: false,
      socks5: { port: 0 },
      admin: false,
      metrics: false,
      readiness: { port: 0 },
    },
    { certs, store },
  );
  expect(sidecar.ready()).toBe(true); // config synced, certificate installed
  expect(sidecar.addresses.socks5?.ip).toBe('127.0.72.2'); // the app binds its pod IP and dials this
  await sidecar.close();
});
