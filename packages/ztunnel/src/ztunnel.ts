// Composition root (STYLE.md point 8): builds one ztunnel from its config and capabilities.
// main.ts only parses flags and calls this; tests call the same builder.
//
// Local-mode addressing (the weftd/ztunnel contract): node-level listeners on the node's own
// loopback address (SOCKS5 15080, outbound capture 15001, admin 15000, metrics 15020, readiness
// 15021) and, for each local ambient workload, HBONE 15008 and plaintext 15006 on the workload's
// own IP, as the in-pod model opens them inside each pod's network namespace.
//
// In-pod mode (config.inPod): the node agent enrolls pods over a unix socket; for each enrolled
// pod whose workload is local and ambient, 15008/15006/15001 open inside the pod's network
// namespace (workload-listeners.ts) and every upstream socket for the pod starts there, marked.
// Node-level listeners stay on nodeIp, which may then be a non-loopback node address.
import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { type CertificateSource, type CertManager, createCaClient } from '@weft/ca/client';
import { createHboneClient, type HboneClient } from '@weft/hbone';
import {
  DEFAULT_ROOT_NAMESPACE,
  DEFAULT_TRUST_DOMAIN,
  normalizeIp,
  type Workload,
} from '@weft/policy/runtime';
import {
  closeServer,
  createHttpEndpoint,
  createIdentityCerts,
  createListenerReconciler,
  createLocalSocketFactory,
  createStateStore,
  DEFAULT_PORTS,
  defaultXdsTypes,
  dumpState,
  type EndpointPicker,
  FILE_SOURCE,
  type IdentityCerts,
  isLoopback,
  loadConfigFile,
  type OutboundTarget,
  type ProxyPorts,
  proxyOwnedPorts,
  type Route,
  randomPicker,
  roundRobinPicker,
  type SocketAddress,
  type SocketFactory,
  type StateStore,
  sendJson,
  sendText,
  startXdsSource,
  type XdsResourceTypes,
  type XdsSource,
} from '@weft/proxy-core';
import {
  createRegistry,
  type LineSink,
  type Logger,
  type MetricsRegistry,
  metricsHandler,
  noopLogger,
} from '@weft/telemetry';
import type { InboundOriginalDestination } from './inbound/plaintext.ts';
import { createPodEnrollment, type EnrolledPod, podKey } from './inpod/enrollment.ts';
import { DEFAULT_INPOD_MARK, type InPodNet, loadLinuxNet } from './inpod/net.ts';
import { createBoundedWait } from './inpod/wait.ts';
import { ZTUNNEL_MODE } from './mode.ts';
import { createCaptureServer, type OriginalDestination } from './outbound/capture.ts';
import { createOutboundExecutor } from './outbound/execute.ts';
import { createSocks5Server } from './outbound/socks5.ts';
import { createZtunnelTelemetry, type ZtunnelTelemetry } from './telemetry.ts';
import {
  type InPodListenerOptions,
  openLocalWorkload,
  openPodWorkload,
  type WorkloadItem,
  type WorkloadListenerContext,
  type WorkloadListeners,
  workloadFingerprint,
} from './workload-listeners.ts';

export { DEFAULT_PORTS } from '@weft/proxy-core';

/** The ports a ztunnel listens on (proxy-core's node proxy ports). */
export type ZtunnelPorts = ProxyPorts;

