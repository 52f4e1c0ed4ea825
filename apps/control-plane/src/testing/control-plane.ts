// A real weftd on loopback for tests and e2e scenarios: a small ambient mesh as manifests, a
// token file with node-bound ztunnel tokens, and delta ADS clients that speak to it.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { noopLogger } from '@weft/telemetry';
import { createDeltaAdsClient, type DeltaAdsClient, type ResourceTypeConfig } from '@weft/xds-protocol';
import { domainResourceType } from '@weft/xds-protocol/convert';
import { RecordingHandler } from '@weft/xds-protocol/testing';
import { stringify } from 'yaml';
import {
  type ControlPlane,
  type ControlPlaneConfig,
  type ControlPlaneDeps,
  createControlPlane,
} from '../control-plane.ts';

/** Tokens of the test token file (`token namespace serviceAccount [node]`). */
export const TEST_TOKENS = {
  ztunnelNodeA: 'ztunnel-node-a-token-000000001',
  ztunnelNodeB: 'ztunnel-node-b-token-000000002',
  admin: 'weft-admin-token-0000000000003',
  client: 'demo-client-token-000000000004',
  /** demo/waypoint: the service account of the `waypoint` Gateway's pods in `waypointMesh()`. */
  waypoint: 'demo-waypoint-token-0000000005',
  /** demo/echo: the service account of `echo-a` and `echo-b` (their sidecars' token). */
  echo: 'demo-echo-token-00000000000006',
} as const;

export const TEST_TOKEN_FILE = [
  '# token                          namespace    service-account  node',
  `${TEST_TOKENS.ztunnelNodeA}  weft-system  ztunnel          node-a`,
  `${TEST_TOKENS.ztunnelNodeB}  weft-system  ztunnel          node-b`,
  `${TEST_TOKENS.admin}  weft-system  weft-admin`,
  `${TEST_TOKENS.client}  demo         client`,
  `${TEST_TOKENS.waypoint}  demo         waypoint`,
  `${TEST_TOKENS.echo}  demo         echo`,
  '',
].join('\n');

type Obj = Record<string, unknown>;

function pod(name: string, node: string, ip: string, sa: string, app: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo', uid: `uid-${name}`, labels: { app } },
    spec: {
      nodeName: node,
      serviceAccountName: sa,
      containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

/**
 * A small ambient mesh in namespace `demo`: `echo-a` (node-a, 127.0.10.1) and `echo-b` (node-b,
 * 127.0.20.1) behind service `echo` (10.96.0.10:80 -> 8080), `client` (node-a, 127.0.10.2), and
 * an ALLOW policy letting `client` reach `echo`.
 */
export function testMesh(): Obj[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'weft-system' } },
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'demo', labels: { 'weft.dev/dataplane-mode': 'ambient' } },
    },
    pod('echo-a', 'node-a', '127.0.10.1', 'echo', 'echo'),
    pod('echo-b', 'node-b', '127.0.20.1', 'echo', 'echo'),
    pod('client', 'node-a', '127.0.10.2', 'client', 'client'),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo', namespace: 'demo' },
      spec: {
        clusterIP: '10.96.0.10',
        selector: { app: 'echo' },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      },
    },
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'echo-allow-client', namespace: 'demo' },
      spec: {
        selector: { matchLabels: { app: 'echo' } },
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
      },
    },
  ];
}

function route(name: string, service: string, rules: unknown[]): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: 'demo' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: service, port: 80 }], rules },
  };
}

