// The xDS source as a waypoint runs it: six kinds, node id "waypoint~shop/waypoint", the store
// filled from weft.v1 resources (its own Waypoint among them) and following removals.
import {
  authorizationPolicy,
  httpRoute,
  namespace,
  pod,
  service,
  waypointGateway,
} from '@weft/policy/testing';
import { noopLogger } from '@weft/telemetry';
import { WEFT_TYPE_URL, weftResource } from '@weft/xds-protocol';
import {
  toProtoAuthorization,
  toProtoHttpRoutes,
  toProtoService,
  toProtoWaypoint,
  toProtoWorkload,
} from '@weft/xds-protocol/convert';
import { startTestAdsServer, type TestAdsServer, waitUntil } from '@weft/xds-protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { l7State } from '../state/l7-view.ts';
import { createStateStore } from '../state/store.ts';
import { compileOrThrow } from '../testing/mesh.ts';
import { startXdsSource } from './xds-source.ts';
import { defaultXdsTypes } from './xds-types.ts';

const WEB_VIP = '10.96.0.10';
const WEB_HOST = 'web.shop.svc.cluster.local';

describe('startXdsSource for a waypoint', () => {
  let ads: TestAdsServer;
  beforeAll(async () => {
    ads = await startTestAdsServer();
  });
  afterAll(async () => {
    await ads.close();
  });

  it('fills the store from weft.v1 resources and follows removals', async () => {
    const mesh = compileOrThrow([
      namespace('shop'),
      waypointGateway('waypoint', { namespace: 'shop' }),
      authorizationPolicy('on-gateway', {
        namespace: 'shop',
        targetRefs: [{ kind: 'Gateway', name: 'waypoint' }],
        rules: [{}],
      }),
      pod('web-1', {
        namespace: 'shop',
        ip: '10.1.0.11',
        labels: { app: 'web' },
        serviceAccount: 'web',
        ports: [{ name: 'http', containerPort: 8080 }],
      }),
      service('web', {
        namespace: 'shop',
        clusterIP: WEB_VIP,
        selector: { app: 'web' },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      }),
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
      ...Object.values(mesh.waypoints).map((w) => weftResource('waypoint', toProtoWaypoint(w))),
      ...Object.values(mesh.authorizationPolicies).map((p) =>
        weftResource('authorization', toProtoAuthorization(p)),
      ),
    ]);
    const store = createStateStore();
    const source = startXdsSource({
      store,
      target: ads.address,
      proxy: { kind: 'waypoint', namespace: 'shop', name: 'waypoint' },
      nodeMetadata: { WAYPOINT: 'shop/waypoint' },
      types: defaultXdsTypes('waypoint'),
      logger: noopLogger,
    });
    await waitUntil(() => store.state.routes.size === 1, 5000, 'routes');
    const t = l7State(store.state, 'shop/waypoint').target(WEB_VIP, 80);
    expect(t.kind).toBe('service');
    if (t.kind === 'service') {
      expect(t.service.hostname).toBe(WEB_HOST);
      expect(t.routes?.rules).toHaveLength(1);
      expect(t.service.endpoints[0]?.ip).toBe('10.1.0.11');
      expect(t.policies.map((p) => p.key)).toEqual(['shop/on-gateway']);
    }
    expect(store.state.waypoints.get('shop/waypoint')).toEqual(mesh.waypoints['shop/waypoint']);
    ads.cache.apply([], [{ typeUrl: WEFT_TYPE_URL.waypoint, name: 'shop/waypoint' }]);
    await waitUntil(() => store.state.waypoints.size === 0, 5000, 'waypoint removal');
    ads.cache.apply([], [{ typeUrl: WEFT_TYPE_URL.httpRoutes, name: `${WEB_HOST}:80` }]);
    await waitUntil(() => store.state.routes.size === 0, 5000, 'route removal');
    await source.synced();
    expect(store.state.synced).toBe(true);
    source.close();
  });
});
