// createControlPlane(config, deps?) -> { addresses, close() }: the composition root of weftd.
//
//   sources -> CompileLoop (validate each object, debounced compile) -> MeshSnapshot
//     -> SnapshotPublisher (changed resources only) -> ResourceCache -> ADS (per-proxy views)
//     -> node-bound CA lookup (which identities run on which node)
//   gRPC server (ADS + CertificateService) on the plaintext and TLS ports, admin API on fastify.
import * as grpc from '@grpc/grpc-js';
import type { SignerPem } from '@weft/ca';
import { createTokenReviewAuthenticator } from '@weft/ca/kubernetes';
import {
  type Authenticator,
  addCertificateService,
  createStaticTokenAuthenticator,
  DEFAULT_TRUSTED_NODE_AGENTS,
  type StaticTokenAuthenticator,
} from '@weft/ca/server';
import { type CompileOptions, DEFAULT_TRUST_DOMAIN, type MeshSnapshot } from '@weft/policy';
import {
  type Clock,
  createLogger,
  type Logger,
  type MetricsRegistry,
  type Scheduler,
  streamSink,
} from '@weft/telemetry';
import { createAdsServer, parseProxyId, ResourceCache, typeNameOf } from '@weft/xds-protocol';
import { startAdmin } from './admin.ts';
import { createAuthority, loadOrCreateRoot, ServingCertificate } from './ca.ts';
import { type CompiledSnapshot, CompileLoop, type ConfigStatus } from './compile-loop.ts';
import { createGrpcServer, type GrpcServerOptions, listenGrpc, streamCaller } from './grpc-server.ts';
import type { InjectOptions } from './injection/inject.ts';
import { startInjectionWebhook } from './injection/webhook.ts';
import { webhookConfiguration } from './injection/webhook-config.ts';
import { WeftdMetrics } from './metrics.ts';
import {
  type ConfigSource,
  FileSource,
  type FileSourceOptions,
  type KubeConfig,
  KubernetesSource,
  type KubernetesSourceOptions,
} from './sources/index.ts';
import { ProxylessPublisher } from './xds/proxyless-publisher.ts';
import { ProxylessServerCaches } from './xds/proxyless-server.ts';
import type { ProxylessRefusal } from './xds/proxyless-view.ts';
import { SnapshotPublisher } from './xds/publisher.ts';
import { ProxyViews, ViewRefused } from './xds/views.ts';

export interface ControlPlaneConfig {
  /** Local mode: a folder of YAML/JSON manifests, watched. */
  readonly configDir?: string;
  /** Kubernetes mode: read the cluster (and check tokens with TokenReview). */
  readonly kubeConfig?: KubeConfig;
  /** Plaintext xDS + CA (local mode). Default `127.0.0.1:15010`; `false` turns it off. */
  readonly xdsAddress?: string | false;
  /** TLS xDS + CA, server certificate from the embedded CA. Default `127.0.0.1:15012`; `false` = off. */
  readonly xdsTlsAddress?: string | false;
  /** Admin HTTP. Default `127.0.0.1:15014`. */
  readonly adminAddress?: string;
  /** Sidecar-injection webhook (HTTPS, weftd's certificate). Default `127.0.0.1:15017`; `false` = off. */
  readonly injectionAddress?: string | false;
  /** What the webhook injects (sidecar image, args, resources, ports). */
  readonly injection?: InjectOptions;
  /** Static token file (local mode): `token namespace serviceAccount [node]` per line, watched. */
  readonly tokenFile?: string;
  /** The same format inline (tests). */
  readonly tokens?: string;
  /** Audiences TokenReview must confirm (Kubernetes mode). Default `['weft-ca']`. */
  readonly tokenAudiences?: readonly string[];
  /** Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Where the CA root is kept; created there when absent. Without it the root lives in memory. */
  readonly caDir?: string;
  /** A root or intermediate to sign with (wins over caDir). */
  readonly caSigner?: SignerPem;
  /** Let ADS clients stream without a token (never with Kubernetes; default false). */
  readonly anonymousXds?: boolean;
  /** Require an admin-namespace token on /debug/* (default true). */
  readonly debugAuth?: boolean;
  /** Namespaces whose identities may read /debug/* (default ['weft-system']). */
  readonly adminNamespaces?: readonly string[];
  /** Compile debounce (default 50 ms) and the longest a stream of changes can delay it (500 ms). */
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  /** Passed to `compile` (root namespace, cluster domain); `trustDomain` above wins. */
  readonly compile?: CompileOptions;
  /** FileSource tuning (debounce, rescan interval, watch mode). */
  readonly fileSource?: Omit<FileSourceOptions, 'dir'>;
  /** KubernetesSource tuning. */
  readonly kubernetesSource?: Omit<KubernetesSourceOptions, 'kubeConfig'>;
}