function svc(
  name: string,
  ip: string,
  selector: Record<string, string>,
  labels?: Record<string, string>,
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'demo', ...(labels ? { labels } : {}) },
    spec: { clusterIP: ip, selector, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

/**
 * `testMesh()` with a waypoint: Gateway `demo/waypoint` (class weft-waypoint) run by pod
 * `waypoint-0` (node-a, 127.0.10.9, sa `waypoint`, mode none); service `echo` is bound to it
 * (`weft.dev/use-waypoint`) and routed 90/10 to `echo-v1` / `echo-v2` (not bound), with a second
 * rule that has no backends; `echo-b` is version v2. Also, unrelated to the waypoint: service
 * `other` (10.96.0.40) with its own route, and policies targeting the Gateway, `echo` and `other`.
 */
export function waypointMesh(): Obj[] {
  const base = testMesh().filter((o) => !(o.kind === 'Service' && (o.metadata as Obj).name === 'echo'));
  const withVersions = base.map((o) => {
    const m = o.metadata as { name: string; labels?: Record<string, string> };
    if (o.kind !== 'Pod' || !m.name.startsWith('echo-')) return o;
    return { ...o, metadata: { ...m, labels: { ...m.labels, version: m.name === 'echo-a' ? 'v1' : 'v2' } } };
  });
  const policy = (name: string, target: { kind: string; group: string; name: string }): Obj => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace: 'demo' },
    spec: { targetRefs: [target], action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
  });
  return [
    ...withVersions,
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'waypoint', namespace: 'demo' },
      spec: {
        gatewayClassName: 'weft-waypoint',
        listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'waypoint-0',
        namespace: 'demo',
        uid: 'uid-waypoint-0',
        labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint', 'weft.dev/dataplane-mode': 'none' },
      },
      spec: { nodeName: 'node-a', serviceAccountName: 'waypoint', containers: [{ name: 'waypoint' }] },
      status: { phase: 'Running', podIP: '127.0.10.9', podIPs: [{ ip: '127.0.10.9' }] },
    },
    svc('echo', '10.96.0.10', { app: 'echo' }, { 'weft.dev/use-waypoint': 'waypoint' }),
    svc('echo-v1', '10.96.0.11', { app: 'echo', version: 'v1' }),
    svc('echo-v2', '10.96.0.12', { app: 'echo', version: 'v2' }),
    svc('other', '10.96.0.40', { app: 'client' }),
    route('echo-split', 'echo', [
      { matches: [{ path: { type: 'PathPrefix', value: '/nowhere' } }] },
      {
        backendRefs: [
          { name: 'echo-v1', port: 80, weight: 90 },
          { name: 'echo-v2', port: 80, weight: 10 },
        ],
      },
    ]),
    route('other-route', 'other', [{ backendRefs: [{ name: 'other', port: 80 }] }]),
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'echo-v2', namespace: 'demo' },
      spec: { host: 'echo-v2.demo.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } },
    },
    policy('gateway-deny-delete', { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }),
    policy('echo-deny-delete', { kind: 'Service', group: '', name: 'echo' }),
    policy('other-deny-delete', { kind: 'Service', group: '', name: 'other' }),
  ];
}

/** Multi-document YAML. */
export function toYaml(objects: readonly unknown[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

export async function writeManifest(dir: string, file: string, objects: readonly unknown[]): Promise<void> {
  // Write then rename: the watcher never sees half a file.
  const tmp = join(dir, `.${file}.tmp`);
  await writeFile(tmp, toYaml(objects));
  await rename(tmp, join(dir, file));
}

export interface TestControlPlane {
  readonly cp: ControlPlane;
  /** The config folder (local mode). */
  readonly dir: string;
  readonly caDir: string;
  close(): Promise<void>;
}

/**
 * weftd on 127.0.0.1 with ephemeral ports (or the ones given), the test token file, a fast
 * debounce and a silent logger. Local mode writes `testMesh()` to `mesh.yaml` unless `objects`
 * is given; Kubernetes mode passes `config.kubeConfig`.
 */
export async function startTestControlPlane(
  options: {
    readonly config?: ControlPlaneConfig;
    readonly deps?: ControlPlaneDeps;
    readonly objects?: readonly unknown[];
    readonly dir?: string;
    readonly caDir?: string;
  } = {},
): Promise<TestControlPlane> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'weftd-config-')));
  const caDir = options.caDir ?? (await mkdtemp(join(tmpdir(), 'weftd-ca-')));
  const kube = options.config?.kubeConfig !== undefined;
  if (!kube && options.dir === undefined)
    await writeManifest(dir, 'mesh.yaml', options.objects ?? testMesh());
  const cp = await createControlPlane(
    {
      ...(kube ? {} : { configDir: dir }),
      xdsAddress: '127.0.0.1:0',
      xdsTlsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      injectionAddress: '127.0.0.1:0',
      tokens: TEST_TOKEN_FILE,
      caDir,
      debounceMs: 10,
      fileSource: { debounceMs: 20, rescanIntervalMs: 2000 },
      ...options.config,
    },
    { logger: noopLogger, ...options.deps },
  );
  await cp.whenReady();
  return {
    cp,
    dir,
    caDir,
    async close() {
      await cp.close();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
      if (options.caDir === undefined) await rm(caDir, { recursive: true, force: true });
    },
  };
}

/** Bearer-token metadata for grpc calls. */
export function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

export interface TestProxy {
  readonly client: DeltaAdsClient;
  readonly handler: RecordingHandler;
  close(): void;
}

/**
 * A delta ADS client as a ztunnel runs it: node id `ztunnel~<node>`, wildcard Workload, Service
 * and Authorization, converted to domain values on receipt (override `types` to change that).
 */
export function connectProxy(options: {
  readonly target: string;
  readonly nodeId: string;
  readonly token?: string;
  readonly types?: readonly ResourceTypeConfig[];
  readonly credentials?: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ChannelOptions;
}): TestProxy {
  const handler = new RecordingHandler();
  const token = options.token;
  const client = createDeltaAdsClient({
    target: options.target,
    node: { id: options.nodeId },
    types: options.types ?? [
      domainResourceType('workload'),
      domainResourceType('service'),
      domainResourceType('authorization'),
    ],
    handler,
    ...(token === undefined ? {} : { metadata: () => bearer(token) }),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.channelOptions ? { channelOptions: options.channelOptions } : {}),
    backoff: { initialMs: 20, maxMs: 200 },
  });
  return { client, handler, close: () => client.close() };
}
