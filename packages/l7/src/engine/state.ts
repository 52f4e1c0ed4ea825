// One state store, one writer: the engine's config lives here and changes only through
// applyUpdate(store, batch). The xDS client and the static loader both write through it; the
// admin endpoint serialises it. A request captures the state object when it arrives, so it sees
// one consistent version from start to end.
import {
  type AuthzPolicy,
  type BackendPolicy,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_ROOT_NAMESPACE,
  DEFAULT_TRUST_DOMAIN,
  type MeshSnapshot,
  normalizeIp,
  policiesFor,
  type RouteTable,
  type Service,
  type ServicePort,
  type Waypoint,
  type Workload,
} from '@weft/policy';

/** Where a connection was sent, resolved against the config. */
export type Target =
  | {
      readonly kind: 'service';
      /** "hostname:port". */
      readonly key: string;
      readonly service: Service;
      readonly port: ServicePort;
      /** The route table of this service port, if any. */
      readonly routes: RouteTable | undefined;
      readonly policies: readonly AuthzPolicy[];
    }
  | {
      readonly kind: 'workload';
      readonly key: string;
      readonly workload: Workload;
      readonly port: number;
      readonly policies: readonly AuthzPolicy[];
    }
  | { readonly kind: 'unknown'; readonly key: string; readonly ip: string; readonly port: number };

/** The collections the engine keeps (a subset of MeshSnapshot, keyed the same way). */
export const STATE_COLLECTIONS = [
  'namespaces',
  'workloads',
  'services',
  'waypoints',
  'authorizationPolicies',
  'routes',
  'backendPolicies',
] as const;
export type StateCollection = (typeof STATE_COLLECTIONS)[number];

type CollectionValue = {
  namespaces: MeshSnapshot['namespaces'][string];
  workloads: Workload;
  services: Service;
  waypoints: Waypoint;
  authorizationPolicies: AuthzPolicy;
  routes: RouteTable;
  backendPolicies: BackendPolicy;
};

/** A change to some collections: upserted values (by their `key`) and removed keys. */
export type StateBatch = {
  /** Replace everything (a full sync): collections not named become empty. */
  readonly replace?: boolean;
  /** Source version (xDS system version, snapshot version), shown in the config dump. */
  readonly version?: string;
} & {
  readonly [C in StateCollection]?: {
    readonly upserted?: readonly CollectionValue[C][];
    readonly removed?: readonly string[];
  };
};

export interface EngineState {
  /** Increments with every applied batch. */
  readonly generation: number;
  /** The source's version string. */
  readonly version: string;
  /** The config as a snapshot-shaped value (what @weft/policy's evaluators read). */
  readonly snapshot: MeshSnapshot;
  /** The waypoint this engine serves ("namespace/name"), if it is one. */
  readonly waypoint: string | undefined;
  /** Resolves a destination address (service VIP or workload IP) and port. */
  target(ip: string, port: number): Target;
  /** A service by hostname (route backends). */
  service(hostname: string): Service | undefined;
  workload(uid: string): Workload | undefined;
  /** The workload owning an address (source labels for metrics). */
  workloadByIp(ip: string): Workload | undefined;
  backendPolicy(hostname: string): BackendPolicy | undefined;
}

export interface StateStore {
  current(): EngineState;
  /** Called after each applied batch with the new state. Returns unsubscribe. */
  subscribe(listener: (state: EngineState) => void): () => void;
  /** Set once a first batch was applied (readiness). */
  readonly synced: boolean;
}

export interface StateStoreOptions {
  /** The waypoint key "namespace/name" whose targetRef'd policies apply. */
  readonly waypoint?: string;
  readonly trustDomain?: string;
}

/** Why a value in a batch was refused (it is skipped; the rest applies). */
export interface RejectedValue {
  readonly collection: StateCollection;
  readonly key: string;
  readonly reason: string;
}

export interface ApplyResult {
  readonly generation: number;
  readonly rejected: readonly RejectedValue[];
}

interface InternalStore extends StateStore {
  state: EngineState;
  synced: boolean;
  readonly listeners: Set<(state: EngineState) => void>;
  readonly options: StateStoreOptions;
}

const EMPTY: MeshSnapshot = Object.freeze({
  version: '',
  trustDomain: DEFAULT_TRUST_DOMAIN,
  rootNamespace: DEFAULT_ROOT_NAMESPACE,
  clusterDomain: DEFAULT_CLUSTER_DOMAIN,
  namespaces: {},
  workloads: {},
  services: {},
  waypoints: {},
  authorizationPolicies: {},
  peerAuthenticationPolicies: {},
  peerAuthentication: {},
  routes: {},
  backendPolicies: {},
});

export function createStateStore(options: StateStoreOptions = {}): StateStore {
  const store: InternalStore = {
    state: buildState(0, '', { ...EMPTY, trustDomain: options.trustDomain ?? DEFAULT_TRUST_DOMAIN }, options),
    synced: false,
    listeners: new Set(),
    options,
    current() {
      return store.state;
    },
    subscribe(listener) {
      store.listeners.add(listener);
      return () => store.listeners.delete(listener);
    },
  };
  return store;
}

