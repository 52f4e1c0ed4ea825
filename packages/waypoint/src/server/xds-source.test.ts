import { createStateStore } from '@weft/l7';
import { compileMesh, SHOP, serviceWith, WEB_HOST, WEB_VIP } from '@weft/l7/testing';
import { httpRoute } from '@weft/policy/testing';
import { noopLogger } from '@weft/telemetry';
import { WEFT_TYPE_URL, weftResource } from '@weft/xds-protocol';
import { toProtoHttpRoutes, toProtoService, toProtoWorkload } from '@weft/xds-protocol/convert';
import { startTestAdsServer, type TestAdsServer, waitUntil } from '@weft/xds-protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xdsConfigSource } from './xds-source.ts';

describe('xdsConfigSource', () => {
  let ads: TestAdsServer;
  beforeAll(async () => {
    ads = await startTestAdsServer();
  });
  afterAll(async () => {
    await ads.close();
  });

  it('fills the store from weft.v1 resources and follows removals', async () => {
    const mesh = compileMesh([
      ...SHOP,
      ...serviceWith([{ name: 'web-1', ip: '10.1.0.11', port: 8080 }]),
      httpRoute('web', {
        namespace: 'shop',
        service: 'web',
        rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
      }),
    ]);
    const ctx = { workloads: mesh.workloads, waypoints: mesh.waypoints, trustDomain: mesh.trustDomain };
    ads.cache.apply([
      ...Object.values(mesh.workloads).map((w) => weftResource('workload', toProtoWorkload(w, ctx))),
      ...Object.values(mesh.services).map((s) => weftResource('service', toProtoService(s, ctx))),
      ...Object.values(mesh.routes).map((r) => weftResource('httpRoutes', toProtoHttpRoutes(r))),
    ]);
    const store = createStateStore({ waypoint: 'shop/waypoint' });
    const source = xdsConfigSource({ target: ads.address, waypoint: 'shop/waypoint', logger: noopLogger });
    source.start(store);
    await waitUntil(() => Object.keys(store.current().snapshot.routes).length === 1, 5000, 'routes');
    const t = store.current().target(WEB_VIP, 80);
    expect(t.kind).toBe('service');
    if (t.kind === 'service') {
      expect(t.service.hostname).toBe(WEB_HOST);
      expect(t.routes?.rules).toHaveLength(1);
      expect(t.service.endpoints[0]?.ip).toBe('10.1.0.11');
    }
    ads.cache.apply([], [{ typeUrl: WEFT_TYPE_URL.httpRoutes, name: `${WEB_HOST}:80` }]);
    await waitUntil(() => Object.keys(store.current().snapshot.routes).length === 0, 5000, 'route removal');
    expect(store.synced).toBe(true);
    source.stop();
  });
});
