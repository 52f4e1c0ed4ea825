// A small local-mode mesh (DESIGN.md "Run modes", local): two nodes on loopback, workloads on
// their own 127.0.x.y addresses. Used by this package's tests and by e2e scenarios.
import { compile, type MeshSnapshot } from '@weft/policy';
import { namespace, pod, service } from '@weft/policy/testing';

export const NODE_A = { name: 'node-a', ip: '127.0.1.1' } as const;
export const NODE_B = { name: 'node-b', ip: '127.0.2.1' } as const;

/** Addresses of the fixture workloads. */
export const LOCAL_MESH = {
  /** demo/echo-1 on node-a, sa echo, app port 8080. */
  echo1: '127.0.1.10',
  /** demo/echo-2 on node-b, sa echo, not ready. */
  echo2: '127.0.2.11',
  /** demo/client on node-b, sa client. */
  client: '127.0.2.10',
  /** other/legacy on node-b, mode none, app port 9000. */
  legacy: '127.0.2.20',
  /** demo/echo VIP, port 80 -> 8080. */
  echoVip: '10.96.0.10',
  echoHost: 'echo.demo.svc.cluster.local',
  /** other/legacy VIP, port 90 -> 9000. */
  legacyVip: '10.96.0.20',
} as const;

export interface LocalMeshOptions {
  /** Port the echo workloads listen on (default 8080). */
  readonly echoPort?: number;
  /** Port the legacy workload listens on (default 9000). */
  readonly legacyPort?: number;
}

/** Kubernetes-shaped objects of the fixture mesh (feed them to `compile`, or extend them). */
export function localMeshObjects(options: LocalMeshOptions = {}): Record<string, unknown>[] {
  const echoPort = options.echoPort ?? 8080;
  const legacyPort = options.legacyPort ?? 9000;
  return [
    namespace('weft-system'),
    namespace('demo', { labels: { 'weft.dev/dataplane-mode': 'ambient' } }),
    namespace('other'),
    pod('echo-1', {
      namespace: 'demo',
      labels: { app: 'echo', version: 'v1' },
      ip: LOCAL_MESH.echo1,
      serviceAccount: 'echo',
      node: NODE_A.name,
      ports: [{ name: 'tcp-echo', containerPort: echoPort }],
    }),
    pod('echo-2', {
      namespace: 'demo',
      labels: { app: 'echo', version: 'v2' },
      ip: LOCAL_MESH.echo2,
      serviceAccount: 'echo',
      node: NODE_B.name,
      ready: false,
      ports: [{ name: 'tcp-echo', containerPort: echoPort }],
    }),
    pod('client', {
      namespace: 'demo',
      labels: { app: 'client' },
      ip: LOCAL_MESH.client,
      serviceAccount: 'client',
      node: NODE_B.name,
    }),
    pod('legacy', {
      namespace: 'other',
      labels: { app: 'legacy' },
      ip: LOCAL_MESH.legacy,
      serviceAccount: 'legacy',
      node: NODE_B.name,
      ports: [{ name: 'tcp', containerPort: legacyPort }],
    }),
    service('echo', {
      namespace: 'demo',
      clusterIP: LOCAL_MESH.echoVip,
      ports: [{ name: 'tcp-echo', port: 80, targetPort: echoPort }],
    }),
    service('legacy', {
      namespace: 'other',
      clusterIP: LOCAL_MESH.legacyVip,
      ports: [{ name: 'tcp', port: 90, targetPort: legacyPort }],
    }),
  ];
}

/** Compiles objects and throws on any invalid one (tests want to know). */
export function compileOrThrow(objects: readonly unknown[]): MeshSnapshot {
  const { snapshot, errors } = compile(objects);
  if (errors.length > 0) throw new Error(`invalid test objects: ${errors.map((e) => e.message).join('; ')}`);
  return snapshot;
}