/** The one writer: applies a batch, returns what was refused. Listeners run after the swap. */
export function applyUpdate(store: StateStore, batch: StateBatch): ApplyResult {
  const s = store as InternalStore;
  const prev = s.state.snapshot;
  const rejected: RejectedValue[] = [];
  const next: Record<string, unknown> = { ...prev };
  for (const c of STATE_COLLECTIONS) {
    const change = batch[c];
    if (change === undefined && !batch.replace) continue;
    const coll: Record<string, unknown> = batch.replace ? {} : { ...(prev[c] as Record<string, unknown>) };
    for (const key of change?.removed ?? []) delete coll[key];
    for (const value of (change?.upserted ?? []) as readonly { readonly key?: unknown }[]) {
      const key = value?.key;
      if (typeof key !== 'string' || key === '') {
        rejected.push({ collection: c, key: String(key), reason: 'missing key' });
        continue;
      }
      coll[key] = value;
    }
    next[c] = coll;
  }
  const version = batch.version ?? s.state.version;
  next.version = version;
  s.state = buildState(s.state.generation + 1, version, next as unknown as MeshSnapshot, s.options);
  s.synced = true;
  for (const l of [...s.listeners]) {
    try {
      l(s.state);
    } catch {
      // A listener's failure must not stop the others.
    }
  }
  return { generation: s.state.generation, rejected };
}

/** A batch replacing everything with a compiled snapshot's collections. */
export function batchFromSnapshot(snapshot: MeshSnapshot): StateBatch {
  const batch: Record<string, unknown> = { replace: true, version: snapshot.version };
  for (const c of STATE_COLLECTIONS) batch[c] = { upserted: Object.values(snapshot[c]) };
  return batch as StateBatch;
}

function buildState(
  generation: number,
  version: string,
  snapshot: MeshSnapshot,
  options: StateStoreOptions,
): EngineState {
  // Indexes are built lazily, once per state, on first use.
  let byVip: Map<string, Service> | undefined;
  let byIp: Map<string, Workload> | undefined;
  const targets = new Map<string, Target>();

  const vipIndex = () => {
    if (byVip === undefined) {
      byVip = new Map();
      for (const svc of Object.values(snapshot.services)) for (const vip of svc.vips) byVip.set(vip, svc);
    }
    return byVip;
  };
  const ipIndex = () => {
    if (byIp === undefined) {
      byIp = new Map();
      for (const w of Object.values(snapshot.workloads)) for (const ip of w.ips) byIp.set(ip, w);
    }
    return byIp;
  };
  const waypoint = options.waypoint;

  const selfPolicies = (): AuthzPolicy[] => {
    // Policies naming this waypoint's Gateway, even when no Waypoint resource arrived (xDS).
    if (waypoint === undefined) return [];
    const [ns, name] = waypoint.split('/');
    return Object.values(snapshot.authorizationPolicies).filter(
      (p) =>
        p.scope === 'targets' &&
        (p.targets ?? []).some((t) => t.kind === 'Gateway' && t.namespace === ns && t.name === name),
    );
  };
  const merge = (a: readonly AuthzPolicy[], b: readonly AuthzPolicy[]): AuthzPolicy[] => {
    const m = new Map<string, AuthzPolicy>();
    for (const p of a) m.set(p.key, p);
    for (const p of b) m.set(p.key, p);
    return [...m.values()].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  };

  const resolve = (ip: string, port: number, key: string): Target => {
    const canonical = normalizeIp(ip) ?? ip;
    const svc = vipIndex().get(canonical);
    if (svc !== undefined) {
      const sp = svc.ports.find((p) => p.port === port);
      if (sp !== undefined) {
        const policies = merge(
          policiesFor(snapshot, { service: svc.hostname, ...(waypoint !== undefined ? { waypoint } : {}) }),
          selfPolicies(),
        );
        return {
          kind: 'service',
          key: `${svc.hostname}:${port}`,
          service: svc,
          port: sp,
          routes: snapshot.routes[`${svc.hostname}:${port}`],
          policies,
        };
      }
    }
    const w = ipIndex().get(canonical);
    if (w !== undefined) {
      const policies = merge(
        policiesFor(snapshot, { workload: w.uid, ...(waypoint !== undefined ? { waypoint } : {}) }),
        selfPolicies(),
      );
      return { kind: 'workload', key, workload: w, port, policies };
    }
    return { kind: 'unknown', key, ip: canonical, port };
  };

  return {
    generation,
    version,
    snapshot,
    waypoint,
    target(ip, port) {
      const key = `${ip}:${port}`;
      let t = targets.get(key);
      if (t === undefined) {
        t = resolve(ip, port, key);
        if (targets.size > 65_536) targets.clear();
        targets.set(key, t);
      }
      return t;
    },
    service: (hostname) => snapshot.services[hostname],
    workload: (uid) => snapshot.workloads[uid],
    workloadByIp: (ip) => ipIndex().get(normalizeIp(ip) ?? ip),
    backendPolicy: (hostname) => snapshot.backendPolicies[hostname],
  };
}

/** The config as JSON-friendly data (admin config dump). */
export function dumpState(state: EngineState): Record<string, unknown> {
  const s = state.snapshot;
  return {
    generation: state.generation,
    version: state.version,
    waypoint: state.waypoint ?? null,
    namespaces: s.namespaces,
    workloads: s.workloads,
    services: s.services,
    waypoints: s.waypoints,
    authorizationPolicies: s.authorizationPolicies,
    routes: s.routes,
    backendPolicies: s.backendPolicies,
  };
}
