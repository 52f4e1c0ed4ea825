import type { PolicyTarget } from '@weft/policy';
import { authorizationPolicy, httpRoute, waypointGateway } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore, l7State } from '@weft/proxy-core';
import { describe, expect, it } from 'vitest';
import { applyRole, componentFor, decideRole, ENGINE_ROLES, type EngineRole, reporterFor } from './role.ts';
import { SHOP, serviceWith, WEB_HOST, WEB_VIP } from './test-support/mesh.ts';
import { compileMesh } from './testing/harness.ts';

// web (VIP 10.96.0.10:80) over pod web-1 (127.0.0.41:8080) with an HTTPRoute; one policy of each
// attachment: the pod's selector, the Service's targetRefs, the waypoint Gateway's targetRefs.
const POD_IP = '127.0.0.41';
const POD_UID = 'uid-shop-web-1';
const objects = [
  ...SHOP,
  // the waypoint this engine runs as: its Gateway lists the policies that target it
  waypointGateway('wp', { namespace: 'shop' }),
  ...serviceWith([{ name: 'web-1', ip: POD_IP, port: 8080 }]),
  httpRoute('web', {
    namespace: 'shop',
    service: 'web',
    rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
  }),
  authorizationPolicy('by-selector', {
    namespace: 'shop',
    action: 'DENY',
    selector: { app: 'web' },
    rules: [{}],
  }),
  authorizationPolicy('by-service', {
    namespace: 'shop',
    action: 'DENY',
    targetRefs: [{ kind: 'Service', name: 'web' }],
    rules: [{}],
  }),
  authorizationPolicy('by-gateway', {
    namespace: 'shop',
    action: 'DENY',
    targetRefs: [{ kind: 'Gateway', name: 'wp' }],
    rules: [{}],
  }),
];

describe('what each role applies', () => {
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileMesh(objects)));
  const DEST = { service: [WEB_VIP, 80], pod: [POD_IP, 8080], unknown: ['10.9.9.9', 80] } as const;

  // role, destination, the engine's waypoint -> policy targets, routes, the policies that apply
  const table: readonly [
    EngineRole,
    keyof typeof DEST,
    string | undefined,
    readonly PolicyTarget[] | undefined,
    'service' | 'none',
    readonly string[] | undefined,
  ][] = [
    [
      'waypoint',
      'service',
      'shop/wp',
      [{ service: WEB_HOST, waypoint: 'shop/wp' }],
      'service',
      ['shop/by-gateway', 'shop/by-service'],
    ],
    [
      'waypoint',
      'pod',
      'shop/wp',
      [{ workload: POD_UID, waypoint: 'shop/wp' }],
      'none',
      ['shop/by-gateway', 'shop/by-selector'],
    ],
    ['waypoint', 'service', undefined, [{ service: WEB_HOST }], 'service', ['shop/by-service']],
    ['waypoint', 'unknown', 'shop/wp', undefined, 'none', undefined],
    [
      'sidecar-inbound',
      'pod',
      undefined,
      [{ workload: POD_UID }, { service: WEB_HOST }],
      'none',
      ['shop/by-selector', 'shop/by-service'],
    ],
    ['sidecar-inbound', 'service', undefined, [{ service: WEB_HOST }], 'none', ['shop/by-service']],
    ['sidecar-inbound', 'unknown', undefined, undefined, 'none', undefined],
    ['sidecar-outbound', 'service', undefined, undefined, 'service', undefined],
    ['sidecar-outbound', 'pod', undefined, undefined, 'none', undefined],
    ['sidecar-outbound', 'unknown', undefined, undefined, 'none', undefined],
  ];
  it.each(table)('%s, to the %s (waypoint %s)', (role, dest, waypoint, targets, routes, policies) => {
    const [ip, port] = DEST[dest];
    const target = l7State(store.state, waypoint).target(ip, port);
    const d = decideRole(role, target, waypoint);
    expect(d).toEqual({ role, policyTargets: targets, routes });
    const a = applyRole(d, target, store.state);
    expect(a.policies?.map((p) => p.key)).toEqual(policies);
    expect(a.routes !== undefined).toBe(routes === 'service');
  });

  it('names the reporter of Istio metrics after the role', () => {
    expect(ENGINE_ROLES.map(reporterFor)).toEqual(['waypoint', 'destination', 'source']);
    expect(ENGINE_ROLES.map(componentFor)).toEqual(['waypoint', 'sidecar', 'sidecar']);
  });
});
