// The proxy's one state store (STYLE.md point 3). Config sources (xDS, the static file loader)
// turn their input into policy-domain objects and hand them to `applyUpdate`, the only writer.
// Each write produces a new immutable `ProxyState` with its indexes; readers (the proxy paths,
// the admin endpoint) take `store.state` and keep using the value they read, so a connection
// decided against one generation never sees a half-applied batch.
import {
  type AuthzPolicy,
  type BackendPolicy,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_ROOT_NAMESPACE,
  DEFAULT_TRUST_DOMAIN,
  type MeshSnapshot,
  type MtlsMode,
  type NamespaceInfo,
  normalizeIp,
  type PeerAuthenticationPolicy,
  parseWorkloadId,
  policiesFor,
  type RouteTable,
  resolvePeerAuthentication,
  type Service,
  type ServicePort,
  type Waypoint,
  type Workload,
  type WorkloadPeerAuthentication,
} from '@weft/policy/runtime';

/** Upserts (whole objects) and removals (by key) for one collection. */
export interface CollectionChange<T> {
  readonly upserts?: readonly T[];
  readonly removals?: readonly string[];
}

/** One unit of change from one config source. */
export interface StateBatch {
  /** Who wrote it: `xds`, `file`, ... (shown in /config_dump). */
  readonly source: string;
  /** The source's version label, if it has one. */
  readonly version?: string;
  /** Replace the whole state with the upserts (file loads); removals are ignored then. */
  readonly replace?: boolean;
  /** The source has delivered its first complete view (readiness). */
  readonly synced?: boolean;
  /** By `uid`. */
  readonly workloads?: CollectionChange<Workload>;
  /** By hostname. */
  readonly services?: CollectionChange<Service>;
  /** By "namespace/name". */
  readonly authorizationPolicies?: CollectionChange<AuthzPolicy>;
  /** Resolved mTLS mode per workload, by workload uid. */
  readonly peerAuthentication?: CollectionChange<WorkloadPeerAuthentication>;
  /** The PeerAuthentication policies themselves (used for workloads without a resolved entry). */
  readonly peerAuthenticationPolicies?: CollectionChange<PeerAuthenticationPolicy>;
  /** By name (L7 proxies: workload and namespace facts for telemetry). */
  readonly namespaces?: CollectionChange<NamespaceInfo>;
  /** Waypoint resources, by "namespace/name" of their Gateway (xDS weft.v1.Waypoint, file loads). */
  readonly waypoints?: CollectionChange<Waypoint>;
  /** Compiled L7 route tables, by "hostname:port". */
  readonly routes?: CollectionChange<RouteTable>;
  /** DestinationRule traffic policies, by hostname. */
  readonly backendPolicies?: CollectionChange<BackendPolicy>;
}

/** Every collection of the store, in the order a batch applies them. */
export const STATE_COLLECTIONS = [
  'namespaces',
  'workloads',
  'services',
  'waypoints',
  'authorizationPolicies',
  'peerAuthentication',
  'peerAuthenticationPolicies',
  'routes',
  'backendPolicies',
] as const;
export type StateCollection = (typeof STATE_COLLECTIONS)[number];

/** An object `applyUpdate` refused, with the field at fault. */
export interface RejectedObject {
  readonly source: string;
  readonly collection: StateCollection;
  readonly key: string;
  readonly field: string;
  readonly message: string;
}

export interface ApplyResult {
  readonly generation: number;
  readonly applied: number;
  readonly removed: number;
  readonly rejected: readonly RejectedObject[];
}

export interface ServiceAddressMatch {
  readonly service: Service;
  readonly port: ServicePort;
}