export interface ZtunnelConfig {
  /** Kubernetes node name: which workloads are local. */
  readonly nodeName: string;
  /** The node's own address (local mode: a 127.0.x.y of its own) for node-level listeners. */
  readonly nodeIp: string;
  readonly trustDomain?: string;
  readonly rootNamespace?: string;
  /** weftd's ADS `host:port`. Without it (and without configFile) the store stays empty. */
  readonly xdsAddress?: string;
  /** Reconnect backoff of the xDS client (ms). */
  readonly xdsBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** The CA `host:port`; default xdsAddress (weftd serves both). */
  readonly caAddress?: string;
  /** File holding the bearer token for the CA and xDS (re-read on each use). */
  readonly tokenFile?: string;
  /** Static config: YAML/JSON manifests compiled locally (tests, debugging). */
  readonly configFile?: string;
  readonly ports?: Partial<ZtunnelPorts>;
  /** Endpoint choice within a service port. Default round-robin. */
  readonly loadBalancing?: 'round-robin' | 'random';
  /** Upstream connect deadline (TCP or HBONE). Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** SOCKS5 greeting + request deadline. Default 10 s. */
  readonly socks5HandshakeTimeoutMs?: number;
  /** HBONE TLS handshake deadline (and that of mesh mTLS from proxyless peers on 15006). Default 10 s. */
  readonly hboneHandshakeTimeoutMs?: number;
  /**
   * How long a caller on 15006 may stay silent before it is taken for plaintext, when the port is
   * not STRICT (the first bytes tell mesh mTLS from a proxyless peer from plaintext). Default 1 s.
   */
  readonly inboundSniffTimeoutMs?: number;
  /** Access-log line format. Default kv. */
  readonly accessLogFormat?: 'kv' | 'json';
  /** Per-listener connection caps. */
  readonly maxConnections?: number;
  /** Per-listener concurrent handshakes (HBONE TLS, SOCKS5) before new connections are refused. */
  readonly maxHandshakes?: number;
  /**
   * Local mode's fixed listeners: `listen` (on the node address) forwards every connection into
   * the mesh as if workload `sourceIp` had dialled `target` (an IP or mesh hostname, with port).
   * For clients that cannot use SOCKS5 or bind a source address (load generators, browsers).
   */
  readonly forwards?: readonly ForwardConfig[];
  /**
   * Let the node-level listeners (admin, metrics, readiness, SOCKS5, forwards) bind a
   * non-loopback nodeIp, e.g. a node network namespace's own address. Implied by inPod.
   */
  readonly allowNonLoopback?: boolean;
  /**
   * In-pod mode (ambient with real interception): the node agent enrolls pods over
   * `nodeAgentSocket` (@weft/cni/protocol) and ztunnel opens each enrolled pod's 15001/15006/15008
   * listeners inside the pod's network namespace through @weft/linux-net.
   */
  readonly inPod?: InPodConfig;
}

export interface InPodConfig {
  /** The node agent's unix socket. */
  readonly nodeAgentSocket: string;
  /** SO_MARK on ztunnel's sockets in pod netns (the rules skip it). Default 1337 (0x539). */
  readonly mark?: number;
  /** How long an add waits for the mesh config to name the pod's workload. Default 5 s. */
  readonly workloadWaitMs?: number;
  /** Reconnect backoff to the node agent (ms). */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
}

export interface ForwardConfig {
  readonly port: number;
  readonly sourceIp: string;
  readonly target: OutboundTarget;
}

export interface ZtunnelDeps {
  /** Where listeners and upstream sockets come from. Default: local mode (loopback). */
  readonly sockets?: SocketFactory;
  /** A store to use (tests pre-fill it); default a new one. */
  readonly store?: StateStore;
  /** The CA capability; default a gRPC client of caAddress with the token file. */
  readonly certificates?: CertificateSource;
  /** Builds the cert manager of one identity (tests: short lifetimes, fake clocks). */
  readonly createCertManager?: (identity: string, source: CertificateSource) => CertManager;
  /** weft.v1 -> domain type configs for the xDS client; default `@weft/xds-protocol/convert`. */
  readonly xdsTypes?: XdsResourceTypes;
  readonly logger?: Logger;
  /** Access-log lines; default discarded (the binary writes them to stdout). */
  readonly accessLog?: LineSink;
  readonly registry?: MetricsRegistry;
  /** Randomness for the random endpoint picker. */
  readonly random?: () => number;
  /** Original destination of captured outbound connections (SO_ORIGINAL_DST in netns mode). */
  readonly outboundOriginalDestination?: OriginalDestination;
  /** Original destination port of plaintext inbound connections; default the first container port. */
  readonly inboundOriginalDestination?: InboundOriginalDestination;
  /** In-pod mode's sockets in pod netns and SO_ORIGINAL_DST; default @weft/linux-net. */
  readonly inPodNet?: InPodNet;
}

export interface ZtunnelAddresses {
  readonly admin: SocketAddress;
  readonly metrics: SocketAddress;
  readonly readiness: SocketAddress;
  readonly socks5: SocketAddress;
  readonly outboundCapture: SocketAddress;
  /** The fixed forwarding listeners, in config order. */
  readonly forwards: readonly SocketAddress[];
  /** Per local workload uid: its HBONE and plaintext inbound listeners. */
  readonly workloads: Readonly<
    Record<string, { readonly hbone: SocketAddress; readonly plaintext: SocketAddress }>
  >;
}

export interface Ztunnel {
  readonly addresses: ZtunnelAddresses;
  readonly store: StateStore;
  readonly telemetry: ZtunnelTelemetry;
  /** Config synced and certificates + listeners of every local workload ready. */
  ready(): boolean;
  whenReady(): Promise<void>;
  close(): Promise<void>;
}