export interface ControlPlaneDeps {
  readonly logger?: Logger;
  readonly registry?: MetricsRegistry;
  /** Reads the time and runs weftd's timers (tests: `createManualClock()`). Default the system's. */
  readonly clock?: Clock & Scheduler;
  /** Replaces the sources built from the config. */
  readonly sources?: readonly ConfigSource[];
  /** Tried before the ones built from the config. */
  readonly authenticators?: readonly Authenticator[];
}

export interface ControlPlaneAddresses {
  /** `host:port` of the plaintext xDS + CA port, when on. */
  readonly xds: string | undefined;
  readonly xdsTls: string | undefined;
  readonly admin: string;
  /** `host:port` of the injection webhook, when on. */
  readonly injection: string | undefined;
}

export interface ProxySyncStatus {
  readonly id: string;
  readonly kind: string;
  readonly node?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly streamId: number;
  readonly peer: string;
  readonly connectedAt: string;
  readonly types: readonly {
    readonly type: string;
    readonly versionSent: string;
    readonly versionAcked: string;
    readonly resources: number;
    readonly pendingNonce: string | undefined;
    readonly acks: number;
    readonly nacks: number;
    readonly lastNack:
      | { readonly message: string; readonly version: string; readonly at: string }
      | undefined;
  }[];
}

/** /debug/config_status: the compile loop's status and what proxyless clients are refused. */
export interface WeftdConfigStatus extends ConfigStatus {
  readonly proxyless: { readonly refused: readonly ProxylessRefusal[] };
}

export interface ControlPlane {
  readonly addresses: ControlPlaneAddresses;
  /** PEM roots clients trust (for the TLS port and workload certificates). */
  readonly trustBundlePem: string;
  /** True once the first compile succeeded and xDS listens. */
  ready(): boolean;
  whenReady(): Promise<void>;
  snapshot(): MeshSnapshot | undefined;
  configStatus(): WeftdConfigStatus;
  syncz(): ProxySyncStatus[];
  readonly metrics: WeftdMetrics;
  close(): Promise<void>;
}

function defaultLogger(): Logger {
  return createLogger({ sink: streamSink(process.stderr), fields: { component: 'weftd' } });
}

