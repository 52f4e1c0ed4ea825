// The pod's own view from weftd (the view a sidecar of this pod gets): weft.v1 Workload, Service
// and Authorization over delta ADS, with the same node id and token as grpc-js-xds's stream. The
// policies that apply are the ones a sidecar's inbound engine applies to the pod
// (packages/l7/src/role.ts, sidecar-inbound): the pod's Workload's, and those of every Service
// selecting it. Until the three types have arrived and the pod's Workload is known, `current()`
// is undefined and calls fail closed.
import * as grpc from '@grpc/grpc-js';
import type { AuthzPolicy, Service } from '@weft/policy';
import {
  type ConnectionState,
  createDeltaAdsClient,
  type DeltaAdsClient,
  type UpdateBatch,
  WEFT_TYPE_URL,
} from '@weft/xds-protocol';
import { domainResourceType, type WorkloadWithPeerAuthentication } from '@weft/xds-protocol/convert';
import { type Logger, silentLogger } from '../logger.ts';
import type { TokenProvider } from '../token.ts';
import type { PolicySource } from './policy-source.ts';

export interface XdsPolicySourceOptions {
  readonly xdsAddress: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ChannelOptions;
  readonly token: TokenProvider;
  readonly nodeId: string;
  readonly namespace: string;
  readonly pod: string;
  readonly logger?: Logger;
}

export interface XdsPolicySource extends PolicySource {
  state(): ConnectionState;
}

/**
 * Picks this pod's policies out of the weft.v1 view (pure; tested with tables): its Workload's
 * and those of the Services selecting it (by hostname), each once, as a sidecar's inbound does.
 */
export function podPolicies(
  workloads: ReadonlyMap<string, WorkloadWithPeerAuthentication>,
  policies: ReadonlyMap<string, AuthzPolicy>,
  namespace: string,
  pod: string,
  services: ReadonlyMap<string, Service> = new Map(),
): readonly AuthzPolicy[] | undefined {
  for (const { workload } of workloads.values()) {
    if (workload.namespace === namespace && workload.name === pod) {
      const keys = new Set(workload.authorizationPolicies);
      for (const hostname of workload.services)
        for (const k of services.get(hostname)?.authorizationPolicies ?? []) keys.add(k);
      return [...keys].map((k) => policies.get(k)).filter((p): p is AuthzPolicy => p !== undefined);
    }
  }
  return undefined;
}

export function xdsPolicySource(opts: XdsPolicySourceOptions): XdsPolicySource {
  const logger = opts.logger ?? silentLogger;
  const workloads = new Map<string, WorkloadWithPeerAuthentication>();
  const policiesByName = new Map<string, AuthzPolicy>();
  const servicesByName = new Map<string, Service>();
  // Set once every type has had its first response, empty ones included (a mesh with no
  // AuthorizationPolicy sends none, and that is an answer: no policy).
  let synced = false;
  let token = '';
  let cached: readonly AuthzPolicy[] | undefined;
  let dirty = true;
  let closed = false;
  let state: ConnectionState = 'connecting';
  let client: DeltaAdsClient | undefined;
  const start = (): DeltaAdsClient =>
    createDeltaAdsClient({
      target: opts.xdsAddress,
      credentials: opts.credentials,
      ...(opts.channelOptions !== undefined ? { channelOptions: opts.channelOptions } : {}),
      metadata: () => {
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${token}`);
        return md;
      },
      node: { id: opts.nodeId },
      types: [
        domainResourceType('workload'),
        domainResourceType('service'),
        domainResourceType('authorization'),
      ],
      handler: {
        applyUpdate(batch: UpdateBatch) {
          if (batch.typeUrl === WEFT_TYPE_URL.workload) {
            for (const u of batch.upserts) workloads.set(u.name, u.value as WorkloadWithPeerAuthentication);
            for (const n of batch.removals) workloads.delete(n);
          } else if (batch.typeUrl === WEFT_TYPE_URL.service) {
            for (const u of batch.upserts) servicesByName.set(u.name, u.value as Service);
            for (const n of batch.removals) servicesByName.delete(n);
          } else if (batch.typeUrl === WEFT_TYPE_URL.authorization) {
            for (const u of batch.upserts) policiesByName.set(u.name, u.value as AuthzPolicy);
            for (const n of batch.removals) policiesByName.delete(n);
          }
          dirty = true;
        },
        onConnectionState(s: ConnectionState) {
          state = s;
        },
      },
      logger,
    });
  // The token is read before the first stream and every 10 s after (projected tokens rotate);
  // each reconnect sends the latest one.
  const refreshToken = (): void => {
    opts.token().then(
      (t) => {
        token = t;
        if (!closed && client === undefined) {
          client = start();
          void client.synced().then(() => {
            synced = true;
            dirty = true;
          });
        }
      },
      (err: unknown) =>
        logger.warn('proxyless: token unreadable for the policy stream', { error: String(err) }),
    );
  };
  refreshToken();
  const timer = setInterval(refreshToken, 10_000);
  timer.unref?.();
  return {
    current() {
      if (!synced) return undefined;
      if (dirty) {
        const byKey = new Map([...policiesByName.values()].map((p) => [p.key, p] as const));
        const byHostname = new Map([...servicesByName.values()].map((v) => [v.hostname, v] as const));
        cached = podPolicies(workloads, byKey, opts.namespace, opts.pod, byHostname);
        dirty = false;
      }
      return cached;
    },
    state: () => state,
    close() {
      closed = true;
      clearInterval(timer);
      client?.close();
    },
  };
}