function readToken(path: string): string | undefined {
  try {
    const t = readFileSync(path, 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

export async function createZtunnel(config: ZtunnelConfig, deps: ZtunnelDeps = {}): Promise<Ztunnel> {
  const nodeIp = normalizeIp(config.nodeIp);
  if (nodeIp === undefined) throw new Error(`nodeIp: "${config.nodeIp}" is not an IP address`);
  if (config.nodeName === '') throw new Error('nodeName: empty');
  const ports: ZtunnelPorts = { ...DEFAULT_PORTS, ...config.ports };
  const proxyPorts = proxyOwnedPorts(ports);
  const logger = deps.logger ?? noopLogger;
  let inPod: InPodListenerOptions | undefined;
  const mark = config.inPod?.mark ?? DEFAULT_INPOD_MARK;
  if (config.inPod !== undefined) {
    if (config.inPod.nodeAgentSocket === '') throw new Error('inPod.nodeAgentSocket: empty');
    if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) {
      throw new Error(`inPod.mark: ${mark} is not a packet mark (1..2^32-1)`);
    }
    let net = deps.inPodNet;
    if (net === undefined) {
      const loaded = await loadLinuxNet();
      if (!loaded.ok) throw new Error(`in-pod mode cannot start: ${loaded.reason}`);
      net = loaded.net;
    }
    inPod = { net, mark };
  }
  if (deps.sockets === undefined && !isLoopback(nodeIp) && config.allowNonLoopback !== true && !inPod) {
    throw new Error(
      `nodeIp: ${nodeIp} is not a loopback address; local mode binds loopback only ` +
        '(allow it with allowNonLoopback / --allow-non-loopback, or run in-pod mode)',
    );
  }
  const sockets =
    deps.sockets ??
    createLocalSocketFactory({ allowNonLoopback: config.allowNonLoopback === true || inPod !== undefined });
  const registry = deps.registry ?? createRegistry();
  const trustDomain = config.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const store =
    deps.store ??
    createStateStore({ trustDomain, rootNamespace: config.rootNamespace ?? DEFAULT_ROOT_NAMESPACE });
  const telemetry = createZtunnelTelemetry({
    registry,
    accessLog: deps.accessLog ?? { write: () => {} },
    ...(config.accessLogFormat !== undefined ? { accessLogFormat: config.accessLogFormat } : {}),
  });
  const token = config.tokenFile === undefined ? undefined : () => readToken(config.tokenFile as string);

  const caAddress = config.caAddress ?? config.xdsAddress;
  let caClient: { close(): void } | undefined;
  let certificates = deps.certificates;
  if (certificates === undefined) {
    if (caAddress === undefined) {
      certificates = {
        createCertificate: async () => ({
          ok: false,
          error: { code: 14, codeName: 'UNAVAILABLE', message: 'no CA address configured' },
        }),
      };
    } else {
      const client = createCaClient({ address: caAddress, ...(token !== undefined ? { token } : {}) });
      caClient = client;
      certificates = client;
    }
  }
  const identities: IdentityCerts = createIdentityCerts({
    source: certificates,
    logger: logger.child({ component: 'certs' }),
    ...(deps.createCertManager !== undefined ? { createManager: deps.createCertManager } : {}),
  });

  const hboneClient: HboneClient = createHboneClient({
    certs: identities.certs,
    // Outbound HBONE connections are sockets like any other: the SocketFactory places them.
    sockets,
    logger,
    pool: { connectTimeoutMs: config.connectTimeoutMs ?? 10_000 },
  });
  const executor = createOutboundExecutor({
    hbone: (req) => hboneClient.connect(req),
    sockets,
    certs: identities.certs,
    telemetry,
    logger,
    ...(config.connectTimeoutMs !== undefined ? { connectTimeoutMs: config.connectTimeoutMs } : {}),
  });
  const pick: EndpointPicker =
    config.loadBalancing === 'random' ? randomPicker(deps.random ?? Math.random) : roundRobinPicker();
  const state = () => store.state;
  const common = {
    nodeName: config.nodeName,
    state,
    executor,
    telemetry,
    logger,
    pick,
    hbonePort: ports.hbone,
  };
  const socks5 = createSocks5Server({
    ...common,
    ...(config.socks5HandshakeTimeoutMs !== undefined
      ? { handshakeTimeoutMs: config.socks5HandshakeTimeoutMs }
      : {}),
    ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
    ...(config.maxHandshakes !== undefined ? { maxHandshakes: config.maxHandshakes } : {}),
  });
  const capture = createCaptureServer({
    ...common,
    ...(deps.outboundOriginalDestination !== undefined
      ? { originalDestination: deps.outboundOriginalDestination }
      : {}),
    ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
  });
  const forwarders = (config.forwards ?? []).map((f) =>
    createCaptureServer({
      ...common,
      forward: { sourceIp: f.sourceIp, target: f.target },
      ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
    }),
  );

  const nodeServers: Server[] = [];
  let xds: XdsSource | undefined;
  let closed = false;

  const listenAt = async (port: number, onConnection: (s: Socket) => void): Promise<SocketAddress> => {
    const server = await sockets.listen({ ip: nodeIp, port });
    server.on('connection', onConnection);
    nodeServers.push(server);
    const a = server.address();
    return typeof a === 'object' && a !== null ? { ip: nodeIp, port: a.port } : { ip: nodeIp, port };
  };
  const listenHttp = async (port: number, routes: Record<string, Route>): Promise<SocketAddress> => {
    const http = createHttpEndpoint({
      routes,
      onBadRequest: () => telemetry.rejects.reject('http_bad_request'),
      ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
    });
    const server = await sockets.listen({ ip: nodeIp, port }, { server: http });
    nodeServers.push(server);
    const a = server.address();
    return typeof a === 'object' && a !== null ? { ip: nodeIp, port: a.port } : { ip: nodeIp, port };
  };

  // ---- local workloads: certificates and per-workload listeners, reconciled on every change.

  const localWorkloads = () =>
    store.state.workloadsOnNode(config.nodeName).filter((w) => w.mode === ZTUNNEL_MODE && w.ips.length > 0);
  const listenerContext: WorkloadListenerContext = {
    nodeName: config.nodeName,
    state,
    certs: identities.certs,
    telemetry,
    logger,
    trustDomain,
    ports,
    proxyPorts,
    pick,
    ...(config.maxConnections !== undefined ? { maxConnections: config.maxConnections } : {}),
    ...(config.maxHandshakes !== undefined ? { maxHandshakes: config.maxHandshakes } : {}),
    ...(config.hboneHandshakeTimeoutMs !== undefined
      ? { hboneHandshakeTimeoutMs: config.hboneHandshakeTimeoutMs }
      : {}),
    ...(config.connectTimeoutMs !== undefined ? { connectTimeoutMs: config.connectTimeoutMs } : {}),
    ...(config.inboundSniffTimeoutMs !== undefined
      ? { inboundSniffTimeoutMs: config.inboundSniffTimeoutMs }
      : {}),
    ...(deps.inboundOriginalDestination !== undefined
      ? { inboundOriginalDestination: deps.inboundOriginalDestination }
      : {}),
  };

  // In-pod mode: only pods the node agent enrolled get listeners, inside their netns.
  const enrollment =
    inPod === undefined
      ? undefined
      : createPodEnrollment({
          apply: () => reconcile(),
          status: (pod) => podStatus(pod),
        });
  const podWorkload = (pod: EnrolledPod): Workload | undefined =>
    localWorkloads().find((w) =>
      pod.pod.uid !== undefined && pod.pod.uid === w.uid
        ? true
        : w.namespace === pod.pod.namespace && w.name === pod.pod.name,
    );
  const wantedItems = (): WorkloadItem[] => {
    if (enrollment === undefined) return localWorkloads().map((workload) => ({ workload }));
    const items: WorkloadItem[] = [];
    for (const pod of enrollment.pods().values()) {
      const workload = podWorkload(pod);
      if (workload !== undefined) items.push({ workload, netns: pod.netns });
    }
    return items;
  };

  // proxy-core's reconciler decides when listeners open and close; workload-listeners.ts what they are.
  const listeners = createListenerReconciler<WorkloadItem, WorkloadListeners>({
    key: (item) => item.workload.uid,
    fingerprint: workloadFingerprint,
    open: (item) =>
      item.netns !== undefined && inPod !== undefined
        ? openPodWorkload(listenerContext, inPod, { workload: item.workload, netns: item.netns })
        : openLocalWorkload(listenerContext, sockets, item.workload),
    close: (l, graceMs) => l.close(graceMs),
    onError: (uid, err, phase) => {
      const w = store.state.workloads.get(uid);
      logger.warn(phase === 'open' ? 'workload listeners failed' : 'workload listeners close failed', {
        workload: w !== undefined ? `${w.namespace}/${w.name}` : uid,
        ...(w !== undefined ? { ip: w.ips[0] } : {}),
        error: err.message,
      });
    },
  });
  const workloadListeners = () => new Map([...listeners.entries()].map(([uid, l]) => [uid, l.handle]));
  const reconcile = (): Promise<void> => {
    if (closed) return Promise.resolve();
    const want = wantedItems();
    identities.reconcile(new Set(want.map((i) => i.workload.identity)));
    return listeners.reconcile(want);
  };

  // An agent's add is answered once the pod's listeners are open. A pod whose workload the mesh
  // config does not know yet is waited for (bounded), then refused: the agent usually enrolls a
  // new pod moments before weftd's update naming its address reaches this node.
  // Both waits give up for later pods once one has timed out (weftd or the CA away must not make a
  // snapshot of N pods take N timeouts).
  const syncWait = createBoundedWait(config.inPod?.workloadWaitMs ?? 5000);
  const certWait = createBoundedWait(config.inPod?.workloadWaitMs ?? 5000);
  async function podStatus(pod: EnrolledPod): Promise<string | undefined> {
    const stop = () => closed;
    await syncWait.until(() => podWorkload(pod) !== undefined, stop);
    const w = podWorkload(pod);
    if (w === undefined) {
      return `pod ${podKey(pod.pod)}: no ${ZTUNNEL_MODE} workload on node ${config.nodeName} in the mesh config`;
    }
    await reconcile();
    if (listeners.get(w.uid)?.item.netns !== pod.netns) {
      return `pod ${podKey(pod.pod)}: listeners in ${pod.netns} not open: ${listeners.errors().get(w.uid) ?? 'pending'}`;
    }
    // Listeners are open. Give the pod's certificate a bounded wait too, so the first connection
    // of a freshly started app finds the HBONE side ready; a CA outage does not fail the
    // enrollment (the certificate follows, readiness reports it).
    const identity = w.identity;
    await certWait.until(
      () => identities.list().some((c) => c.identity === identity && c.state === 'ready'),
      stop,
    );
    return undefined;
  }

  const inPodDump = () => {
    if (enrollment === undefined) return undefined;
    return {
      nodeAgentSocket: config.inPod?.nodeAgentSocket,
      mark: mark,
      connected: enrollment.connected(),
      snapshotDone: enrollment.synced(),
      pods: [...enrollment.pods().values()].map((pod) => {
        const w = podWorkload(pod);
        const l = w === undefined ? undefined : listeners.get(w.uid);
        const error = w === undefined ? undefined : listeners.errors().get(w.uid);
        return {
          pod: podKey(pod.pod),
          ...(pod.pod.uid !== undefined ? { uid: pod.pod.uid } : {}),
          netns: pod.netns,
          ...(w !== undefined ? { workload: w.uid } : {}),
          state:
            w === undefined
              ? 'no-workload'
              : l !== undefined
                ? 'open'
                : error !== undefined
                  ? 'error'
                  : 'pending',
          ...(error !== undefined ? { error } : {}),
          ...(l?.handle.addresses.inPod !== undefined ? { listeners: l.handle.addresses.inPod } : {}),
        };
      }),
    };
  };

  // Open tunnels are decided again on every change: a pooled tunnel (a waypoint's) that the new
  // policy refuses is reset rather than kept; so is a proxyless peer's mTLS connection.
  const unsubscribe = store.subscribe(() => {
    for (const l of listeners.entries().values()) {
      l.handle.hbone.revalidate();
      l.handle.mtls.revalidate();
    }
    void reconcile();
  });

  // ---- readiness

  const readiness = () => {
    const reasons: string[] = [];
    if (!store.state.synced) reasons.push('config not synced');
    if (enrollment !== undefined && !enrollment.synced()) reasons.push('node agent snapshot pending');
    if (!identities.ready()) reasons.push('certificates pending');
    const missing = wantedItems()
      .filter((i) => listeners.get(i.workload.uid) === undefined)
      .map((i) => `${i.workload.namespace}/${i.workload.name}`);
    if (missing.length > 0) reasons.push(`listeners pending: ${missing.join(', ')}`);
    return reasons;
  };
  let readyWaiters: (() => void)[] = [];
  const checkReady = () => {
    if (readiness().length > 0) return;
    const list = readyWaiters;
    readyWaiters = [];
    for (const w of list) w();
  };
  const readyTimer = setInterval(checkReady, 50);
  readyTimer.unref?.();

  // ---- node-level listeners

  const addresses = {
    socks5: await listenAt(ports.socks5, (s) => socks5.handleConnection(s)),
    outboundCapture: await listenAt(ports.outboundCapture, (s) => capture.handleConnection(s)),
    forwards: await Promise.all(
      forwarders.map((f, i) => listenAt((config.forwards ?? [])[i]?.port ?? 0, (s) => f.handleConnection(s))),
    ),
    admin: await listenHttp(ports.admin, {
      '/': (_req, res) => sendText(res, 200, 'ztunnel admin: /config_dump /certs /connections\n'),
      '/config_dump': (_req, res) =>
        sendJson(res, 200, {
          node: { name: config.nodeName, ip: nodeIp },
          ...dumpState(store),
          ...(xds !== undefined ? { xds: xds.status() } : {}),
          listeners: Object.fromEntries([...workloadListeners()].map(([uid, l]) => [uid, l.addresses])),
          listenerErrors: Object.fromEntries(listeners.errors()),
          ...(enrollment !== undefined ? { inPod: inPodDump() } : {}),
        }),
      '/certs': (_req, res) => sendJson(res, 200, { certificates: identities.list() }),
      '/connections': (_req, res) =>
        sendJson(res, 200, {
          connections: telemetry.connections().map(({ bytes, ...c }) => ({
            ...c,
            startedAt: new Date(c.startedAt).toISOString(),
            bytes: bytes(),
          })),
          hboneClient: hboneClient.stats(),
        }),
    }),
    metrics: await (async () => {
      const handler = metricsHandler(registry);
      return listenHttp(ports.metrics, { '/metrics': handler, '/stats/prometheus': handler });
    })(),
    readiness: await listenHttp(ports.readiness, {
      '/healthz/ready': (_req, res) => {
        const reasons = readiness();
        if (reasons.length === 0) sendText(res, 200, 'ready\n');
        else sendText(res, 503, `not ready: ${reasons.join('; ')}\n`);
      },
    }),
  };

  // ---- config sources

  if (config.configFile !== undefined) {
    const r = await loadConfigFile(store, config.configFile);
    if (!r.ok)
      logger.warn('config file not loaded', { file: config.configFile, errors: r.parseErrors.join('; ') });
    for (const e of r.invalid) logger.warn('config object rejected', { path: e.path, message: e.message });
    logger.info('config file loaded', { source: FILE_SOURCE, file: config.configFile, ok: r.ok });
  }
  if (config.xdsAddress !== undefined) {
    xds = startXdsSource({
      store,
      target: config.xdsAddress,
      proxy: { kind: 'ztunnel', node: config.nodeName },
      nodeMetadata: { NODE_NAME: config.nodeName, NODE_IP: nodeIp },
      types: deps.xdsTypes ?? defaultXdsTypes(),
      logger: logger.child({ component: 'xds' }),
      ...(token !== undefined ? { token } : {}),
      ...(config.xdsBackoff !== undefined ? { backoff: config.xdsBackoff } : {}),
    });
  }
  await reconcile();
  // The node-agent protocol is loaded only in in-pod mode: a ztunnel without it never carries it.
  const agent =
    enrollment === undefined || config.inPod === undefined
      ? undefined
      : (await import('@weft/cni/protocol')).connectNodeAgent(
          config.inPod.nodeAgentSocket,
          (m) => enrollment.handle(m),
          {
            logger: logger.child({ component: 'node-agent' }),
            onConnection: (up) => enrollment.connection(up),
            ...(config.inPod.backoff !== undefined ? { backoff: config.inPod.backoff } : {}),
          },
        );

  return {
    get addresses() {
      return {
        ...addresses,
        workloads: Object.fromEntries([...workloadListeners()].map(([uid, l]) => [uid, l.addresses])),
      };
    },
    store,
    telemetry,
    ready: () => readiness().length === 0,
    whenReady() {
      if (readiness().length === 0) return Promise.resolve();
      return new Promise((resolve) => readyWaiters.push(resolve));
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(readyTimer);
      unsubscribe();
      xds?.close();
      await agent?.close();
      await Promise.all(nodeServers.map((s) => closeServer(s)));
      socks5.close();
      capture.close();
      for (const f of forwarders) f.close();
      await listeners.close(0);
      await hboneClient.close({ graceMs: 0 });
      identities.close();
      caClient?.close();
      for (const s of nodeServers)
        (s as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    },
  };
}
