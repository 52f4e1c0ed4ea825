// Object builders for tests: plain Kubernetes-shaped objects with sensible defaults, to feed
// `compile` or `validateObject`. Used by the tests of every package that consumes @weft/policy.
import type { AuthzPolicy } from '../authz/types.ts';
import { compile } from '../compile/compile.ts';
import type { CompileOptions } from '../compile/context.ts';
import { fnv1a64 } from '../hash.ts';

type Labels = Record<string, string>;
type Obj = Record<string, unknown>;

function meta(
  name: string,
  namespace: string | undefined,
  extra: {
    labels?: Labels | undefined;
    uid?: string | undefined;
    creationTimestamp?: string | undefined;
  } = {},
): Obj {
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(extra.labels ? { labels: extra.labels } : {}),
    ...(extra.uid ? { uid: extra.uid } : {}),
    ...(extra.creationTimestamp ? { creationTimestamp: extra.creationTimestamp } : {}),
  };
}

/** A stable address in 10.0.0.0/8 derived from namespace/name. */
export function ipFor(namespace: string, name: string): string {
  const h = fnv1a64(`${namespace}/${name}`);
  const n = Number.parseInt(h.slice(0, 6), 16);
  return `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${Math.max(1, n & 0xff)}`;
}

export function namespace(name: string, options: { labels?: Labels } = {}): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: meta(name, undefined, { labels: options.labels }) };
}

export interface PodOptions {
  namespace?: string;
  labels?: Labels;
  /** Primary address; default derived from namespace/name. `null` for a pod without address. */
  ip?: string | null;
  /** Extra addresses (dual stack). */
  extraIps?: string[];
  serviceAccount?: string;
  node?: string;
  uid?: string;
  ports?: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ready?: boolean;
  hostNetwork?: boolean;
  /** Sets the `weft.dev/dataplane-mode` label. */
  mode?: 'ambient' | 'sidecar' | 'proxyless' | 'none';
  /** Sets the `weft.dev/use-waypoint` label. */
  waypoint?: string;
  creationTimestamp?: string;
}

export function pod(name: string, o: PodOptions = {}): Obj {
  const ns = o.namespace ?? 'default';
  const labels: Labels = { ...(o.labels ?? {}) };
  if (o.mode) labels['weft.dev/dataplane-mode'] = o.mode;
  if (o.waypoint) labels['weft.dev/use-waypoint'] = o.waypoint;
  const ip = o.ip === undefined ? ipFor(ns, name) : o.ip;
  const ips = [...(ip ? [ip] : []), ...(o.extraIps ?? [])];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(name, ns, {
      labels,
      uid: o.uid ?? `uid-${ns}-${name}`,
      creationTimestamp: o.creationTimestamp,
    }),
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      serviceAccountName: o.serviceAccount ?? 'default',
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'app', ...(o.ports ? { ports: o.ports } : {}) }],
    },
    status: {
      phase: o.phase ?? 'Running',
      ...(ip ? { podIP: ip } : {}),
      ...(ips.length > 0 ? { podIPs: ips.map((a) => ({ ip: a })) } : {}),
      ...(o.ready !== undefined
        ? { conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }] }
        : {}),
    },
  };
}

export interface ServiceOptions {
  namespace?: string;
  labels?: Labels;
  selector?: Labels;
  /** Default derived from namespace/name in 10.96.0.0/12 style; `None` for headless. */
  clusterIP?: string;
  ports?: {
    name?: string;
    port: number;
    targetPort?: number | string;
    protocol?: 'TCP' | 'UDP';
    appProtocol?: string;
  }[];
  /** Sets the `weft.dev/use-waypoint` label. */
  waypoint?: string;
}

