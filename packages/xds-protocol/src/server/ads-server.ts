import * as grpc from '@grpc/grpc-js';
import { type Clock, systemClock } from '@weft/telemetry';
import { adsServerDefinition, type Decoded } from '../ads-service.ts';
import { ResourceCache } from '../cache.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../gen/envoy/service/discovery/v3/discovery.ts';
import { type Logger, silentLogger } from '../logger.ts';
import { ENVOY_TYPE_URL, WEFT_TYPE_URL } from '../type-urls.ts';
import { encodeDeltaResponse, encodeSotwResponse } from '../wire.ts';
import { AdsStreamState, type StreamRequest } from './stream.ts';
import type {
  AdsClientInfo,
  AdsProtocol,
  AdsServerStats,
  AuthContext,
  ClientView,
  StreamSyncStatus,
  ViewSelector,
} from './types.ts';

export interface AdsServerOptions {
  /** Chooses what each client sees. Default: everyone reads `cache`. */
  view?: ViewSelector;
  /** The cache used when no `view` is given (one is created when omitted). */
  cache?: ResourceCache;
  /** Type URLs served; requests for others are counted and answered empty. Default: all weft.v1 and Envoy types. */
  typeUrls?: readonly string[];
  /** Delta responses stop adding resources past this size; the rest follow after the ACK. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Wall clock for `connectedAt` and NACK times. */
  clock?: Clock;
  logger?: Logger;
}

export interface AdsServer {
  /** The cache used when no view selector was given. */
  readonly cache: ResourceCache;
  /** Add to any grpc-js server: `server.addService(ads.service, ads.implementation)`. */
  readonly service: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  /** Per-stream, per-type sync state for /debug/syncz. */
  syncz(): StreamSyncStatus[];
  stats(): AdsServerStats;
  /** Runs the view selector again for every stream (e.g. after a workload moved node). */
  refreshViews(): void;
  /** Ends every open stream with UNAVAILABLE (clients reconnect elsewhere or later). */
  close(): void;
}

type Call<T> = grpc.ServerDuplexStream<Decoded<T>, Uint8Array>;

interface StreamEntry {
  id: number;
  protocol: AdsProtocol;
  call: grpc.ServerDuplexStream<unknown, Uint8Array>;
  state: AdsStreamState | undefined;
  closed: boolean;
  unknownNonce: number;
}

const DEFAULT_TYPES = [...Object.values(ENVOY_TYPE_URL), ...Object.values(WEFT_TYPE_URL)];

