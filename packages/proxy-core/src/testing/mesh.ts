// A small local-mode mesh (DESIGN.md "Run modes", local): two nodes on loopback, workloads on
// their own 127.0.x.y addresses. Used by this package's tests and by e2e scenarios.
import { compile, type MeshSnapshot } from '@weft/policy';
import { namespace, pod, service } from '@weft/policy/testing';

export interface LocalMeshLayout {
  readonly nodeA: { readonly name: string; readonly ip: string };
  readonly nodeB: { readonly name: string; readonly ip: string };
  /** demo/echo-1 on node-a, sa echo, app port 8080. */
  readonly echo1: string;
  /** demo/echo-2 on node-b, sa echo, not ready. */
  readonly echo2: string;
  /** demo/client on node-b, sa client. */
  readonly client: string;
  /** other/legacy on node-b, mode none, app port 9000. */
  readonly legacy: string;
  /** demo/echo VIP, port 80 -> 8080. */
  readonly echoVip: string;
  readonly echoHost: string;
  /** other/legacy VIP, port 90 -> 9000. */
  readonly legacyVip: string;
}

/**
 * Addresses of the fixture: node-a on 127.0.<a>.1 with its workloads on 127.0.<a>.x, node-b on
 * 127.0.<b>.1 likewise. Test files that run at the same time use different octets.
 */
export function localMeshLayout(a = 1, b = 2): LocalMeshLayout {
  return {
    nodeA: { name: 'node-a', ip: `127.0.${a}.1` },
    nodeB: { name: 'node-b', ip: `127.0.${b}.1` },
    echo1: `127.0.${a}.10`,
    echo2: `127.0.${b}.11`,
    client: `127.0.${b}.10`,
    legacy: `127.0.${b}.20`,
    echoVip: `10.96.${a}.10`,
    echoHost: 'echo.demo.svc.cluster.local',
    legacyVip: `10.96.${a}.20`,
  };
}

export const LOCAL_MESH = localMeshLayout(1, 2);
export const NODE_A = LOCAL_MESH.nodeA;
export const NODE_B = LOCAL_MESH.nodeB;

export interface LocalMeshOptions {
  /** Port the echo workloads listen on (default 8080). */
  readonly echoPort?: number;
  /** Port the legacy workload listens on (default 9000). */
  readonly legacyPort?: number;
  /** Default LOCAL_MESH (127.0.1.x and 127.0.2.x). */
  readonly layout?: LocalMeshLayout;
}

/** Kubernetes-shaped objects of the fixture mesh (feed them to `compile`, or extend them). */
export function localMeshObjects(options: LocalMeshOptions = {}): Record<string, unknown>[] {
  const echoPort = options.echoPort ?? 8080;
  const legacyPort = options.legacyPort ?? 9000;
  const m = options.layout ?? LOCAL_MESH;
  return [
    namespace('weft-system'),
    namespace('demo', { labels: { 'weft.dev/dataplane-mode': 'ambient' } }),
    namespace('other'),
    pod('echo-1', {
      namespace: 'demo',
      labels: { app: 'echo', version: 'v1' },
      ip: m.echo1,
      serviceAccount: 'echo',
      node: m.nodeA.name,
      ports: [{ name: 'tcp-echo', containerPort: echoPort }],
    }),
    pod('echo-2', {
      namespace: 'demo',
      labels: { app: 'echo', version: 'v2' },
      ip: m.echo2,
      serviceAccount: 'echo',
      node: m.nodeB.name,
      ready: false,
      ports: [{ name: 'tcp-echo', containerPort: echoPort }],
    }),
    pod('client', {
      namespace: 'demo',
      labels: { app: 'client' },
      ip: m.client,
      serviceAccount: 'client',
      node: m.nodeB.name,
    }),
    pod('legacy', {
      namespace: 'other',
      labels: { app: 'legacy' },
      ip: m.legacy,
      serviceAccount: 'legacy',
      node: m.nodeB.name,
      ports: [{ name: 'tcp', containerPort: legacyPort }],
    }),
    service('echo', {
      namespace: 'demo',
      clusterIP: m.echoVip,
      ports: [{ name: 'tcp-echo', port: 80, targetPort: echoPort }],
    }),
    service('legacy', {
      namespace: 'other',
      clusterIP: m.legacyVip,
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