export function service(name: string, o: ServiceOptions = {}): Obj {
  const ns = o.namespace ?? 'default';
  const labels: Labels = { ...(o.labels ?? {}) };
  if (o.waypoint) labels['weft.dev/use-waypoint'] = o.waypoint;
  const h = Number.parseInt(fnv1a64(`svc/${ns}/${name}`).slice(0, 4), 16);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, ns, { labels: Object.keys(labels).length > 0 ? labels : undefined }),
    spec: {
      clusterIP: o.clusterIP ?? `10.96.${(h >> 8) & 0xff}.${Math.max(1, h & 0xff)}`,
      selector: o.selector ?? { app: name },
      ports: o.ports ?? [{ name: 'http', port: 80, targetPort: 8080 }],
    },
  };
}

export function serviceAccount(name: string, namespaceName = 'default'): Obj {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name, namespaceName) };
}

export interface AuthorizationPolicyOptions {
  namespace?: string;
  action?: 'ALLOW' | 'DENY' | 'AUDIT';
  selector?: Labels;
  targetRefs?: { kind: 'Service' | 'Gateway'; name: string }[];
  rules?: unknown[];
  creationTimestamp?: string;
}

export function authorizationPolicy(name: string, o: AuthorizationPolicyOptions = {}): Obj {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: meta(name, o.namespace ?? 'default', { creationTimestamp: o.creationTimestamp }),
    spec: {
      ...(o.action ? { action: o.action } : {}),
      ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.targetRefs
        ? {
            targetRefs: o.targetRefs.map((t) => ({
              group: t.kind === 'Gateway' ? 'gateway.networking.k8s.io' : '',
              kind: t.kind,
              name: t.name,
            })),
          }
        : {}),
      ...(o.rules ? { rules: o.rules } : {}),
    },
  };
}

export function peerAuthentication(
  name: string,
  o: {
    namespace?: string;
    mode?: 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';
    selector?: Labels;
    portLevelMtls?: Record<string, 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET'>;
    creationTimestamp?: string;
  } = {},
): Obj {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: meta(name, o.namespace ?? 'default', { creationTimestamp: o.creationTimestamp }),
    spec: {
      ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
      ...(o.mode ? { mtls: { mode: o.mode } } : {}),
      ...(o.portLevelMtls
        ? {
            portLevelMtls: Object.fromEntries(
              Object.entries(o.portLevelMtls).map(([p, mode]) => [p, { mode }]),
            ),
          }
        : {}),
    },
  };
}

/** A Gateway of class weft-waypoint; `for` sets the `weft.dev/waypoint-for` label. */
export function waypointGateway(
  name: string,
  o: { namespace?: string; for?: 'service' | 'workload' | 'all' | 'none'; addresses?: string[] } = {},
): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: meta(name, o.namespace ?? 'default', {
      labels: o.for ? { 'weft.dev/waypoint-for': o.for } : undefined,
    }),
    spec: {
      gatewayClassName: 'weft-waypoint',
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
      ...(o.addresses ? { addresses: o.addresses.map((value) => ({ type: 'IPAddress', value })) } : {}),
    },
  };
}

/** The pod and service that run a waypoint (labelled with its gateway name). */
export function waypointDeployment(
  gatewayName: string,
  o: { namespace?: string; ip?: string; clusterIP?: string } = {},
): Obj[] {
  const ns = o.namespace ?? 'default';
  const labels = { 'gateway.networking.k8s.io/gateway-name': gatewayName };
  return [
    pod(`${gatewayName}-0`, {
      namespace: ns,
      labels,
      serviceAccount: gatewayName,
      ...(o.ip ? { ip: o.ip } : {}),
    }),
    service(gatewayName, {
      namespace: ns,
      labels,
      selector: labels,
      ports: [{ name: 'mesh', port: 15008 }],
      ...(o.clusterIP ? { clusterIP: o.clusterIP } : {}),
    }),
  ];
}

function serviceParent(name: string, port?: number) {
  return { group: '', kind: 'Service', name, ...(port !== undefined ? { port } : {}) };
}

export function httpRoute(
  name: string,
  o: { namespace?: string; service: string; port?: number; rules: unknown[]; creationTimestamp?: string },
): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: meta(name, o.namespace ?? 'default', { creationTimestamp: o.creationTimestamp }),
    spec: { parentRefs: [serviceParent(o.service, o.port)], rules: o.rules },
  };
}

