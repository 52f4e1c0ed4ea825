// The xDS config source: a delta ADS client (@weft/xds-protocol) whose per-resource decode step
// converts weft.v1 messages to policy-domain values (@weft/xds-protocol/convert: a malformed
// resource is NACKed alone and never reaches the store), and whose handler writes each response
// through applyUpdate. The waypoint subscribes to all five kinds as wildcard; weftd scopes what it
// sends by the node id "waypoint~<namespace>/<name>". While weftd is away the client reconnects
// and the store keeps serving the last good config.
import { Metadata } from '@grpc/grpc-js';
import { applyUpdate, type StateBatch, type StateCollection, type StateStore } from '@weft/l7';
import type { AuthzPolicy, BackendPolicy, RouteTable, Service } from '@weft/policy';
import type { Logger } from '@weft/telemetry';
import {
  type ConnectionState,
  createDeltaAdsClient,
  type DeltaAdsClient,
  type DeltaAdsClientOptions,
  formatProxyId,
  type UpdateBatch,
} from '@weft/xds-protocol';
import { domainResourceType, type WorkloadWithPeerAuthentication } from '@weft/xds-protocol/convert';
import type { ConfigSource } from './config-source.ts';

export interface XdsConfigSourceOptions {
  /** `host:port` of weftd's ADS. */
  readonly target: string;
  /** The waypoint, "namespace/name" (sent as node id "waypoint~namespace/name"). */
  readonly waypoint: string;
  /** Bearer token sent on every stream (the waypoint's service-account token). */
  readonly token?: () => string | undefined;
  readonly logger: Logger;
  readonly backoff?: DeltaAdsClientOptions['backoff'];
  /** Replaces createDeltaAdsClient (tests). */
  readonly createClient?: (options: DeltaAdsClientOptions) => DeltaAdsClient;
}

export interface XdsConfigSource extends ConfigSource {
  /** Resolves after the first response of every type was applied. */
  synced(): Promise<void>;
  status(): Record<string, unknown>;
}

const TYPES = {
  workload: domainResourceType('workload'),
  service: domainResourceType('service'),
  authorization: domainResourceType('authorization'),
  httpRoutes: domainResourceType('httpRoutes'),
  backendPolicy: domainResourceType('backendPolicy'),
} as const;

export function xdsConfigSource(options: XdsConfigSourceOptions): XdsConfigSource {
  const { logger } = options;
  // resource name -> store key, per collection (names and keys differ for services and policies)
  const keys: Record<string, Map<string, string>> = {};
  const keyMap = (c: StateCollection) => {
    let m = keys[c];
    if (m === undefined) {
      m = new Map();
      keys[c] = m;
    }
    return m;
  };
  let client: DeltaAdsClient | undefined;
  let connection: { state: ConnectionState; detail?: string; since: string } = {
    state: 'connecting',
    since: new Date().toISOString(),
  };
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => {
    resolveSynced = r;
  });

  const toBatch = (batch: UpdateBatch): StateBatch | undefined => {
    const collect = <T>(collection: StateCollection, pick: (v: unknown) => T & { readonly key: string }) => {
      const m = keyMap(collection);
      const upserted = batch.upserts.map((u) => {
        const v = pick(u.value);
        m.set(u.name, v.key);
        return v;
      });
      const removed = batch.removals.flatMap((name) => {
        const k = m.get(name);
        m.delete(name);
        return k === undefined ? [] : [k];
      });
      return { version: batch.systemVersion, [collection]: { upserted, removed } } as StateBatch;
    };
    switch (batch.typeUrl) {
      case TYPES.workload.typeUrl:
        return collect('workloads', (v) => (v as WorkloadWithPeerAuthentication).workload);
      case TYPES.service.typeUrl:
        return collect('services', (v) => v as Service);
      case TYPES.authorization.typeUrl:
        return collect('authorizationPolicies', (v) => v as AuthzPolicy);
      case TYPES.httpRoutes.typeUrl:
        return collect('routes', (v) => v as RouteTable);
      case TYPES.backendPolicy.typeUrl:
        return collect('backendPolicies', (v) => v as BackendPolicy);
      default:
        return undefined;
    }
  };

  return {
    name: `xds ${options.target}`,
    start(store: StateStore) {
      const create = options.createClient ?? createDeltaAdsClient;
      const [namespace = '', name = ''] = options.waypoint.split('/');
      client = create({
        target: options.target,
        node: {
          id: formatProxyId({ kind: 'waypoint', namespace, name }),
          cluster: 'waypoint',
          metadata: { COMPONENT: 'waypoint', WAYPOINT: options.waypoint },
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
        types: Object.values(TYPES),
        logger,
        handler: {
          applyUpdate(batch) {
            const b = toBatch(batch);
            if (b === undefined) return;
            const r = applyUpdate(store, b);
            // values the store refused are NACKed like the decoder's refusals
            for (const x of r.rejected)
              batch.rejected.push({ name: x.key, error: `${x.collection}: ${x.reason}` });
          },
          onConnectionState(state, detail) {
            connection = {
              state,
              ...(detail !== undefined ? { detail } : {}),
              since: new Date().toISOString(),
            };
            if (state === 'disconnected') logger.warn('xds stream down; serving the last config', { detail });
            else logger.info('xds connection', { state });
          },
        },
      });
      client.synced().then(resolveSynced, () => {});
    },
    stop() {
      client?.close();
    },
    synced: () => synced,
    status: () => ({
      target: options.target,
      connection,
      types: client?.status() ?? [],
      stats: client?.stats() ?? null,
    }),
  };
}
