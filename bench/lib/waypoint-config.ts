// The configuration the waypoint bench's proxies serve, compiled here in the bench process and
// handed to each child as a snapshot file: a waypoint in production receives compiled config over
// xDS and never loads the policy compiler, so the measured child must not load it either (it
// would add about 20 MiB to the memory the bench reports).
//
// Both snapshots carry the same route (prefix match + request header modifier) and an ALLOW
// policy on GET.

import { compileMesh, SHOP, serviceWith } from '@weft/l7/testing';
import { compile, type MeshSnapshot } from '@weft/policy';
import * as t from '@weft/policy/testing';

/** The service VIP the plaintext engine serves (`echo` in `bench`). */
export const PLAIN_VIP = '10.96.0.1';

function routeAndPolicy(
  ns: string,
  svc: string,
  policyTarget: { kind: 'Service' | 'Gateway'; name: string },
): unknown[] {
  return [
    t.httpRoute(svc, {
      namespace: ns,
      service: svc,
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'x-bench', value: 'waypoint' }] },
            },
          ],
          backendRefs: [{ name: svc, port: 80 }],
        },
      ],
    }),
    t.authorizationPolicy('allow-get', {
      namespace: ns,
      targetRefs: [policyTarget],
      rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/*'] } }] }],
    }),
  ];
}

/** Service `echo` (VIP PLAIN_VIP:80) with one endpoint at 127.0.0.1:upstreamPort. */
export function plainSnapshot(upstreamPort: number): MeshSnapshot {
  const { snapshot, errors } = compile([
    t.namespace('bench'),
    t.pod('echo-1', {
      namespace: 'bench',
      ip: '127.0.0.1',
      labels: { app: 'echo' },
      ports: [{ name: 'http', containerPort: upstreamPort }],
    }),
    t.service('echo', {
      namespace: 'bench',
      clusterIP: PLAIN_VIP,
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    ...routeAndPolicy('bench', 'echo', { kind: 'Service', name: 'echo' }),
  ]);
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  return snapshot;
}

/** The shop mesh with waypoint `shop/waypoint` in front of `web` (endpoint 127.0.0.1:upstreamPort). */
export function meshSnapshot(upstreamPort: number): MeshSnapshot {
  return compileMesh([
    ...SHOP,
    t.waypointGateway('waypoint', { namespace: 'shop' }),
    ...serviceWith([{ name: 'web-1', ip: '127.0.0.1', port: upstreamPort }]),
    ...routeAndPolicy('shop', 'web', { kind: 'Gateway', name: 'waypoint' }),
  ]);
}