export function createAdsServer(options: AdsServerOptions = {}): AdsServer {
  const cache = options.cache ?? new ResourceCache();
  const selectView: ViewSelector = options.view ?? (() => ({ cache }));
  const served = new Set(options.typeUrls ?? DEFAULT_TYPES);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const limits = { maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024 };

  const stats: AdsServerStats = {
    streamsOpened: 0,
    streamsActive: 0,
    requests: 0,
    acks: 0,
    nacks: 0,
    staleNonces: 0,
    responses: 0,
    resourcesSent: 0,
    bytesSent: 0,
    unknownTypeRequests: 0,
    malformedRequests: 0,
  };
  const streams = new Map<number, StreamEntry>();
  const byCache = new Map<ResourceCache, { streams: Set<StreamEntry>; unsubscribe: () => void }>();
  const dirty = new Set<StreamEntry>();
  let flushScheduled = false;
  let nextId = 0;

  function schedule(entry: StreamEntry): void {
    dirty.add(entry);
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flushDirty);
  }

  function flushDirty(): void {
    flushScheduled = false;
    const batch = [...dirty];
    dirty.clear();
    for (const entry of batch) flushStream(entry);
  }

  function flushStream(entry: StreamEntry): void {
    if (entry.closed || entry.state === undefined) return;
    for (const res of entry.state.flush()) {
      stats.responses++;
      stats.resourcesSent += res.resourceCount;
      stats.bytesSent += res.bytes.length;
      entry.call.write(res.bytes);
    }
  }

  function attach(entry: StreamEntry, view: ClientView): void {
    let group = byCache.get(view.cache);
    if (group === undefined) {
      const members = new Set<StreamEntry>();
      const unsubscribe = view.cache.onChange((_c, typeUrls) => {
        for (const e of members) if (e.state?.watches(typeUrls)) schedule(e);
      });
      group = { streams: members, unsubscribe };
      byCache.set(view.cache, group);
    }
    group.streams.add(entry);
  }

  function detach(entry: StreamEntry): void {
    const c = entry.state?.cache;
    if (c === undefined) return;
    const group = byCache.get(c);
    if (group === undefined) return;
    group.streams.delete(entry);
    if (group.streams.size === 0) {
      group.unsubscribe();
      byCache.delete(c);
    }
  }

  function clientInfo(entry: StreamEntry, node: DiscoveryRequest['node']): AdsClientInfo {
    let authContext: AuthContext | undefined;
    try {
      authContext = entry.call.getAuthContext();
    } catch {
      authContext = undefined;
    }
    return {
      streamId: entry.id,
      protocol: entry.protocol,
      node,
      nodeId: node?.id ?? '',
      peer: entry.call.getPeer(),
      metadata: entry.call.metadata,
      authContext,
    };
  }

  function answerUnknownType(entry: StreamEntry, req: StreamRequest): void {
    stats.unknownTypeRequests++;
    logger.warn('ads: request for a type this server does not serve', {
      streamId: entry.id,
      typeUrl: req.typeUrl,
    });
    // Only subscription requests are answered: answering the ACK of an answer would loop.
    if (req.responseNonce !== '') return;
    const nonce = `unknown-${++entry.unknownNonce}`;
    const bytes =
      entry.protocol === 'sotw'
        ? encodeSotwResponse('', req.typeUrl, nonce, [])
        : encodeDeltaResponse('', req.typeUrl, nonce, [], []);
    stats.responses++;
    entry.call.write(bytes);
  }

  function onRequest(entry: StreamEntry, req: StreamRequest, node: DiscoveryRequest['node']): void {
    stats.requests++;
    if (entry.state === undefined) {
      const info = clientInfo(entry, node);
      let view: ClientView;
      try {
        view = selectView(info);
      } catch (err) {
        logger.warn('ads: view selector failed; closing stream', { streamId: entry.id, error: String(err) });
        fail(
          entry,
          grpc.status.PERMISSION_DENIED,
          `no view for node "${info.nodeId}": ${err instanceof Error ? err.message : String(err)}`,
        );
        return;
      }
      entry.state = new AdsStreamState(info, view, clock.now(), limits);
      attach(entry, view);
    }
    if (!served.has(req.typeUrl)) {
      answerUnknownType(entry, req);
      return;
    }
    const outcome = entry.state.onRequest(req, clock.now());
    if (outcome === 'ack') stats.acks++;
    else if (outcome === 'nack') {
      stats.nacks++;
      logger.warn('ads: client rejected a push', {
        nodeId: entry.state.client.nodeId,
        typeUrl: req.typeUrl,
        error: req.errorDetail?.message,
      });
    } else if (outcome === 'stale') stats.staleNonces++;
    schedule(entry);
  }

  function fail(entry: StreamEntry, code: grpc.status, details: string): void {
    if (entry.closed) return;
    close(entry);
    entry.call.emit('error', { code, details });
  }

  function close(entry: StreamEntry): void {
    if (entry.closed) return;
    entry.closed = true;
    streams.delete(entry.id);
    dirty.delete(entry);
    detach(entry);
    stats.streamsActive--;
  }

  function open(protocol: AdsProtocol, call: grpc.ServerDuplexStream<unknown, Uint8Array>): StreamEntry {
    const entry: StreamEntry = {
      id: ++nextId,
      protocol,
      call,
      state: undefined,
      closed: false,
      unknownNonce: 0,
    };
    streams.set(entry.id, entry);
    stats.streamsOpened++;
    stats.streamsActive++;
    call.on('error', () => close(entry));
    call.on('cancelled', () => close(entry));
    call.on('close', () => close(entry));
    call.on('end', () => {
      close(entry);
      call.end();
    });
    return entry;
  }

  function malformed(entry: StreamEntry, error: string): void {
    stats.malformedRequests++;
    logger.warn('ads: malformed request; closing stream', { streamId: entry.id, error });
    fail(entry, grpc.status.INVALID_ARGUMENT, `malformed discovery request: ${error}`);
  }

  const implementation: grpc.UntypedServiceImplementation = {
    StreamAggregatedResources(call: Call<DiscoveryRequest>) {
      const entry = open('sotw', call);
      call.on('data', (d: Decoded<DiscoveryRequest>) => {
        if (entry.closed) return;
        if (!d.ok) return malformed(entry, d.error);
        const m = d.message;
        onRequest(
          entry,
          {
            typeUrl: m.typeUrl,
            responseNonce: m.responseNonce,
            errorDetail: m.errorDetail,
            resourceNames: m.resourceNames,
          },
          m.node,
        );
      });
    },
    DeltaAggregatedResources(call: Call<DeltaDiscoveryRequest>) {
      const entry = open('delta', call);
      call.on('data', (d: Decoded<DeltaDiscoveryRequest>) => {
        if (entry.closed) return;
        if (!d.ok) return malformed(entry, d.error);
        const m = d.message;
        onRequest(
          entry,
          {
            typeUrl: m.typeUrl,
            responseNonce: m.responseNonce,
            errorDetail: m.errorDetail,
            subscribe: m.resourceNamesSubscribe,
            unsubscribe: m.resourceNamesUnsubscribe,
            initialVersions: m.initialResourceVersions,
          },
          m.node,
        );
      });
    },
  };

  return {
    cache,
    service: adsServerDefinition,
    implementation,
    syncz() {
      const out: StreamSyncStatus[] = [];
      for (const e of streams.values()) {
        if (e.state === undefined) continue;
        out.push({
          streamId: e.id,
          protocol: e.protocol,
          nodeId: e.state.client.nodeId,
          peer: e.state.client.peer,
          cache: e.state.cache.name,
          connectedAt: e.state.connectedAt,
          types: e.state.status(),
        });
      }
      return out;
    },
    stats: () => ({ ...stats }),
    refreshViews() {
      for (const e of streams.values()) {
        const old = e.state;
        if (old === undefined) continue;
        const view = selectView(old.client);
        if (view.cache === old.view.cache && view.filter === old.view.filter) continue;
        // Same subscriptions and known versions, new view: compared in full on the next flush.
        detach(e);
        old.setView(view);
        attach(e, view);
        schedule(e);
      }
    },
    close() {
      for (const e of [...streams.values()]) fail(e, grpc.status.UNAVAILABLE, 'ADS server shutting down');
    },
  };
}

export interface ListeningAdsServer {
  /** `127.0.0.1:<port>` style address clients dial. */
  address: string;
  port: number;
  grpcServer: grpc.Server;
  close(): Promise<void>;
}

/** Starts a grpc-js server carrying only ADS (tests, benchmarks, local mode). */
export function listenAds(
  ads: AdsServer,
  address = '127.0.0.1:0',
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
  channelOptions: grpc.ChannelOptions = {},
): Promise<ListeningAdsServer> {
  const server = new grpc.Server(channelOptions);
  server.addService(ads.service, ads.implementation);
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (err !== null) return reject(err);
      const host = address.slice(0, address.lastIndexOf(':'));
      resolve({
        address: `${host}:${port}`,
        port,
        grpcServer: server,
        close: () =>
          new Promise<void>((done) => {
            ads.close();
            server.tryShutdown(() => done());
            setTimeout(() => server.forceShutdown(), 1000).unref();
          }),
      });
    });
  });
}
