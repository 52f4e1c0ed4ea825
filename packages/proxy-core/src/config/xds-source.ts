// The xDS config source: a delta ADS client (from @weft/xds-protocol) whose per-resource decode
// step converts weft.v1 messages to policy-domain objects (a malformed one is NACKed alone and
// never reaches the store), and whose handler writes each response through `applyUpdate`.
// While weftd is away the client reconnects and the store keeps the last good config.
//
// One source for every proxy kind: the proxy is named by its ADS node id (`formatProxyId`, the
// format weftd parses) and weftd scopes what it sends by it. Subscriptions are wildcard: a
// ztunnel gets every Workload, Service and Waypoint (outbound needs every destination and the
// waypoints they bind to) and the Authorizations of workloads on its node; a waypoint also
// subscribes to HttpRoutes and BackendPolicy and gets what its Gateway serves and its own
// Waypoint.
import { Metadata } from '@grpc/grpc-js';
import type {
  AuthzPolicy,
  BackendPolicy,
  RouteTable,
  Service,
  Waypoint,
  Workload,
  WorkloadPeerAuthentication,
} from '@weft/policy/runtime';
import type { Logger } from '@weft/telemetry';
import {
  type ConnectionState,
  createDeltaAdsClient,
  type DeltaAdsClient,
  type DeltaAdsClientOptions,
  formatProxyId,
  type ProxyId,
  type ResourceTypeConfig,
  type UpdateBatch,
} from '@weft/xds-protocol';
import { applyUpdate, type StateBatch, type StateStore } from '../state/store.ts';

/** A workload as the converter yields it: the workload and its resolved peer authentication. */
export interface XdsWorkload {
  readonly workload: Workload;
  readonly peerAuthentication?: WorkloadPeerAuthentication;
}

/**
 * The delta-client type configs a proxy subscribes to, each decoding bytes straight to domain
 * values (`domainResourceType` of `@weft/xds-protocol/convert`). L7 proxies add the route and
 * backend-policy kinds.
 */
export interface XdsResourceTypes {
  readonly workload: ResourceTypeConfig<XdsWorkload>;
  readonly service: ResourceTypeConfig<Service>;
  /** Waypoint resources, by "namespace/name" of their Gateway. */
  readonly waypoint?: ResourceTypeConfig<Waypoint>;
  readonly authorization: ResourceTypeConfig<AuthzPolicy>;
  readonly httpRoutes?: ResourceTypeConfig<RouteTable>;
  readonly backendPolicy?: ResourceTypeConfig<BackendPolicy>;
}

export interface XdsSourceOptions {
  readonly store: StateStore;
  /** `host:port` of weftd's ADS (plaintext in local mode). */
  readonly target: string;
  /** Who asks: the ADS node id is `formatProxyId(proxy)`, the node cluster its kind. */
  readonly proxy: ProxyId;
  /** Extra node metadata (`NODE_NAME`, `NODE_IP`, `WAYPOINT`, ...); `COMPONENT` is the kind. */
  readonly nodeMetadata?: Readonly<Record<string, string>>;
  readonly types: XdsResourceTypes;
  /** Bearer token sent on every stream. */
  readonly token?: () => string | undefined;
  readonly logger: Logger;
  /** Replaces createDeltaAdsClient (tests). */
  readonly createClient?: (options: DeltaAdsClientOptions) => DeltaAdsClient;
  readonly backoff?: DeltaAdsClientOptions['backoff'];
}

export interface XdsSource {
  readonly client: DeltaAdsClient;
  /** Resolves after the first response of every type was applied. */
  synced(): Promise<void>;
  /** Connection state and per-type status, for /config_dump. */
  status(): Record<string, unknown>;
  close(): void;
}

export const XDS_SOURCE = 'xds';

