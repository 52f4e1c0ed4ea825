// Delta ADS client for Weft's proxies. Each resource is decoded and validated on its own; a bad
// one is NACKed by name while the rest of its response is applied. The last good state stays
// with the handler while the server is away; reconnects resume with initial_resource_versions.
import * as grpc from '@grpc/grpc-js';
import {
  type BackoffOptions,
  backoffDelay,
  type Scheduler,
  systemScheduler,
  type TimerHandle,
} from '@weft/telemetry';
import { type Decoded, deltaClientMethod } from '../ads-service.ts';
import { Node } from '../gen/envoy/config/core/v3/base.ts';
import type { DeltaDiscoveryRequest } from '../gen/envoy/service/discovery/v3/discovery.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type { WireDeltaResponse } from '../wire.ts';

/** Result of decoding + validating one resource. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: string };

export interface ResourceTypeConfig<T = unknown> {
  typeUrl: string;
  /** Decodes and validates one resource's bytes. Must not throw (a throw counts as an error). */
  decode(bytes: Uint8Array, name: string): DecodeResult<T>;
  /**
   * Optional in-place form of `decode` for the resource in `buf[start, end)` (the response
   * buffer): saves a view per resource on large syncs. Same contract as `decode`.
   */
  decodeAt?(buf: Uint8Array, start: number, end: number, name: string): DecodeResult<T>;
  /** Initial subscription: `['*']` (the default) for everything, or resource names. */
  subscribe?: readonly string[];
}

export interface ResourceUpdate<T = unknown> {
  name: string;
  version: string;
  value: T;
}

/** Everything one response changed, for one type. Applied by the handler as one unit. */
export interface UpdateBatch {
  typeUrl: string;
  systemVersion: string;
  upserts: ResourceUpdate[];
  removals: string[];
  /** Resources of the response that failed validation; their previous value (if any) stays. */
  rejected: Array<{ name: string; error: string }>;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface DeltaAdsHandler {
  /** The one write path into the proxy's state store. */
  applyUpdate(batch: UpdateBatch): void;
  onConnectionState?(state: ConnectionState, detail?: string): void;
}

export interface DeltaAdsClientOptions {
  /** grpc target, e.g. `127.0.0.1:15010`. */
  target: string;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  /** Per-stream call metadata (e.g. a bearer token); called on each (re)connect. */
  metadata?: () => grpc.Metadata;
  node: Partial<Node>;
  types: readonly ResourceTypeConfig[];
  handler: DeltaAdsHandler;
  /** Reconnect delays; defaults 250 ms doubling to 30 s, ±20 % jitter. */
  backoff?: BackoffOptions;
  /** Runs the reconnect timers. */
  scheduler?: Scheduler;
  random?: () => number;
  logger?: Logger;
}

export interface ClientTypeStatus {
  typeUrl: string;
  wildcard: boolean;
  names: string[];
  resources: number;
  systemVersion: string;
  /** Whether a response for this type arrived on any stream so far. */
  synced: boolean;
  lastRejected: Array<{ name: string; error: string }> | undefined;
}

export interface DeltaAdsClientStats {
  streamsStarted: number;
  responses: number;
  resourcesApplied: number;
  resourcesRejected: number;
  removalsApplied: number;
  acks: number;
  nacks: number;
  malformedResponses: number;
  unknownTypeResponses: number;
  handlerErrors: number;
}

export interface DeltaAdsClient {
  readonly state: ConnectionState;
  /** Adds names (or `'*'`) to a type's subscription; applied on the live stream at once. */
  subscribe(typeUrl: string, names: readonly string[]): void;
  /** Removes names (or `'*'`); the handler gets removals for what it held under them. */
  unsubscribe(typeUrl: string, names: readonly string[]): void;
  /** Resolves once every configured type has received a response (now or already). */
  synced(): Promise<void>;
  status(): ClientTypeStatus[];
  stats(): DeltaAdsClientStats;
  /** Resource name -> version held for a type. */
  versions(typeUrl: string): ReadonlyMap<string, string>;
  close(): void;
}

const WILDCARD = '*';
const INVALID_ARGUMENT = 3;

/**
 * HTTP/2 keepalive on the ADS channel: a ping after 30 s without a frame, the stream given up if
 * no answer comes in 10 s (Istio's proxies use the same to istiod). A control plane whose host
 * is gone sends no FIN or RST; without pings the stream would wait on that socket for good and
 * the proxy would never reconnect and resync. `channelOptions` may override both.
 */
export const DEFAULT_XDS_KEEPALIVE = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
} as const;