export async function createControlPlane(
  config: ControlPlaneConfig,
  deps: ControlPlaneDeps = {},
): Promise<ControlPlane> {
  const logger = deps.logger ?? defaultLogger();
  const metrics = new WeftdMetrics(deps.registry);
  const trustDomain = config.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (config.configDir === undefined && config.kubeConfig === undefined && deps.sources === undefined) {
    throw new Error('a config source is needed: configDir (local mode) or kubeConfig (Kubernetes)');
  }
  if (config.anonymousXds && config.kubeConfig !== undefined) {
    throw new Error('anonymousXds is for local mode only');
  }
  const cleanups: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn('shutdown step failed', { error: String(err) });
      }
    }
    cleanups.length = 0;
  };

  try {
    // --- CA ---
    const root = await loadOrCreateRoot({ given: config.caSigner, dir: config.caDir, trustDomain, logger });
    const ca = await createAuthority(root.signer, trustDomain);

    // --- authenticators ---
    const authenticators: Authenticator[] = [...(deps.authenticators ?? [])];
    let tokenFile: StaticTokenAuthenticator | undefined;
    if (config.tokenFile !== undefined || config.tokens !== undefined) {
      tokenFile = await createStaticTokenAuthenticator({
        ...(config.tokenFile === undefined ? { text: config.tokens ?? '' } : { path: config.tokenFile }),
        logger,
      });
      const tf = tokenFile;
      cleanups.push(() => tf.close());
      authenticators.push(tokenFile);
    }
    if (config.kubeConfig !== undefined) {
      authenticators.push(
        createTokenReviewAuthenticator({
          audiences: config.tokenAudiences ?? ['weft-ca'],
          kubeConfig: config.kubeConfig,
        }),
      );
    }
    if (authenticators.length === 0) {
      logger.warn('no authenticator configured: certificate requests and token-checked calls are refused');
    }

    // --- state: compile loop, ADS cache, views ---
    const sources: readonly ConfigSource[] =
      deps.sources ??
      (config.kubeConfig !== undefined
        ? [
            new KubernetesSource({
              ...config.kubernetesSource,
              kubeConfig: config.kubeConfig,
              ...(deps.clock ? { clock: deps.clock } : {}),
            }),
          ]
        : [
            new FileSource({
              ...config.fileSource,
              dir: config.configDir as string,
              ...(deps.clock ? { clock: deps.clock } : {}),
            }),
          ]);
    const cache = new ResourceCache({ name: 'weft' });
    const publisher = new SnapshotPublisher(cache);
    const proxyless = new ProxylessPublisher(cache);
    const proxylessServers = new ProxylessServerCaches(cache);
    const refused = (r: ProxylessRefusal) => {
      metrics.rejected.reject('proxyless_unsupported');
      logger.info('not sent to proxyless gRPC clients', {
        object: r.object,
        field: r.field,
        reason: r.reason,
      });
    };
    cleanups.push(() => proxylessServers.close());
    let current: MeshSnapshot | undefined;
    let identitiesByNode = new Map<string, Set<string>>();
    const nodeAgents = DEFAULT_TRUSTED_NODE_AGENTS;
    const views = new ProxyViews({
      cache,
      snapshot: () => current,
      proxylessCache: (snapshot, pod) => proxylessServers.cacheFor(snapshot, pod),
      caller: (client) => (config.anonymousXds ? undefined : streamCaller(client.metadata)),
      nodeAgents,
    });
    const ads = createAdsServer({
      cache,
      logger,
      view: (client) => {
        try {
          const view = views.select(client);
          if (views.identify(client).kind === 'proxyless') {
            for (const r of proxyless.demand(current)?.newRefusals ?? []) refused(r);
          }
          return view;
        } catch (err) {
          if (err instanceof ViewRefused) {
            metrics.rejected.reject('xds_bad_node');
            logger.info('xds stream refused', {
              node: client.nodeId,
              peer: client.peer,
              reason: err.message,
            });
          }
          throw err;
        }
      },
    });
    cleanups.push(() => ads.close());

    const onSnapshot = (compiled: CompiledSnapshot) => {
      current = compiled.snapshot;
      const byNode = new Map<string, Set<string>>();
      for (const w of Object.values(compiled.snapshot.workloads)) {
        if (w.node === undefined) continue;
        const set = byNode.get(w.node) ?? new Set<string>();
        set.add(`${w.namespace}/${w.serviceAccount}`);
        byNode.set(w.node, set);
      }
      identitiesByNode = byNode;
      const published = publisher.publish(compiled.snapshot);
      metrics.published(published.encoded);
      const pxl = proxyless.publish(compiled.snapshot);
      for (const r of pxl.newRefusals) refused(r);
      proxylessServers.prune(compiled.snapshot);
      ads.refreshViews();
    };
    const loop = new CompileLoop({
      sources,
      compile: { ...config.compile, trustDomain },
      ...(config.debounceMs === undefined ? {} : { debounceMs: config.debounceMs }),
      ...(config.maxDelayMs === undefined ? {} : { maxDelayMs: config.maxDelayMs }),
      ...(deps.clock ? { clock: deps.clock } : {}),
      logger,
      events: {
        snapshot: onSnapshot,
        rejected: (r) =>
          metrics.rejected.reject(r.code === 'duplicate' ? 'config_duplicate' : 'config_invalid'),
        sourceError: () => metrics.rejected.reject('config_source'),
        compiled: (ms, ok) => metrics.compiled(ms / 1000, ok),
      },
    });
    cleanups.push(() => loop.stop());

    // --- gRPC: ADS + CertificateService ---
    let listening = false;
    const grpcOptions: GrpcServerOptions = {
      authenticateXds: !config.anonymousXds,
      authenticators,
      logger,
      onRejected: (reason) => metrics.rejected.reject(reason),
      xdsReady: () => current !== undefined,
    };
    const server = createGrpcServer(grpcOptions);
    server.addService(ads.service, ads.implementation);
    addCertificateService(server, {
      ca,
      authenticators,
      trustedNodeAgents: nodeAgents,
      nodeWorkloads: (node, id) =>
        identitiesByNode.get(node)?.has(`${id.namespace}/${id.serviceAccount}`) ?? false,
      logger,
    });
    cleanups.push(() => {
      server.forceShutdown();
    });

    // --- admin first, so probes see "not ready" while the rest starts ---
    const syncz = (): ProxySyncStatus[] =>
      ads.syncz().map((s) => {
        const parsed = parseProxyId(s.nodeId);
        const who = parsed.ok
          ? parsed.value.kind === 'ztunnel'
            ? { kind: 'ztunnel', node: parsed.value.node }
            : { kind: parsed.value.kind, namespace: parsed.value.namespace, name: parsed.value.name }
          : { kind: 'unknown' };
        return {
          id: s.nodeId,
          ...who,
          streamId: s.streamId,
          peer: s.peer,
          connectedAt: new Date(s.connectedAt).toISOString(),
          types: s.types.map((t) => ({
            type: typeNameOf(t.typeUrl),
            versionSent: t.versionSent,
            versionAcked: t.versionAcked,
            resources: t.resourceCount,
            pendingNonce: t.pendingNonce,
            acks: t.acks,
            nacks: t.nacks,
            lastNack:
              t.lastNack === undefined
                ? undefined
                : {
                    message: t.lastNack.message,
                    version: t.lastNack.version,
                    at: new Date(t.lastNack.at).toISOString(),
                  },
          })),
        };
      });
    const configStatus = (): WeftdConfigStatus => ({
      ...loop.status(),
      proxyless: { refused: proxyless.refusals() },
    });
    const ready = () => listening && current !== undefined;
    const injectionOn = (config.injectionAddress ?? '127.0.0.1:15017') !== false;
    const admin = await startAdmin(config.adminAddress ?? '127.0.0.1:15014', {
      ready,
      registry: metrics.registry,
      beforeScrape: () => {
        const byKind: Record<string, number> = {};
        for (const p of syncz()) byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
        const status = loop.status();
        metrics.refresh({
          objects: status.objects,
          rejectedObjects: status.rejected.length,
          proxiesByKind: byKind,
          ads,
          ca: ca.metrics,
        });
      },
      configDump: () => current ?? {},
      syncz: () => ({ proxies: syncz() }),
      configStatus: () => configStatus(),
      injectionWebhookConfig: () =>
        injectionOn ? webhookConfiguration({ caBundlePem: ca.trustBundlePem }) : undefined,
      authenticators,
      debugAuth: config.debugAuth ?? true,
      adminNamespaces: config.adminNamespaces ?? ['weft-system'],
      onRejected: (reason) => metrics.rejected.reject(reason),
    });
    cleanups.push(() => admin.close());

    // --- sources, then the xDS ports ---
    await loop.start();
    let xdsAddress: string | undefined;
    let xdsTlsAddress: string | undefined;
    const plain = config.xdsAddress ?? '127.0.0.1:15010';
    if (plain !== false) {
      const l = await listenGrpc(server, grpc.ServerCredentials.createInsecure(), plain, false, grpcOptions);
      cleanups.push(() => l.close());
      xdsAddress = l.address;
    }
    const tlsAddr = config.xdsTlsAddress ?? '127.0.0.1:15012';
    const injectionAddr = config.injectionAddress ?? '127.0.0.1:15017';
    // One serving certificate (weftd's identity) for the TLS xDS port and the webhook.
    let serving: ServingCertificate | undefined;
    if (tlsAddr !== false || injectionAddr !== false) {
      const s = new ServingCertificate(ca, logger);
      await s.start();
      cleanups.push(() => s.close());
      serving = s;
    }
    if (tlsAddr !== false && serving !== undefined) {
      const creds: grpc.ServerCredentials = serving.credentials();
      const l = await listenGrpc(server, creds, tlsAddr, true, grpcOptions);
      cleanups.push(() => l.close());
      xdsTlsAddress = l.address;
    }
    let injectionAddress: string | undefined;
    if (injectionAddr !== false && serving !== undefined) {
      const s = serving;
      const webhook = await startInjectionWebhook(injectionAddr, {
        tls: s.pem(),
        ...(config.injection === undefined ? {} : { inject: config.injection }),
        onRejected: (reason) => metrics.rejected.reject(reason),
        onReview: (outcome) => metrics.injection(outcome),
      });
      // Renewals reach new connections without a restart.
      let warned = false;
      const renewed = () => {
        if (!webhook.setTls(s.pem()) && !warned) {
          warned = true;
          logger.warn(
            'this runtime cannot renew the webhook certificate in place; restart weftd within 24 h',
          );
        }
      };
      s.addIdentityCertificateListener(renewed);
      cleanups.push(() => webhook.close());
      cleanups.push(() => s.removeIdentityCertificateListener(renewed));
      injectionAddress = webhook.address;
    }
    listening = true;
    logger.info('weftd listening', {
      xds: xdsAddress ?? 'off',
      xds_tls: xdsTlsAddress ?? 'off',
      admin: admin.address,
      injection: injectionAddress ?? 'off',
      trust_domain: trustDomain,
      ca_root: root.origin,
    });

    const readyWaiters = loop.firstSnapshot();
    let closed = false;
    return {
      addresses: {
        xds: xdsAddress,
        xdsTls: xdsTlsAddress,
        admin: admin.address,
        injection: injectionAddress,
      },
      trustBundlePem: ca.trustBundlePem,
      ready,
      whenReady: () => readyWaiters,
      snapshot: () => current,
      configStatus,
      syncz,
      metrics,
      async close() {
        if (closed) return;
        closed = true;
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
