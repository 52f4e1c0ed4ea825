import { authorizationPolicy, tcpRoute } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore, l7State } from '@weft/proxy-core';
import { describe, expect, it } from 'vitest';
import type { Downstream } from '../http/message.ts';
import { applyRole, decideRole, type EngineRole } from '../role.ts';
import { CLIENT, SHOP, serviceWith } from '../test-support/mesh.ts';
import { compileMesh } from '../testing/harness.ts';
import { planTcp, type TcpPlan } from './tcp-plan.ts';

const DB_VIP = '10.96.0.30';
const DB = 'db.shop.svc.cluster.local';
const DB2 = 'db2.shop.svc.cluster.local';
const store = createStateStore();
applyUpdate(
  store,
  batchFromSnapshot(
    compileMesh([
      ...SHOP,
      ...serviceWith([{ name: 'db-1', ip: '127.0.0.51', port: 5432 }], {
        name: 'db',
        vip: DB_VIP,
        appProtocol: 'tcp',
      }),
      ...serviceWith([{ name: 'db2-1', ip: '127.0.0.52', port: 5432 }], {
        name: 'db2',
        vip: '10.96.0.31',
        appProtocol: 'tcp',
      }),
      tcpRoute('db', {
        namespace: 'shop',
        service: 'db',
        rules: [
          {
            backendRefs: [
              { name: 'db', port: 80, weight: 1 },
              { name: 'db2', port: 80, weight: 1 },
            ],
          },
        ],
      }),
      // only the client may reach db (an ALLOW list: a refusal names no deciding policy)
      authorizationPolicy('db-clients', {
        namespace: 'shop',
        action: 'ALLOW',
        targetRefs: [{ kind: 'Service', name: 'db' }],
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/legacy/sa/client'] } }] }],
      }),
    ]),
  ),
);
const view = l7State(store.state);

function down(dest: readonly [string, number], principal?: string): Downstream {
  return {
    remoteIp: '10.2.0.5',
    remotePort: 40000,
    principal,
    forwardedFor: undefined,
    destinationIp: dest[0],
    destinationPort: dest[1],
    security: principal === undefined ? 'none' : 'mutual_tls',
  };
}

const VIP = [DB_VIP, 80] as const;
const POD = ['127.0.0.51', 5432] as const;
const OTHER = 'spiffe://cluster.local/ns/legacy/sa/other';

// role, destination, caller, random -> plan
const table: readonly [
  string,
  EngineRole,
  readonly [string, number],
  string | undefined,
  number,
  TcpPlan | object,
][] = [
  ['unknown destination', 'waypoint', ['10.9.9.9', 80], CLIENT, 0, { kind: 'unknown' }],
  [
    'waypoint, an allowed caller, first TCPRoute backend',
    'waypoint',
    VIP,
    CLIENT,
    0.1,
    { kind: 'connect', cluster: { kind: 'service', host: DB, port: 80 }, backend: { host: DB } },
  ],
  [
    'waypoint, the second backend by weight',
    'waypoint',
    VIP,
    CLIENT,
    0.9,
    { kind: 'connect', cluster: { kind: 'service', host: DB2, port: 80 } },
  ],
  [
    'waypoint, another caller: denied by the ALLOW list',
    'waypoint',
    VIP,
    OTHER,
    0,
    { kind: 'deny', policy: undefined },
  ],
  ['waypoint, no identity: denied', 'waypoint', VIP, undefined, 0, { kind: 'deny' }],
  [
    'sidecar-outbound authorizes nothing, routes',
    'sidecar-outbound',
    VIP,
    OTHER,
    0.9,
    { kind: 'connect', cluster: { kind: 'service', host: DB2, port: 80 } },
  ],
  [
    'sidecar-inbound: the service policy applies at its endpoint',
    'sidecar-inbound',
    POD,
    OTHER,
    0,
    { kind: 'deny', policy: undefined },
  ],
  [
    'sidecar-inbound, allowed: to the pod itself, no TCPRoute',
    'sidecar-inbound',
    POD,
    CLIENT,
    0.9,
    { kind: 'connect', cluster: { kind: 'workload', port: 5432 }, backend: undefined },
  ],
];

describe('planTcp', () => {
  it.each(table)('%s', (_name, role, dest, principal, r, want) => {
    const target = view.target(dest[0], dest[1]);
    const applied = applyRole(decideRole(role, target), target, store.state);
    expect(planTcp(target, applied, down(dest, principal), () => r)).toMatchObject(want);
  });
});