/** An immutable view of the config with its indexes. */
export interface ProxyState {
  /** Increases by one with every applied batch. */
  readonly generation: number;
  readonly trustDomain: string;
  readonly rootNamespace: string;
  /** True once any source reported a complete first view. */
  readonly synced: boolean;
  /** The version label of the last batch that had one. */
  readonly version: string;
  /** Source name -> its last version and when it last wrote (ms since epoch). */
  readonly sources: ReadonlyMap<
    string,
    { readonly version: string; readonly updatedAt: number; readonly synced: boolean }
  >;
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
  readonly workloads: ReadonlyMap<string, Workload>;
  readonly services: ReadonlyMap<string, Service>;
  readonly waypoints: ReadonlyMap<string, Waypoint>;
  readonly authorizationPolicies: ReadonlyMap<string, AuthzPolicy>;
  readonly peerAuthentication: ReadonlyMap<string, WorkloadPeerAuthentication>;
  readonly peerAuthenticationPolicies: ReadonlyMap<string, PeerAuthenticationPolicy>;
  readonly routes: ReadonlyMap<string, RouteTable>;
  readonly backendPolicies: ReadonlyMap<string, BackendPolicy>;
  /**
   * This generation as a `MeshSnapshot` (built once, on first use): what `@weft/policy`'s
   * evaluators and `policiesFor` read.
   */
  snapshot(): MeshSnapshot;
  workloadByIp(ip: string): Workload | undefined;
  workloadByUid(uid: string): Workload | undefined;
  /** The service with `ip` as a VIP and `port` as a service port. */
  serviceByAddress(ip: string, port: number): ServiceAddressMatch | undefined;
  /** Whether `ip` is some service's VIP (on any port). */
  isServiceVip(ip: string): boolean;
  serviceByHostname(hostname: string): Service | undefined;
  /**
   * The service whose endpoints include workload `uid` on target port `targetPort` (what a
   * connection that reached the workload on that port was addressed to); the first by hostname
   * when several services select it on that port.
   */
  serviceForEndpoint(uid: string, targetPort: number): Service | undefined;
  /** The mesh-, namespace- and selector-scoped ALLOW/DENY/AUDIT policies of a workload, by key. */
  policiesForWorkload(uid: string): readonly AuthzPolicy[];
  /** The effective mTLS mode for traffic to `port` (target port) of the workload. */
  peerAuthenticationMode(workload: Workload, port: number): MtlsMode;
  /** Workloads scheduled on `node`, by uid. */
  workloadsOnNode(node: string): readonly Workload[];
}

export interface StateStoreOptions {
  readonly trustDomain?: string;
  readonly rootNamespace?: string;
  /** Wall clock for `sources[].updatedAt`. */
  readonly now?: () => number;
  /** How many rejected objects /config_dump keeps. Default 50. */
  readonly keepRejected?: number;
}

export type StateListener = (state: ProxyState, previous: ProxyState) => void;

export interface StateStore {
  readonly state: ProxyState;
  /** Called after each applied batch; a throwing listener is ignored. */
  subscribe(listener: StateListener): () => void;
  /** Recent rejected objects, newest last. */
  readonly rejected: readonly RejectedObject[];
  /** Total objects ever rejected, per collection. */
  readonly rejectedTotal: Readonly<Record<StateCollection, number>>;
}

interface StoreInternals {
  state: ProxyState;
  readonly listeners: Set<StateListener>;
  readonly rejected: RejectedObject[];
  readonly rejectedTotal: Record<StateCollection, number>;
  readonly options: Required<Pick<StateStoreOptions, 'now' | 'keepRejected'>>;
}

// Only applyUpdate (this module) reaches a store's writable internals.
const internals = new WeakMap<StateStore, StoreInternals>();

interface StateData {
  readonly generation: number;
  readonly trustDomain: string;
  readonly rootNamespace: string;
  readonly synced: boolean;
  readonly version: string;
  readonly sources: ReadonlyMap<string, { version: string; updatedAt: number; synced: boolean }>;
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
  readonly workloads: ReadonlyMap<string, Workload>;
  readonly services: ReadonlyMap<string, Service>;
  readonly waypoints: ReadonlyMap<string, Waypoint>;
  readonly authorizationPolicies: ReadonlyMap<string, AuthzPolicy>;
  readonly peerAuthentication: ReadonlyMap<string, WorkloadPeerAuthentication>;
  readonly peerAuthenticationPolicies: ReadonlyMap<string, PeerAuthenticationPolicy>;
  readonly routes: ReadonlyMap<string, RouteTable>;
  readonly backendPolicies: ReadonlyMap<string, BackendPolicy>;
}