interface TypeEntry {
  config: ResourceTypeConfig;
  wildcard: boolean;
  names: Set<string>;
  versions: Map<string, string>;
  systemVersion: string;
  synced: boolean;
  /** Whether the current stream has carried this type's first request. */
  announced: boolean;
  lastRejected: Array<{ name: string; error: string }> | undefined;
}

type DeltaCall = grpc.ClientDuplexStream<DeltaDiscoveryRequest, Decoded<WireDeltaResponse>>;

/**
 * The client's work on one response of a configured type, without I/O: decodes and validates
 * every resource (in place when the type has `decodeAt`), records the versions of those it
 * accepts and the removals of those it held, and returns the batch for `applyUpdate`. The client
 * runs exactly this per response; benchmarks time it on its own.
 */
export function readDeltaResponse(
  config: ResourceTypeConfig,
  versions: Map<string, string>,
  res: WireDeltaResponse,
): UpdateBatch {
  const batch: UpdateBatch = {
    typeUrl: res.typeUrl,
    systemVersion: res.systemVersionInfo,
    upserts: [],
    removals: [],
    rejected: [],
  };
  const inPlace = config.decodeAt !== undefined;
  const bytes = res.bytes;
  for (const r of res.resources) {
    const name = r.name;
    let error: string | undefined;
    if (r.valueStart < 0) error = 'resource body missing';
    else if (r.typeUrl !== res.typeUrl) error = `type ${r.typeUrl} in a ${res.typeUrl} response`;
    else {
      let result: DecodeResult<unknown>;
      try {
        result = inPlace
          ? (config.decodeAt?.(bytes, r.valueStart, r.valueEnd, name) as DecodeResult<unknown>)
          : config.decode(bytes.subarray(r.valueStart, r.valueEnd), name);
      } catch (err) {
        result = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      if (result.ok) {
        batch.upserts.push({ name, version: r.version, value: result.value });
        versions.set(name, r.version);
      } else error = result.error;
    }
    if (error !== undefined) batch.rejected.push({ name, error });
  }
  for (const name of res.removedResources) {
    if (versions.delete(name)) batch.removals.push(name);
  }
  return batch;
}

export function createDeltaAdsClient(options: DeltaAdsClientOptions): DeltaAdsClient {
  const scheduler = options.scheduler ?? systemScheduler;
  const random = options.random ?? Math.random;
  const logger = options.logger ?? silentLogger;
  const node = Node.fromPartial(options.node);
  const grpcClient = new grpc.Client(
    options.target,
    options.credentials ?? grpc.credentials.createInsecure(),
    {
      // A full sync is megabytes: HTTP/2's default 64 KiB window would make it a string of
      // WINDOW_UPDATE round trips. One knob sets both the stream and connection window.
      'grpc-node.flow_control_window': 64 * 1024 * 1024,
      ...DEFAULT_XDS_KEEPALIVE,
      ...options.channelOptions,
    },
  );
  const types = new Map<string, TypeEntry>();
  for (const config of options.types) {
    const subscribe = config.subscribe ?? [WILDCARD];
    types.set(config.typeUrl, {
      config,
      wildcard: subscribe.includes(WILDCARD),
      names: new Set(subscribe.filter((n) => n !== WILDCARD)),
      versions: new Map(),
      systemVersion: '',
      synced: false,
      announced: false,
      lastRejected: undefined,
    });
  }
  const stats: DeltaAdsClientStats = {
    streamsStarted: 0,
    responses: 0,
    resourcesApplied: 0,
    resourcesRejected: 0,
    removalsApplied: 0,
    acks: 0,
    nacks: 0,
    malformedResponses: 0,
    unknownTypeResponses: 0,
    handlerErrors: 0,
  };

  let state: ConnectionState = 'disconnected';
  let call: DeltaCall | undefined;
  let sentNode = false;
  let attempt = 0;
  let retryTimer: TimerHandle | undefined;
  let closed = false;
  let syncWaiters: Array<() => void> = [];

  function setState(next: ConnectionState, detail?: string): void {
    if (state === next) return;
    state = next;
    try {
      options.handler.onConnectionState?.(next, detail);
    } catch (err) {
      stats.handlerErrors++;
      logger.warn('xds client: onConnectionState threw', { error: String(err) });
    }
  }

  function send(req: Partial<DeltaDiscoveryRequest> & { typeUrl: string }): void {
    if (call === undefined) return;
    const message: DeltaDiscoveryRequest = {
      typeUrl: req.typeUrl,
      resourceNamesSubscribe: req.resourceNamesSubscribe ?? [],
      resourceNamesUnsubscribe: req.resourceNamesUnsubscribe ?? [],
      resourceLocatorsSubscribe: [],
      resourceLocatorsUnsubscribe: [],
      initialResourceVersions: req.initialResourceVersions ?? {},
      responseNonce: req.responseNonce ?? '',
      errorDetail: req.errorDetail,
      node: sentNode ? undefined : node,
    };
    sentNode = true;
    call.write(message);
  }

  /**
   * ACK/NACK after the current I/O callbacks: when many responses arrive together (many streams
   * in one process, or several types at once) each is applied before any reply is written. A
   * reply meant for a stream that has since ended is dropped (its nonce means nothing later).
   */
  function reply(req: Partial<DeltaDiscoveryRequest> & { typeUrl: string }): void {
    const c = call;
    setImmediate(() => {
      if (call === c) send(req);
    });
  }

  /** First request of a type on this stream: its subscription and what we already hold. */
  function announce(t: TypeEntry): void {
    if (t.announced || call === undefined) return;
    // With nothing to ask for, an empty first request would mean "everything" (legacy wildcard).
    if (!t.wildcard && t.names.size === 0) return;
    t.announced = true;
    const subscribe = [...(t.wildcard ? [WILDCARD] : []), ...t.names];
    send({
      typeUrl: t.config.typeUrl,
      resourceNamesSubscribe: subscribe,
      initialResourceVersions: Object.fromEntries(t.versions),
    });
  }

  function connect(): void {
    retryTimer = undefined;
    if (closed) return;
    setState('connecting');
    stats.streamsStarted++;
    sentNode = false;
    for (const t of types.values()) t.announced = false;
    const metadata = options.metadata?.() ?? new grpc.Metadata();
    const c: DeltaCall = grpcClient.makeBidiStreamRequest(
      deltaClientMethod.path,
      deltaClientMethod.serialize,
      deltaClientMethod.deserialize,
      metadata,
    );
    call = c;
    let ended = false;
    const onEnd = (detail: string) => {
      if (ended) return;
      ended = true;
      if (call === c) call = undefined;
      if (closed) return;
      setState('disconnected', detail);
      const delay = backoffDelay(attempt++, options.backoff, random);
      logger.info?.('xds client: stream ended; reconnecting', { detail, delayMs: delay });
      retryTimer = scheduler.schedule(delay, connect);
    };
    c.on('data', (d: Decoded<WireDeltaResponse>) => {
      if (call !== c) return;
      if (!d.ok) {
        // Without a nonce there is nothing to NACK; start over on a fresh stream.
        stats.malformedResponses++;
        logger.warn('xds client: malformed response; restarting stream', { error: d.error });
        c.cancel();
        onEnd(`malformed response: ${d.error}`);
        return;
      }
      onResponse(d.message);
    });
    c.on('status', (s: grpc.StatusObject) => onEnd(`${grpc.status[s.code] ?? s.code}: ${s.details}`));
    c.on('error', (err: Error) => onEnd(err.message));
    for (const t of types.values()) announce(t);
  }

  function onResponse(res: WireDeltaResponse): void {
    stats.responses++;
    if (state !== 'connected') {
      attempt = 0;
      setState('connected');
    }
    const t = types.get(res.typeUrl);
    if (t === undefined) {
      stats.unknownTypeResponses++;
      stats.nacks++;
      send({
        typeUrl: res.typeUrl,
        responseNonce: res.nonce,
        errorDetail: {
          code: INVALID_ARGUMENT,
          message: `type ${res.typeUrl} was not requested`,
          details: [],
        },
      });
      return;
    }
    const batch = readDeltaResponse(t.config, t.versions, res);
    stats.resourcesApplied += batch.upserts.length;
    stats.resourcesRejected += batch.rejected.length;
    stats.removalsApplied += batch.removals.length;
    t.systemVersion = res.systemVersionInfo;
    t.lastRejected = batch.rejected.length > 0 ? batch.rejected : undefined;
    if (batch.upserts.length > 0 || batch.removals.length > 0 || batch.rejected.length > 0) {
      try {
        options.handler.applyUpdate(batch);
      } catch (err) {
        stats.handlerErrors++;
        batch.rejected.push({
          name: '*',
          error: `handler: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }
    if (batch.rejected.length > 0) {
      stats.nacks++;
      const message = batch.rejected.map((r) => `${r.name}: ${r.error}`).join('; ');
      logger.warn('xds client: rejected resources', { typeUrl: res.typeUrl, message });
      reply({
        typeUrl: res.typeUrl,
        responseNonce: res.nonce,
        errorDetail: { code: INVALID_ARGUMENT, message, details: [] },
      });
    } else {
      stats.acks++;
      reply({ typeUrl: res.typeUrl, responseNonce: res.nonce });
    }
    if (!t.synced) {
      t.synced = true;
      if ([...types.values()].every((x) => x.synced)) {
        const waiters = syncWaiters;
        syncWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  function entry(typeUrl: string): TypeEntry {
    const t = types.get(typeUrl);
    if (t === undefined) throw new RangeError(`xds client: type ${typeUrl} is not configured`);
    return t;
  }

  connect();

  return {
    get state() {
      return state;
    },
    subscribe(typeUrl, names) {
      const t = entry(typeUrl);
      const added: string[] = [];
      for (const n of names) {
        if (n === WILDCARD) {
          if (!t.wildcard) added.push(n);
          t.wildcard = true;
        } else if (!t.names.has(n)) {
          t.names.add(n);
          added.push(n);
        }
      }
      if (added.length === 0) return;
      if (!t.announced) announce(t);
      else send({ typeUrl, resourceNamesSubscribe: added });
    },
    unsubscribe(typeUrl, names) {
      const t = entry(typeUrl);
      const removed: string[] = [];
      for (const n of names) {
        if (n === WILDCARD ? t.wildcard : t.names.has(n)) removed.push(n);
        if (n === WILDCARD) t.wildcard = false;
        else t.names.delete(n);
      }
      if (removed.length === 0) return;
      if (t.announced) send({ typeUrl, resourceNamesUnsubscribe: removed });
      // Forget what is no longer covered by any subscription.
      const dropped: string[] = [];
      for (const name of t.versions.keys()) if (!t.wildcard && !t.names.has(name)) dropped.push(name);
      for (const name of dropped) t.versions.delete(name);
      if (dropped.length > 0) {
        try {
          options.handler.applyUpdate({
            typeUrl,
            systemVersion: t.systemVersion,
            upserts: [],
            removals: dropped,
            rejected: [],
          });
        } catch (err) {
          stats.handlerErrors++;
          logger.warn('xds client: handler failed on unsubscribe', { error: String(err) });
        }
      }
    },
    synced() {
      if ([...types.values()].every((t) => t.synced)) return Promise.resolve();
      return new Promise((resolve) => syncWaiters.push(resolve));
    },
    status() {
      return [...types.values()].map((t) => ({
        typeUrl: t.config.typeUrl,
        wildcard: t.wildcard,
        names: [...t.names],
        resources: t.versions.size,
        systemVersion: t.systemVersion,
        synced: t.synced,
        lastRejected: t.lastRejected,
      }));
    },
    stats: () => ({ ...stats }),
    versions: (typeUrl) => entry(typeUrl).versions,
    close() {
      if (closed) return;
      closed = true;
      retryTimer?.cancel();
      const c = call;
      call = undefined;
      c?.cancel();
      grpcClient.close();
      setState('closed');
    },
  };
}
