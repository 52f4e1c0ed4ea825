// The compiled, immutable view of the mesh that the control plane serves to every data plane.
// Each collection is a frozen record keyed by the resource's `key`; every resource carries a
// content `hash` so that a push can send only what changed.
import type { AuthzPolicy } from './authz/types.ts';
import type { RouteTable } from './routes/types.ts';

export type DataplaneMode = 'ambient' | 'sidecar' | 'proxyless' | 'none';
export const DATAPLANE_MODES: readonly DataplaneMode[] = ['ambient', 'sidecar', 'proxyless', 'none'];

/** The effective mTLS mode of a workload port. */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
/** As written in a PeerAuthentication; UNSET inherits from the parent scope. */
export type MtlsModeSetting = MtlsMode | 'UNSET';

/** Protocol of a service port: appProtocol first, then the port-name prefix, else tcp. */
export type AppProtocol = 'http' | 'http2' | 'grpc' | 'grpc-web' | 'https' | 'tls' | 'tcp' | 'udp' | 'sctp';

export type Labels = Readonly<Record<string, string>>;

/** Which waypoint serves a workload or service. */
export interface WaypointBinding {
  /** "namespace/name" of the waypoint Gateway (a key of MeshSnapshot.waypoints). */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** The waypoint's service hostname, when it has one. */
  readonly service?: string;
  /** Where to send traffic for the waypoint (its addresses; HBONE port 15008). */
  readonly addresses: readonly string[];
}

export interface ContainerPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Workload {
  /** The pod uid (namespace/name when the object has no uid, e.g. hand-written manifests). */
  readonly key: string;
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly node?: string;
  /** Canonical addresses, primary first. */
  readonly ips: readonly string[];
  readonly serviceAccount: string;
  /** "spiffe://<trust-domain>/ns/<ns>/sa/<sa>". */
  readonly identity: string;
  readonly mode: DataplaneMode;
  /** Set only for ambient workloads whose waypoint serves workload traffic. */
  readonly waypoint?: WaypointBinding;
  readonly labels: Labels;
  /** Ready condition (true when the pod reports no conditions). */
  readonly healthy: boolean;
  readonly ports: readonly ContainerPort[];
  /** Hostnames of the services selecting this workload. */
  readonly services: readonly string[];
  /** Keys of the mesh-, namespace- and selector-scoped policies that apply, sorted. */
  readonly authorizationPolicies: readonly string[];
  readonly hash: string;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  /** As written: a number, a container port name, or absent (= port). */
  readonly targetPort: number | string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol: AppProtocol;
}

export interface Endpoint {
  readonly workloadUid: string;
  readonly ip: string;
  /** Service port. */
  readonly port: number;
  /** Resolved per endpoint (named target ports may differ between pods). */
  readonly targetPort: number;
  readonly healthy: boolean;
}

export interface Service {
  /** The hostname. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  /** "<name>.<namespace>.svc.<cluster domain>". */
  readonly hostname: string;
  /** Cluster IPs, canonical; empty for headless services. */
  readonly vips: readonly string[];
  readonly headless: boolean;
  readonly ports: readonly ServicePort[];
  /** Sorted by workload uid, then port. */
  readonly endpoints: readonly Endpoint[];
  /** Set when the service's traffic goes through a waypoint. */
  readonly waypoint?: WaypointBinding;
  readonly labels: Labels;
  readonly selector?: Labels;
  /** Keys of the policies whose targetRefs name this Service, sorted. */
  readonly authorizationPolicies: readonly string[];
  readonly hash: string;
}

export type WaypointTrafficType = 'service' | 'workload' | 'all' | 'none';

export interface Waypoint {
  /** "namespace/name" of the Gateway. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  /** From the Gateway label `weft.dev/waypoint-for`; default "service". */
  readonly trafficType: WaypointTrafficType;
  readonly listeners: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
  /** Hostname of the waypoint's own Service, when found. */
  readonly service?: string;
  /** Gateway addresses and the service VIPs, canonical and sorted. */
  readonly addresses: readonly string[];
  /** Uids of the pods running the waypoint, sorted. */
  readonly workloads: readonly string[];
  /** Keys of the policies whose targetRefs name this Gateway, sorted. */
  readonly authorizationPolicies: readonly string[];
  readonly hash: string;
}

export interface NamespaceInfo {
  readonly key: string;
  readonly name: string;
  readonly labels: Labels;
  readonly hash: string;
}

export interface PeerAuthenticationPolicy {
  /** "namespace/name". */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly scope: 'mesh' | 'namespace' | 'workload';
  readonly selector?: Labels;
  readonly mode: MtlsModeSetting;
  /** Target (container) port -> mode. Only on workload-scoped policies. */
  readonly portModes: Readonly<Record<string, MtlsModeSetting>>;
  /** For precedence among policies of the same scope: older wins, then name. */
  readonly createdAt?: string;
  readonly hash: string;
}

/** The resolved mTLS mode of one workload. */
export interface WorkloadPeerAuthentication {
  /** The workload uid. */
  readonly key: string;
  readonly mode: MtlsMode;
  /** Ports whose mode differs from `mode`. */
  readonly ports: Readonly<Record<string, MtlsMode>>;
  readonly hash: string;
}