function vipKey(ip: string, port: number): string {
  return `${ip}|${port}`;
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Builds the indexes of one generation. Collections are sorted by key so output is stable. */
function buildState(data: StateData): ProxyState {
  const byIp = new Map<string, Workload>();
  const byNode = new Map<string, Workload[]>();
  for (const w of data.workloads.values()) {
    for (const raw of w.ips) {
      const ip = normalizeIp(raw);
      // Two workloads with one address (host network): the first by uid keeps it.
      if (ip !== undefined && !byIp.has(ip)) byIp.set(ip, w);
    }
    if (w.node !== undefined) {
      const list = byNode.get(w.node) ?? [];
      list.push(w);
      byNode.set(w.node, list);
    }
  }
  const byVipPort = new Map<string, ServiceAddressMatch>();
  const vips = new Set<string>();
  for (const s of data.services.values()) {
    for (const raw of s.vips) {
      const ip = normalizeIp(raw);
      if (ip === undefined) continue;
      vips.add(ip);
      for (const port of s.ports) {
        const k = vipKey(ip, port.port);
        if (!byVipPort.has(k)) byVipPort.set(k, { service: s, port });
      }
    }
  }
  const byEndpoint = new Map<string, Service>();
  const byHostname = [...data.services.values()].sort((a, b) =>
    a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0,
  );
  for (const s of byHostname) {
    for (const e of s.endpoints) {
      const k = `${e.workloadUid}|${e.targetPort}`;
      if (!byEndpoint.has(k)) byEndpoint.set(k, s);
    }
  }
  const policyCache = new Map<string, readonly AuthzPolicy[]>();
  // Selection is compile's (each workload lists its mesh-, namespace- and selector-scoped
  // policies; weftd sends that list with the workload): read through @weft/policy, never redone.
  // targetRefs policies belong to waypoints and never apply at L4 here.
  const policiesForWorkload = (uid: string): readonly AuthzPolicy[] => {
    let out = policyCache.get(uid);
    if (out === undefined) {
      out = data.workloads.has(uid)
        ? policiesFor(state.snapshot(), { workload: uid }).filter((p) => p.scope !== 'targets')
        : [];
      policyCache.set(uid, out);
    }
    return out;
  };

  const paSet = {
    rootNamespace: data.rootNamespace,
    policies: [...data.peerAuthenticationPolicies.values()],
  };

  let snapshot: MeshSnapshot | undefined;
  const record = <T>(m: ReadonlyMap<string, T>): Record<string, T> => Object.fromEntries(m);

  const state: ProxyState = {
    ...data,
    snapshot: () => {
      snapshot ??= {
        version: data.version,
        trustDomain: data.trustDomain,
        rootNamespace: data.rootNamespace,
        clusterDomain: DEFAULT_CLUSTER_DOMAIN,
        namespaces: record(data.namespaces),
        workloads: record(data.workloads),
        services: record(data.services),
        waypoints: record(data.waypoints),
        authorizationPolicies: record(data.authorizationPolicies),
        peerAuthenticationPolicies: record(data.peerAuthenticationPolicies),
        peerAuthentication: record(data.peerAuthentication),
        routes: record(data.routes),
        backendPolicies: record(data.backendPolicies),
      };
      return snapshot;
    },
    workloadByIp: (ip) => {
      const n = normalizeIp(ip);
      return n === undefined ? undefined : byIp.get(n);
    },
    workloadByUid: (uid) => data.workloads.get(uid),
    serviceByAddress: (ip, port) => {
      const n = normalizeIp(ip);
      return n === undefined ? undefined : byVipPort.get(vipKey(n, port));
    },
    isServiceVip: (ip) => {
      const n = normalizeIp(ip);
      return n !== undefined && vips.has(n);
    },
    serviceByHostname: (hostname) => data.services.get(hostname.toLowerCase().replace(/\.$/, '')),
    serviceForEndpoint: (uid, targetPort) => byEndpoint.get(`${uid}|${targetPort}`),
    policiesForWorkload,
    peerAuthenticationMode: (workload, port) => {
      const pre = data.peerAuthentication.get(workload.uid);
      if (pre !== undefined) return pre.ports[String(port)] ?? pre.mode;
      return resolvePeerAuthentication(
        paSet,
        { namespace: workload.namespace, labels: workload.labels },
        port,
      );
    },
    workloadsOnNode: (node) => byNode.get(node) ?? [],
  };
  return state;
}

export function createStateStore(options: StateStoreOptions = {}): StateStore {
  const state = buildState({
    generation: 0,
    trustDomain: options.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    rootNamespace: options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE,
    synced: false,
    version: '',
    sources: new Map(),
    namespaces: new Map(),
    workloads: new Map(),
    services: new Map(),
    waypoints: new Map(),
    authorizationPolicies: new Map(),
    peerAuthentication: new Map(),
    peerAuthenticationPolicies: new Map(),
    routes: new Map(),
    backendPolicies: new Map(),
  });
  const inner: StoreInternals = {
    state,
    listeners: new Set(),
    rejected: [],
    rejectedTotal: Object.fromEntries(STATE_COLLECTIONS.map((c) => [c, 0])) as Record<
      StateCollection,
      number
    >,
    options: { now: options.now ?? Date.now, keepRejected: options.keepRejected ?? 50 },
  };
  const store: StateStore = {
    get state() {
      return inner.state;
    },
    subscribe(listener) {
      inner.listeners.add(listener);
      return () => {
        inner.listeners.delete(listener);
      };
    },
    get rejected() {
      return inner.rejected;
    },
    get rejectedTotal() {
      return inner.rejectedTotal;
    },
  };
  internals.set(store, inner);
  return store;
}

// ---- validation: the store checks what the proxy relies on; everything else is the source's job.

type Check<T> = (value: T) => { field: string; message: string } | undefined;

function validPort(p: unknown): boolean {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

const checkWorkload: Check<Workload> = (w) => {
  if (typeof w.uid !== 'string' || w.uid === '') return { field: 'uid', message: 'empty' };
  if (typeof w.namespace !== 'string' || w.namespace === '') return { field: 'namespace', message: 'empty' };
  if (!Array.isArray(w.ips)) return { field: 'ips', message: 'not a list' };
  for (const [i, ip] of w.ips.entries()) {
    if (typeof ip !== 'string' || normalizeIp(ip) === undefined)
      return { field: `ips[${i}]`, message: `"${String(ip)}" is not an IP address` };
  }
  if (typeof w.identity !== 'string') return { field: 'identity', message: 'not a spiffe:// ID' };
  const identity = parseWorkloadId(w.identity);
  if (!identity.ok) return { field: 'identity', message: identity.message };
  if (!['ambient', 'sidecar', 'proxyless', 'none'].includes(w.mode))
    return { field: 'mode', message: `unknown mode "${String(w.mode)}"` };
  if (typeof w.labels !== 'object' || w.labels === null) return { field: 'labels', message: 'not a map' };
  for (const [i, p] of (w.ports ?? []).entries()) {
    if (!validPort(p.port)) return { field: `ports[${i}].port`, message: `${String(p.port)} out of range` };
  }
  return undefined;
};

const checkService: Check<Service> = (s) => {
  if (typeof s.hostname !== 'string' || s.hostname === '') return { field: 'hostname', message: 'empty' };
  for (const [i, ip] of s.vips.entries()) {
    if (normalizeIp(ip) === undefined)
      return { field: `vips[${i}]`, message: `"${ip}" is not an IP address` };
  }
  for (const [i, p] of s.ports.entries()) {
    if (!validPort(p.port)) return { field: `ports[${i}].port`, message: `${String(p.port)} out of range` };
  }
  for (const [i, e] of s.endpoints.entries()) {
    if (normalizeIp(e.ip) === undefined)
      return { field: `endpoints[${i}].ip`, message: `"${e.ip}" is not an IP address` };
    if (!validPort(e.targetPort))
      return { field: `endpoints[${i}].targetPort`, message: `${String(e.targetPort)} out of range` };
  }
  return undefined;
};

const checkPolicy: Check<AuthzPolicy> = (p) => {
  if (typeof p.key !== 'string' || p.key === '') return { field: 'key', message: 'empty' };
  if (!['ALLOW', 'DENY', 'AUDIT'].includes(p.action))
    return { field: 'action', message: `unsupported action "${String(p.action)}"` };
  if (!Array.isArray(p.rules)) return { field: 'rules', message: 'not a list' };
  return undefined;
};

const checkPeerAuthn: Check<WorkloadPeerAuthentication> = (p) => {
  if (typeof p.key !== 'string' || p.key === '') return { field: 'key', message: 'empty' };
  if (!['STRICT', 'PERMISSIVE', 'DISABLE'].includes(p.mode))
    return { field: 'mode', message: `unknown mode "${String(p.mode)}"` };
  return undefined;
};

const checkPeerAuthnPolicy: Check<PeerAuthenticationPolicy> = (p) => {
  if (typeof p.key !== 'string' || p.key === '') return { field: 'key', message: 'empty' };
  return undefined;
};

/** Collections the store keeps for L7 proxies: a value needs its key, the rest is the source's job. */
const checkKeyed: Check<{ readonly key: string }> = (v) =>
  typeof v.key !== 'string' || v.key === '' ? { field: 'key', message: 'empty' } : undefined;

interface CollectionSpec<T> {
  readonly name: StateCollection;
  readonly key: (value: T) => string;
  readonly check: Check<T>;
}

const SPECS = {
  workloads: { name: 'workloads', key: (w: Workload) => w.uid, check: checkWorkload },
  services: { name: 'services', key: (s: Service) => s.hostname, check: checkService },
  authorizationPolicies: {
    name: 'authorizationPolicies',
    key: (p: AuthzPolicy) => p.key,
    check: checkPolicy,
  },
  peerAuthentication: {
    name: 'peerAuthentication',
    key: (p: WorkloadPeerAuthentication) => p.key,
    check: checkPeerAuthn,
  },
  peerAuthenticationPolicies: {
    name: 'peerAuthenticationPolicies',
    key: (p: PeerAuthenticationPolicy) => p.key,
    check: checkPeerAuthnPolicy,
  },
  namespaces: { name: 'namespaces', key: (n: NamespaceInfo) => n.key, check: checkKeyed },
  waypoints: { name: 'waypoints', key: (w: Waypoint) => w.key, check: checkKeyed },
  routes: { name: 'routes', key: (r: RouteTable) => r.key, check: checkKeyed },
  backendPolicies: { name: 'backendPolicies', key: (b: BackendPolicy) => b.key, check: checkKeyed },
} as const;

function keyOf<T>(spec: CollectionSpec<T>, value: T): string {
  try {
    const k = spec.key(value);
    return typeof k === 'string' ? k : '';
  } catch {
    return '';
  }
}

/**
 * The one write path into a store: validates each object alone (a bad one is rejected and
 * counted, the rest apply), builds the next generation and notifies subscribers.
 */
export function applyUpdate(store: StateStore, batch: StateBatch): ApplyResult {
  const inner = internals.get(store);
  if (inner === undefined) throw new TypeError('applyUpdate: not a store made by createStateStore');
  const prev = inner.state;
  const rejected: RejectedObject[] = [];
  let applied = 0;
  let removed = 0;

  const next = <T>(
    spec: CollectionSpec<T>,
    current: ReadonlyMap<string, T>,
    change: CollectionChange<T> | undefined,
  ) => {
    if (change === undefined) return batch.replace ? new Map<string, T>() : current;
    const out = batch.replace ? new Map<string, T>() : new Map(current);
    if (!batch.replace) {
      for (const key of change.removals ?? []) if (out.delete(key)) removed++;
    }
    for (const value of change.upserts ?? []) {
      let problem: { field: string; message: string } | undefined;
      try {
        problem =
          typeof value !== 'object' || value === null
            ? { field: '', message: 'not an object' }
            : spec.check(value);
      } catch (err) {
        problem = { field: '', message: err instanceof Error ? err.message : String(err) };
      }
      const key = keyOf(spec, value);
      if (problem !== undefined) {
        rejected.push({ source: batch.source, collection: spec.name, key, ...problem });
        continue;
      }
      out.set(key, value);
      applied++;
    }
    return new Map([...out.entries()].sort(byKey));
  };

  const sources = new Map(prev.sources);
  const before = sources.get(batch.source);
  const sourceSynced = (before?.synced ?? false) || batch.synced === true;
  sources.set(batch.source, {
    version: batch.version ?? before?.version ?? '',
    updatedAt: inner.options.now(),
    synced: sourceSynced,
  });

  const state = buildState({
    generation: prev.generation + 1,
    trustDomain: prev.trustDomain,
    rootNamespace: prev.rootNamespace,
    synced: prev.synced || sourceSynced,
    version: batch.version ?? prev.version,
    sources,
    // In STATE_COLLECTIONS order, so refusals are reported in that order.
    namespaces: next(SPECS.namespaces, prev.namespaces, batch.namespaces),
    workloads: next(SPECS.workloads, prev.workloads, batch.workloads),
    services: next(SPECS.services, prev.services, batch.services),
    waypoints: next(SPECS.waypoints, prev.waypoints, batch.waypoints),
    authorizationPolicies: next(
      SPECS.authorizationPolicies,
      prev.authorizationPolicies,
      batch.authorizationPolicies,
    ),
    peerAuthentication: next(SPECS.peerAuthentication, prev.peerAuthentication, batch.peerAuthentication),
    peerAuthenticationPolicies: next(
      SPECS.peerAuthenticationPolicies,
      prev.peerAuthenticationPolicies,
      batch.peerAuthenticationPolicies,
    ),
    routes: next(SPECS.routes, prev.routes, batch.routes),
    backendPolicies: next(SPECS.backendPolicies, prev.backendPolicies, batch.backendPolicies),
  });
  inner.state = state;
  for (const r of rejected) {
    inner.rejectedTotal[r.collection]++;
    inner.rejected.push(r);
  }
  if (inner.rejected.length > inner.options.keepRejected)
    inner.rejected.splice(0, inner.rejected.length - inner.options.keepRejected);
  for (const l of [...inner.listeners]) {
    try {
      l(state, prev);
    } catch {
      // A subscriber's failure must not stop the others or the writer.
    }
  }
  return { generation: state.generation, applied, removed, rejected };
}

/** The store as plain JSON data (what /config_dump serves). */
export function dumpState(store: StateStore): Record<string, unknown> {
  const s = store.state;
  return {
    generation: s.generation,
    synced: s.synced,
    version: s.version,
    trustDomain: s.trustDomain,
    rootNamespace: s.rootNamespace,
    sources: Object.fromEntries(
      [...s.sources].map(([name, v]) => [name, { ...v, updatedAt: new Date(v.updatedAt).toISOString() }]),
    ),
    workloads: [...s.workloads.values()],
    services: [...s.services.values()],
    authorizationPolicies: [...s.authorizationPolicies.values()],
    peerAuthentication: [...s.peerAuthentication.values()],
    peerAuthenticationPolicies: [...s.peerAuthenticationPolicies.values()],
    namespaces: [...s.namespaces.values()],
    waypoints: [...s.waypoints.values()],
    routes: [...s.routes.values()],
    backendPolicies: [...s.backendPolicies.values()],
    rejected: { total: { ...store.rejectedTotal }, recent: [...store.rejected] },
  };
}

/** A batch holding a compiled snapshot's collections (what the file loader and tests write). */
export function batchFromSnapshot(
  snapshot: {
    readonly version?: string;
    readonly workloads: Readonly<Record<string, Workload>>;
    readonly services: Readonly<Record<string, Service>>;
    readonly authorizationPolicies: Readonly<Record<string, AuthzPolicy>>;
    readonly peerAuthentication: Readonly<Record<string, WorkloadPeerAuthentication>>;
    readonly peerAuthenticationPolicies: Readonly<Record<string, PeerAuthenticationPolicy>>;
    readonly namespaces?: Readonly<Record<string, NamespaceInfo>>;
    readonly waypoints?: Readonly<Record<string, Waypoint>>;
    readonly routes?: Readonly<Record<string, RouteTable>>;
    readonly backendPolicies?: Readonly<Record<string, BackendPolicy>>;
  },
  source = 'static',
): StateBatch {
  return {
    source,
    replace: true,
    synced: true,
    ...(snapshot.version !== undefined ? { version: snapshot.version } : {}),
    workloads: { upserts: Object.values(snapshot.workloads) },
    services: { upserts: Object.values(snapshot.services) },
    authorizationPolicies: { upserts: Object.values(snapshot.authorizationPolicies) },
    peerAuthentication: { upserts: Object.values(snapshot.peerAuthentication) },
    peerAuthenticationPolicies: { upserts: Object.values(snapshot.peerAuthenticationPolicies) },
    namespaces: { upserts: Object.values(snapshot.namespaces ?? {}) },
    waypoints: { upserts: Object.values(snapshot.waypoints ?? {}) },
    routes: { upserts: Object.values(snapshot.routes ?? {}) },
    backendPolicies: { upserts: Object.values(snapshot.backendPolicies ?? {}) },
  };
}