export function startXdsSource(options: XdsSourceOptions): XdsSource {
  const { store, types, logger } = options;
  // Resource name -> store key, per type (service names are "<namespace>/<hostname>").
  const keys = {
    workload: new Map<string, string>(),
    service: new Map<string, string>(),
    waypoint: new Map<string, string>(),
    authorization: new Map<string, string>(),
    httpRoutes: new Map<string, string>(),
    backendPolicy: new Map<string, string>(),
  };
  let connection: { state: ConnectionState; detail?: string; since: string } = {
    state: 'connecting',
    since: new Date().toISOString(),
  };

  function toBatch(batch: UpdateBatch): StateBatch | undefined {
    const removalsOf = (map: Map<string, string>) =>
      batch.removals.flatMap((name) => {
        const key = map.get(name);
        map.delete(name);
        return key === undefined ? [] : [key];
      });
    const version = batch.systemVersion;
    switch (batch.typeUrl) {
      case types.workload.typeUrl: {
        const values = batch.upserts.map((u) => {
          const v = u.value as XdsWorkload;
          keys.workload.set(u.name, v.workload.uid);
          return v;
        });
        const removals = removalsOf(keys.workload);
        return {
          source: XDS_SOURCE,
          version,
          workloads: { upserts: values.map((v) => v.workload), removals },
          peerAuthentication: {
            upserts: values.flatMap((v) => (v.peerAuthentication ? [v.peerAuthentication] : [])),
            removals,
          },
        };
      }
      case types.service.typeUrl: {
        const upserts = batch.upserts.map((u) => {
          const s = u.value as Service;
          keys.service.set(u.name, s.hostname);
          return s;
        });
        return { source: XDS_SOURCE, version, services: { upserts, removals: removalsOf(keys.service) } };
      }
      case types.authorization.typeUrl: {
        const upserts = batch.upserts.map((u) => {
          const p = u.value as AuthzPolicy;
          keys.authorization.set(u.name, p.key);
          return p;
        });
        return {
          source: XDS_SOURCE,
          version,
          authorizationPolicies: { upserts, removals: removalsOf(keys.authorization) },
        };
      }
      // Absent kinds (a ztunnel does not subscribe to them) never match: typeUrl is a string.
      case types.waypoint?.typeUrl: {
        const upserts = batch.upserts.map((u) => {
          const w = u.value as Waypoint;
          keys.waypoint.set(u.name, w.key);
          return w;
        });
        return { source: XDS_SOURCE, version, waypoints: { upserts, removals: removalsOf(keys.waypoint) } };
      }
      case types.httpRoutes?.typeUrl: {
        const upserts = batch.upserts.map((u) => {
          const r = u.value as RouteTable;
          keys.httpRoutes.set(u.name, r.key);
          return r;
        });
        return { source: XDS_SOURCE, version, routes: { upserts, removals: removalsOf(keys.httpRoutes) } };
      }
      case types.backendPolicy?.typeUrl: {
        const upserts = batch.upserts.map((u) => {
          const b = u.value as BackendPolicy;
          keys.backendPolicy.set(u.name, b.key);
          return b;
        });
        return {
          source: XDS_SOURCE,
          version,
          backendPolicies: { upserts, removals: removalsOf(keys.backendPolicy) },
        };
      }
      default:
        return undefined;
    }
  }

  const create = options.createClient ?? createDeltaAdsClient;
  const client = create({
    target: options.target,
    node: {
      id: formatProxyId(options.proxy),
      cluster: options.proxy.kind,
      metadata: { ...options.nodeMetadata, COMPONENT: options.proxy.kind },
    },
    ...(options.token !== undefined
      ? {
          metadata: () => {
            const m = new Metadata();
            const t = options.token?.();
            if (t) m.set('authorization', `Bearer ${t}`);
            return m;
          },
        }
      : {}),
    ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
    types: [
      types.workload,
      types.service,
      ...(types.waypoint !== undefined ? [types.waypoint] : []),
      types.authorization,
      ...(types.httpRoutes !== undefined ? [types.httpRoutes] : []),
      ...(types.backendPolicy !== undefined ? [types.backendPolicy] : []),
    ],
    logger,
    handler: {
      applyUpdate(batch) {
        const b = toBatch(batch);
        if (b === undefined) return;
        const result = applyUpdate(store, b);
        if (result.rejected.length > 0) {
          // Rejected by the store's own checks: NACK them like the decoder's rejections.
          for (const r of result.rejected)
            batch.rejected.push({ name: r.key, error: `${r.collection}: ${r.field}: ${r.message}` });
        }
      },
      onConnectionState(state, detail) {
        connection = { state, ...(detail !== undefined ? { detail } : {}), since: new Date().toISOString() };
        if (state === 'disconnected') logger.warn('xds stream down; serving the last config', { detail });
        else logger.info('xds connection', { state });
      },
    },
  });
  let closed = false;
  const syncedOnce = client.synced().then(() => {
    if (!closed) applyUpdate(store, { source: XDS_SOURCE, synced: true });
  });

  return {
    client,
    synced: () => syncedOnce,
    status: () => ({
      target: options.target,
      connection,
      types: client.status(),
      stats: client.stats(),
    }),
    close() {
      closed = true;
      client.close();
    },
  };
}