export type LoadBalancerPolicy =
  | { readonly type: 'round-robin' | 'least-request' | 'random' | 'passthrough' }
  | {
      readonly type: 'consistent-hash';
      readonly key:
        | { readonly header: string }
        | { readonly cookie: { readonly name: string; readonly path?: string; readonly ttlMs?: number } }
        | { readonly sourceIp: true }
        | { readonly queryParameter: string };
      readonly minimumRingSize?: number;
    };

export interface ConnectionPoolPolicy {
  readonly tcp?: {
    readonly maxConnections?: number;
    readonly connectTimeoutMs?: number;
    readonly keepalive?: { readonly probes?: number; readonly timeMs?: number; readonly intervalMs?: number };
    readonly maxConnectionDurationMs?: number;
    readonly idleTimeoutMs?: number;
  };
  readonly http?: {
    readonly http1MaxPendingRequests?: number;
    readonly http2MaxRequests?: number;
    readonly maxRequestsPerConnection?: number;
    readonly maxRetries?: number;
    readonly idleTimeoutMs?: number;
    readonly h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    readonly useClientProtocol?: boolean;
    readonly maxConcurrentStreams?: number;
  };
}

export interface OutlierDetectionPolicy {
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly consecutiveLocalOriginFailures?: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly minHealthPercent: number;
}

export interface BackendTlsPolicy {
  /** ISTIO_MUTUAL = the mesh's own mTLS (HBONE / SPIFFE certificates). */
  readonly mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  readonly sni?: string;
  readonly subjectAltNames?: readonly string[];
  readonly credentialName?: string;
  readonly insecureSkipVerify?: boolean;
}

export interface TrafficPolicy {
  readonly loadBalancer?: LoadBalancerPolicy;
  readonly connectionPool?: ConnectionPoolPolicy;
  readonly outlierDetection?: OutlierDetectionPolicy;
  readonly tls?: BackendTlsPolicy;
}

export interface BackendSubset {
  readonly name: string;
  readonly labels: Labels;
  /** The subset's own policy merged over the host policy (per field group). */
  readonly trafficPolicy: TrafficPolicy;
  /** Uids of the service's endpoints that carry the subset labels, sorted. */
  readonly workloads: readonly string[];
}

/** Client-side policy for one service host, from a DestinationRule. */
export interface BackendPolicy {
  /** The service hostname. */
  readonly key: string;
  readonly host: string;
  /** The DestinationRule this came from. */
  readonly source: { readonly namespace: string; readonly name: string };
  readonly trafficPolicy: TrafficPolicy;
  /** Service port -> policy for that port (port-level settings merged over the host policy). */
  readonly ports: Readonly<Record<string, TrafficPolicy>>;
  readonly subsets: readonly BackendSubset[];
  readonly hash: string;
}

export interface MeshSnapshot {
  /** Hash over every resource key and hash: equal versions mean equal snapshots. */
  readonly version: string;
  readonly trustDomain: string;
  readonly rootNamespace: string;
  readonly clusterDomain: string;
  readonly namespaces: Readonly<Record<string, NamespaceInfo>>;
  /** By pod uid. */
  readonly workloads: Readonly<Record<string, Workload>>;
  /** By hostname. */
  readonly services: Readonly<Record<string, Service>>;
  /** By "namespace/name" of the Gateway. */
  readonly waypoints: Readonly<Record<string, Waypoint>>;
  /** By "namespace/name". */
  readonly authorizationPolicies: Readonly<Record<string, AuthzPolicy>>;
  /** By "namespace/name". */
  readonly peerAuthenticationPolicies: Readonly<Record<string, PeerAuthenticationPolicy>>;
  /** By workload uid. */
  readonly peerAuthentication: Readonly<Record<string, WorkloadPeerAuthentication>>;
  /** By "hostname:port". */
  readonly routes: Readonly<Record<string, RouteTable>>;
  /** By hostname. */
  readonly backendPolicies: Readonly<Record<string, BackendPolicy>>;
}

/** The keyed collections of a snapshot, in the order a push should apply them. */
export const SNAPSHOT_COLLECTIONS = [
  'namespaces',
  'authorizationPolicies',
  'peerAuthenticationPolicies',
  'backendPolicies',
  'waypoints',
  'services',
  'workloads',
  'peerAuthentication',
  'routes',
] as const satisfies readonly (keyof MeshSnapshot)[];

export type SnapshotCollection = (typeof SNAPSHOT_COLLECTIONS)[number];

export interface CollectionDelta {
  /** Keys new in `next` or whose hash changed, sorted. */
  readonly upserted: readonly string[];
  /** Keys present in `prev` but not in `next`, sorted. */
  readonly removed: readonly string[];
}

/** What changed between two snapshots, per collection (by resource hash). */
export function diffSnapshots(
  prev: MeshSnapshot | undefined,
  next: MeshSnapshot,
): Readonly<Record<SnapshotCollection, CollectionDelta>> {
  const out = {} as Record<SnapshotCollection, CollectionDelta>;
  for (const name of SNAPSHOT_COLLECTIONS) {
    const before = (prev?.[name] ?? {}) as Readonly<Record<string, { readonly hash: string }>>;
    const after = next[name] as Readonly<Record<string, { readonly hash: string }>>;
    const upserted = Object.keys(after)
      .filter((k) => before[k]?.hash !== after[k]?.hash)
      .sort();
    const removed = Object.keys(before)
      .filter((k) => !(k in after))
      .sort();
    out[name] = { upserted, removed };
  }
  return out;
}