export function grpcRoute(
  name: string,
  o: { namespace?: string; service: string; port?: number; rules: unknown[] },
): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: meta(name, o.namespace ?? 'default'),
    spec: { parentRefs: [serviceParent(o.service, o.port)], rules: o.rules },
  };
}

export function tcpRoute(
  name: string,
  o: { namespace?: string; service: string; port?: number; rules: unknown[] },
): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind: 'TCPRoute',
    metadata: meta(name, o.namespace ?? 'default'),
    spec: { parentRefs: [serviceParent(o.service, o.port)], rules: o.rules },
  };
}

export function destinationRule(
  name: string,
  o: { namespace?: string; host: string; trafficPolicy?: unknown; subsets?: unknown[] },
): Obj {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: meta(name, o.namespace ?? 'default'),
    spec: {
      host: o.host,
      ...(o.trafficPolicy ? { trafficPolicy: o.trafficPolicy } : {}),
      ...(o.subsets ? { subsets: o.subsets } : {}),
    },
  };
}

export function virtualService(
  name: string,
  o: { namespace?: string; hosts: string[]; http: unknown[]; creationTimestamp?: string },
): Obj {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: meta(name, o.namespace ?? 'default', { creationTimestamp: o.creationTimestamp }),
    spec: { hosts: o.hosts, http: o.http },
  };
}

/**
 * Compiles AuthorizationPolicy objects alone into the AuthzPolicy values `authorize` takes,
 * in key order. Throws on invalid input (tests want to know).
 */
export function compiledPolicies(objects: readonly unknown[], options: CompileOptions = {}): AuthzPolicy[] {
  const { snapshot, errors } = compile(objects, options);
  if (errors.length > 0)
    throw new Error(`invalid test policy: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return Object.values(snapshot.authorizationPolicies);
}

/**
 * A small mesh: namespace `shop` (ambient, waypoint `waypoint` for services) with services
 * `web` (HTTP 80 -> 8080) and `db` (TCP 5432), two web pods and one db pod; namespace `legacy`
 * (sidecar) with a `client` pod. Pods carry uids `uid-<ns>-<name>`.
 */
export function meshFixture(): Obj[] {
  return [
    namespace('weft-system'),
    namespace('shop', {
      labels: { 'weft.dev/dataplane-mode': 'ambient', 'weft.dev/use-waypoint': 'waypoint' },
    }),
    namespace('legacy', { labels: { 'weft.dev/dataplane-mode': 'sidecar' } }),
    waypointGateway('waypoint', { namespace: 'shop' }),
    ...waypointDeployment('waypoint', { namespace: 'shop', ip: '10.1.0.2', clusterIP: '10.96.1.2' }),
    pod('web-1', {
      namespace: 'shop',
      labels: { app: 'web', version: 'v1' },
      ip: '10.1.0.11',
      serviceAccount: 'web',
      node: 'node-a',
      ports: [{ name: 'http', containerPort: 8080 }],
    }),
    pod('web-2', {
      namespace: 'shop',
      labels: { app: 'web', version: 'v2' },
      ip: '10.1.0.12',
      serviceAccount: 'web',
      node: 'node-b',
      ports: [{ name: 'http', containerPort: 8080 }],
    }),
    pod('db-1', {
      namespace: 'shop',
      labels: { app: 'db' },
      ip: '10.1.0.21',
      serviceAccount: 'db',
      node: 'node-a',
    }),
    service('web', {
      namespace: 'shop',
      clusterIP: '10.96.1.10',
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    service('db', {
      namespace: 'shop',
      clusterIP: '10.96.1.20',
      ports: [{ name: 'tcp-postgres', port: 5432, targetPort: 5432 }],
    }),
    pod('client', {
      namespace: 'legacy',
      labels: { app: 'client' },
      ip: '10.2.0.5',
      serviceAccount: 'client',
      node: 'node-b',
    }),
  ];
}
