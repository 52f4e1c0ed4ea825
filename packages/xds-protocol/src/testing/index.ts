// Fakes and builders for packages that talk to Weft's xDS: a loopback ADS server with an
// in-memory cache, a recording handler for the delta client, and weft.v1 config builders.
import { ipToBytes } from '@weft/policy';
import { ResourceCache } from '../cache.ts';
import type { ConnectionState, DeltaAdsHandler, UpdateBatch } from '../client/delta-client.ts';
import { Service } from '../gen/weft/v1/service.ts';
import { DataPlaneMode, TunnelProtocol, Workload, WorkloadStatus } from '../gen/weft/v1/workload.ts';
import { type AdsServer, type AdsServerOptions, createAdsServer, listenAds } from '../server/ads-server.ts';

export interface TestAdsServer {
  ads: AdsServer;
  cache: ResourceCache;
  /** `127.0.0.1:<port>` */
  address: string;
  close(): Promise<void>;
}

/** A real ADS server on 127.0.0.1 with an ephemeral port. */
export async function startTestAdsServer(options: AdsServerOptions = {}): Promise<TestAdsServer> {
  const cache = options.cache ?? new ResourceCache({ name: 'test' });
  const ads = createAdsServer({ ...options, cache });
  const listening = await listenAds(ads);
  return { ads, cache, address: listening.address, close: listening.close };
}

/**
 * A delta client handler that keeps the latest value of every resource per type and records
 * each batch and connection state, with a way to wait for a condition.
 */
export class RecordingHandler implements DeltaAdsHandler {
  readonly resources = new Map<string, Map<string, unknown>>();
  readonly batches: UpdateBatch[] = [];
  readonly states: ConnectionState[] = [];
  #waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  applyUpdate(batch: UpdateBatch): void {
    this.batches.push(batch);
    let byName = this.resources.get(batch.typeUrl);
    if (byName === undefined) {
      byName = new Map();
      this.resources.set(batch.typeUrl, byName);
    }
    for (const u of batch.upserts) byName.set(u.name, u.value);
    for (const n of batch.removals) byName.delete(n);
    this.#wake();
  }

  onConnectionState(state: ConnectionState): void {
    this.states.push(state);
    this.#wake();
  }

  get<T>(typeUrl: string, name: string): T | undefined {
    return this.resources.get(typeUrl)?.get(name) as T | undefined;
  }

  count(typeUrl: string): number {
    return this.resources.get(typeUrl)?.size ?? 0;
  }

  /** Resolves when `check()` holds (checked now and after every update / state change). */
  waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`RecordingHandler.waitFor: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push({ check, resolve: done });
    });
  }

  #wake(): void {
    const ready = this.#waiters.filter((w) => w.check());
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

/** A workload in namespace `default` on node `node-1`, HBONE, ambient; override anything. */
export function testWorkload(name: string, overrides: Partial<Workload> = {}): Workload {
  const namespace = overrides.namespace ?? 'default';
  const sa = overrides.serviceAccount ?? name;
  // fromPartial fills every field the builder does not name with its default.
  return Workload.fromPartial({
    uid: `cluster.local//Pod/${namespace}/${name}`,
    name,
    namespace,
    node: 'node-1',
    addresses: [ipToBytes('10.0.0.1') as Uint8Array],
    network: '',
    serviceAccount: sa,
    trustDomain: 'cluster.local',
    identity: `spiffe://cluster.local/ns/${namespace}/sa/${sa}`,
    dataPlaneMode: DataPlaneMode.DATA_PLANE_MODE_AMBIENT,
    tunnelProtocol: TunnelProtocol.TUNNEL_PROTOCOL_HBONE,
    labels: { app: name },
    workloadName: name,
    canonicalName: name,
    canonicalRevision: 'latest',
    clusterId: 'Kubernetes',
    status: WorkloadStatus.WORKLOAD_STATUS_HEALTHY,
    ...overrides,
  });
}

/** A service `<name>.<namespace>.svc.cluster.local` on port 80 -> 8080 with the given endpoints. */
export function testService(
  name: string,
  workloadUids: readonly string[],
  overrides: Partial<Service> = {},
): Service {
  const namespace = overrides.namespace ?? 'default';
  return Service.fromPartial({
    name,
    namespace,
    hostname: `${name}.${namespace}.svc.cluster.local`,
    vips: [{ network: '', address: ipToBytes('10.96.0.10') as Uint8Array }],
    ports: [{ port: 80, targetPort: 8080, appProtocol: 'http', name: 'http' }],
    endpoints: workloadUids.map((uid) => ({ workloadUid: uid, ports: { 80: 8080 } })),
    ...overrides,
  });
}

/** Polls `check` every few ms until it holds (for state no handler reports, e.g. server syncz). */
export async function waitUntil(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`waitUntil: ${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export { type GrpcXds, loadGrpcXds, XDS_BOOTSTRAP_OPTION } from './grpc-xds.ts';
