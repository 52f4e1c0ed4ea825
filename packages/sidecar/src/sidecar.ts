// The sidecar: a composition root over @weft/proxy-core (store, config sources, decisions,
// certificates, sockets, admin endpoint) and @weft/l7 (the engine, twice: 'sidecar-inbound' and
// 'sidecar-outbound'). One pod, one identity. Inbound HBONE (15008) and plaintext (15006) go to
// the app on the pod's own address; outbound from the app (15001, SOCKS5 15080) goes over HBONE
// to every mesh peer: node ztunnels, waypoints and other sidecars. Proxyless gRPC peers speak
// mesh mTLS instead: terminated on 15006 (inbound.ts), originated towards them (outbound.ts). Admin (15000), metrics
// (15020, the engines' Istio metrics with reporter="destination" and reporter="source") and
// readiness (15021, once config is synced and the certificate installed).
//
// Local mode (no interception): every listener binds the pod's own loopback address.
// Capture mode (config.capture): the process runs inside the pod's network namespace as uid 1337;
// outbound 15001 and inbound 15006 listen on the wildcard addresses (0.0.0.0 and ::) for the
// connections the pod's REDIRECT rules send there, and read their original destination with
// SO_ORIGINAL_DST (capture.ts); HBONE, admin, metrics and readiness stay on the pod IP. The app
// is reached at podIP:port from 127.0.0.6, the source the pod's rules never capture.
import type { Server, Socket } from 'node:net';
import { createCaClient, createCertManager } from '@weft/ca/client';
import {
  type CertSource,
  createHboneClient,
  createHboneServer,
  createMtlsAcceptor,
  type HboneClient,
  type HboneServer,
  type HboneServerLimits,
} from '@weft/hbone';
import {
  type Clock,
  createEngine,
  createHboneUpstreamConnector,
  createInbound,
  type Delay,
  type Engine,
  type EngineConfig,
  type UpstreamConnector,
} from '@weft/l7';
import { normalizeIp } from '@weft/policy/runtime';
import {
  closeServer,
  createHttpEndpoint,
  createIdentityCerts,
  createLocalSocketFactory,
  createStateStore,
  defaultXdsTypes,
  dumpState,
  type IdentityCerts,
  type ListenAddress,
  loadConfigFile,
  type OutboundTarget,
  roundRobinPicker,
  type SocketFactory,
  type StateStore,
  sendJson,
  sendText,
  startXdsSource,
  type XdsSource,
} from '@weft/proxy-core';
import {
  type AccessLogger,
  createRegistry,
  type IdSource,
  type Logger,
  type MetricsRegistry,
  metricsHandler,
  noopLogger,
  rejectCounter,
} from '@weft/telemetry';
import {
  CAPTURE_WILDCARDS,
  type CaptureNet,
  captureAppConnector,
  captureSocketFactory,
  loadCaptureNet,
} from './capture.ts';
import { createSidecarInbound, firstContainerPort, type InboundOriginalPort } from './inbound.ts';
import { createSidecarOutbound, type OutboundOriginalDestination } from './outbound.ts';

export type { ListenAddress };

export interface SidecarConfig {
  /** The pod, "namespace/name" (the ADS node id is sidecar~<namespace>/<name>). */
  readonly pod: string;
  /** The pod's address: every listener binds it by default, the app listens on it. */
  readonly podIp: string;
  /** The pod's identity (its service account's SPIFFE ID); default the CertSource's default. */
  readonly identity?: string;
  readonly trustDomains?: readonly string[];
  /** HBONE inbound. Default podIp:15008. */
  readonly hbone?: ListenAddress;
  /** Plaintext inbound (PERMISSIVE only). Default podIp:15006; false: off. */
  readonly inbound?: ListenAddress | false;
  /** Outbound listener (original destination per connection). Default podIp:15001; false: off. */
  readonly outbound?: ListenAddress | false;
  /** Where the outbound listener sends when no original destination is known (local mode). */
  readonly outboundTarget?: OutboundTarget;
  /** SOCKS5 outbound. Default podIp:15080; false: off. */
  readonly socks5?: ListenAddress | false;
  /** Admin. Default podIp:15000; false: off. */
  readonly admin?: ListenAddress | false;
  /** Prometheus metrics. Default podIp:15020; false: off. */
  readonly metrics?: ListenAddress | false;
  /** Readiness. Default podIp:15021; false: off. */
  readonly readiness?: ListenAddress | false;
  /** Both engines: filter chain, limits, path normalization. */
  readonly engine?: Omit<EngineConfig, 'waypoint' | 'role'>;
  readonly hboneLimits?: Partial<HboneServerLimits>;
  /** HBONE port of peers (ztunnels, waypoints, sidecars). Default 15008. */
  readonly upstreamHbonePort?: number;
  readonly connectTimeoutMs?: number;
  /**
   * How long a caller on the inbound port may stay silent before it is taken for plaintext, when
   * the port is not STRICT (the first bytes tell mesh mTLS from a proxyless peer from plaintext).
   * Default 1 s.
   */
  readonly inboundSniffTimeoutMs?: number;
  readonly ca?: { readonly address: string; readonly token?: () => string | undefined };
  readonly xds?: { readonly address: string; readonly token?: () => string | undefined };
  readonly configFile?: string;
  /**
   * Capture mode: real interception (iptables REDIRECT in the pod netns, this process's uid
   * excluded). Outbound and inbound default to the wildcard addresses, original destinations
   * come from SO_ORIGINAL_DST (@weft/linux-net); outboundTarget, when set, serves connections
   * that have none.
   */
  readonly capture?: boolean;
}

export interface SidecarDeps {
  readonly certs?: CertSource;
  readonly store?: StateStore;
  readonly sockets?: SocketFactory;
  /** How the inbound engine reaches the app; default plain TCP to podIp:port. */
  readonly appConnector?: UpstreamConnector;
  readonly originalDestination?: OutboundOriginalDestination;
  readonly inboundOriginalPort?: InboundOriginalPort;
  /** Capture mode's SO_ORIGINAL_DST; default @weft/linux-net. */
  readonly captureNet?: CaptureNet;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly delay?: Delay;
  readonly logger?: Logger;
  readonly registry?: MetricsRegistry;
  readonly accessLog?: AccessLogger;
  readonly ids?: IdSource;
}

type Addr = { readonly ip: string; readonly port: number };

export interface SidecarAddresses {
  readonly hbone: Addr;
  readonly inbound?: Addr;
  readonly outbound?: Addr;
  readonly socks5?: Addr;
  readonly admin?: Addr;
  readonly metrics?: Addr;
  readonly readiness?: Addr;
  /** Capture mode: every outbound and inbound listener (both address families). */
  readonly capture?: { readonly outbound: readonly Addr[]; readonly inbound: readonly Addr[] };
}

export interface Sidecar {
  readonly addresses: SidecarAddresses;
  readonly store: StateStore;
  readonly engines: { readonly inbound: Engine; readonly outbound: Engine };
  readonly registry: MetricsRegistry;
  ready(): boolean;
  close(): Promise<void>;
}

export async function createSidecar(config: SidecarConfig, deps: SidecarDeps = {}): Promise<Sidecar> {
  const [namespace = '', name = ''] = config.pod.split('/');
  if (namespace === '' || name === '' || config.pod.split('/').length !== 2)
    throw new Error(`createSidecar: pod ${JSON.stringify(config.pod)} is not namespace/name`);
  const podIp = normalizeIp(config.podIp);
  if (podIp === undefined) throw new Error(`createSidecar: podIp ${JSON.stringify(config.podIp)} is no IP`);
  const log = (deps.logger ?? noopLogger).child({ component: 'sidecar', pod: config.pod });
  const registry = deps.registry ?? createRegistry();
  const rejects = rejectCounter('sidecar', registry);
  const store = deps.store ?? createStateStore();
  let captureNet: CaptureNet | undefined;
  if (config.capture === true) {
    captureNet = deps.captureNet;
    if (captureNet === undefined) {
      const loaded = await loadCaptureNet();
      if (!loaded.ok) throw new Error(`createSidecar: capture mode cannot start: ${loaded.reason}`);
      captureNet = loaded.net;
    }
  }
  const sockets =
    deps.sockets ??
    (captureNet !== undefined
      ? captureSocketFactory(createLocalSocketFactory({ allowNonLoopback: true }))
      : createLocalSocketFactory());

  let identityCerts: IdentityCerts | undefined;
  let caClose: (() => void) | undefined;
  let certs: CertSource;
  if (deps.certs !== undefined) certs = deps.certs;
  else if (config.ca !== undefined) {
    if (config.identity === undefined) throw new Error('createSidecar: config.ca needs config.identity');
    const client = createCaClient({
      address: config.ca.address,
      ...(config.ca.token !== undefined ? { token: config.ca.token } : {}),
    });
    caClose = () => client.close();
    // the pod's own token names its identity: no impersonation
    identityCerts = createIdentityCerts({
      source: client,
      createManager: (_identity, source) => createCertManager({ source }),
      logger: log,
    });
    identityCerts.reconcile([config.identity]);
    certs = identityCerts.certs;
  } else throw new Error('createSidecar: no certificates (give deps.certs or config.ca)');

  const sourceIdentity = config.identity !== undefined ? { sourceIdentity: config.identity } : {};
  const hboneClient: HboneClient = createHboneClient({ certs, logger: log });
  const common = {
    store,
    logger: log,
    registry,
    ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
    ...(deps.random !== undefined ? { random: deps.random } : {}),
    ...(deps.delay !== undefined ? { delay: deps.delay } : {}),
    ...(deps.accessLog !== undefined ? { accessLog: deps.accessLog } : {}),
    ...(deps.ids !== undefined ? { ids: deps.ids } : {}),
  };
  const inboundEngine = createEngine(
    { ...config.engine, role: 'sidecar-inbound' },
    {
      ...common,
      ...(deps.appConnector !== undefined
        ? { connector: deps.appConnector }
        : captureNet !== undefined
          ? { connector: captureAppConnector() }
          : {}),
    },
  );
  const outboundEngine = createEngine(
    { ...config.engine, role: 'sidecar-outbound' },
    {
      ...common,
      connector: createHboneUpstreamConnector({
        client: hboneClient,
        ...sourceIdentity,
        ...(config.upstreamHbonePort !== undefined ? { hbonePort: config.upstreamHbonePort } : {}),
      }),
    },
  );
  const inboundL7 = createInbound(inboundEngine, deps.random);
  const outboundL7 = createInbound(outboundEngine, deps.random);
  // Mesh mTLS from proxyless peers on 15006, as the pod (what their clients check).
  const mtlsAcceptor = createMtlsAcceptor({
    certs,
    ...(config.identity !== undefined ? { identity: config.identity } : {}),
    ...(config.trustDomains !== undefined ? { trustDomains: config.trustDomains } : {}),
    ...(config.hboneLimits?.handshakeTimeoutMs !== undefined
      ? { handshakeTimeoutMs: config.hboneLimits.handshakeTimeoutMs }
      : {}),
  });
  const inbound = createSidecarInbound({
    mtls: mtlsAcceptor,
    ...(config.inboundSniffTimeoutMs !== undefined ? { sniffTimeoutMs: config.inboundSniffTimeoutMs } : {}),
    podIp,
    state: () => store.state,
    l7: inboundL7,
    target: (ip, port) => inboundEngine.state().target(ip, port),
    rejects,
    originalPort:
      deps.inboundOriginalPort ??
      (captureNet !== undefined
        ? (socket) => captureNet.originalDestination(socket)?.port
        : firstContainerPort),
  });
  const outbound = createSidecarOutbound({
    podIp,
    state: () => store.state,
    l7: outboundL7,
    hbone: hboneClient,
    certs,
    ...(config.identity !== undefined ? { identity: config.identity } : {}),
    sockets,
    rejects,
    pick: roundRobinPicker(),
    // Inside the pod netns only the pod's own processes reach 15001 (the rules send inbound
    // traffic for it to 15006), whatever source address (v4 or v6) they use.
    ...(captureNet !== undefined ? { capturedFromPod: true } : {}),
    ...(config.upstreamHbonePort !== undefined ? { hbonePort: config.upstreamHbonePort } : {}),
    ...(config.connectTimeoutMs !== undefined ? { connectTimeoutMs: config.connectTimeoutMs } : {}),
  });

  const hbone: HboneServer = createHboneServer({
    certs,
    ...(config.identity !== undefined ? { identity: config.identity } : {}),
    ...(config.trustDomains !== undefined ? { trustDomains: config.trustDomains } : {}),
    ...(config.hboneLimits !== undefined ? { limits: config.hboneLimits } : {}),
    logger: log,
    hooks: { onConnectionRejected: (e) => rejects.reject(`hbone_${e.reason}`) },
    authorize: (peer, dest) => inbound.authorizeHbone(peer, dest),
    connectUpstream: (dest, ctx) => Promise.resolve(inbound.connectHbone(dest, ctx.peer)),
  });

  const ready = () => store.state.synced && certs.current(config.identity) !== undefined;
  const servers: Server[] = [];
  let xds: XdsSource | undefined;
  const at = (a: ListenAddress | undefined, port: number) => ({
    ip: a?.host ?? podIp,
    port: a?.port ?? port,
  });
  const bind = async (a: ListenAddress | undefined, port: number, handle: (s: Socket) => void) => {
    const server = await sockets.listen(at(a, port));
    server.on('connection', handle);
    servers.push(server);
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('listener has no TCP address');
    return { ip: bound.address, port: bound.port };
  };
  const bindHttp = async (a: ListenAddress | undefined, port: number, server: Server) => {
    await sockets.listen(at(a, port), { server });
    servers.push(server);
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('listener has no TCP address');
    return { ip: bound.address, port: bound.port };
  };
  // Capture mode: an explicit address binds just that; by default both wildcards, where `::` may
  // be missing (IPv6 disabled in the pod netns) without failing the start.
  const bindCapture = async (a: ListenAddress | undefined, port: number, handle: (s: Socket) => void) => {
    if (a !== undefined) return [await bind(a, port, handle)];
    const bound: Addr[] = [];
    for (const host of CAPTURE_WILDCARDS) {
      try {
        bound.push(await bind({ host, port }, port, handle));
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (host !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
        log.info('no IPv6 in the pod network namespace; capturing IPv4 only', { port });
      }
    }
    return bound;
  };
  const onBadRequest = () => rejects.reject('admin_bad_request');
  try {
    const hboneAddr = await hbone.listen({
      host: config.hbone?.host ?? podIp,
      port: config.hbone?.port ?? 15008,
    });
    const addresses: { -readonly [K in keyof SidecarAddresses]: SidecarAddresses[K] } = { hbone: hboneAddr };
    const dest: OutboundOriginalDestination =
      deps.originalDestination ??
      (captureNet !== undefined
        ? (socket) => {
            const d = captureNet.originalDestination(socket);
            return d !== undefined ? { kind: 'address', ip: d.ip, port: d.port } : config.outboundTarget;
          }
        : () => config.outboundTarget);
    const onInbound = (s: Socket) => inbound.handlePlaintext(s);
    const onOutbound = (s: Socket) => outbound.handleCaptured(s, dest(s));
    if (captureNet !== undefined) {
      const capture = {
        inbound: config.inbound === false ? [] : await bindCapture(config.inbound, 15006, onInbound),
        outbound: config.outbound === false ? [] : await bindCapture(config.outbound, 15001, onOutbound),
      };
      addresses.capture = capture;
      if (capture.inbound[0] !== undefined) addresses.inbound = capture.inbound[0];
      if (capture.outbound[0] !== undefined) addresses.outbound = capture.outbound[0];
    } else {
      if (config.inbound !== false) addresses.inbound = await bind(config.inbound, 15006, onInbound);
      if (config.outbound !== false) addresses.outbound = await bind(config.outbound, 15001, onOutbound);
    }
    if (config.socks5 !== false)
      addresses.socks5 = await bind(config.socks5, 15080, (s) => outbound.handleSocks5(s));
    if (config.admin !== false) {
      addresses.admin = await bindHttp(
        config.admin,
        15000,
        createHttpEndpoint({
          onBadRequest,
          routes: {
            '/config_dump': (_req, res) =>
              sendJson(res, 200, {
                pod: config.pod,
                podIp,
                capture: captureNet !== undefined,
                config: dumpState(store),
                ...(xds !== undefined ? { xds: xds.status() } : {}),
                filters: inboundEngine.filters(),
              }),
            '/certs': (_req, res) =>
              sendJson(
                res,
                200,
                identityCerts?.list() ?? { identity: config.identity ?? null, present: ready() },
              ),
            '/clusters': (_req, res) => sendJson(res, 200, outboundEngine.upstreams.stats()),
            '/stats': (_req, res) =>
              sendJson(res, 200, { hbone: hbone.stats(), hboneClient: hboneClient.stats() }),
          },
        }),
      );
    }
    if (config.metrics !== false) {
      const handler = metricsHandler(registry);
      addresses.metrics = await bindHttp(
        config.metrics,
        15020,
        createHttpEndpoint({
          onBadRequest,
          routes: {
            '/stats/prometheus': (req, res) => handler(req, res),
            '/metrics': (req, res) => handler(req, res),
          },
        }),
      );
    }
    if (config.readiness !== false) {
      addresses.readiness = await bindHttp(
        config.readiness,
        15021,
        createHttpEndpoint({
          onBadRequest,
          routes: {
            '/healthz/ready': (_req, res) =>
              sendText(res, ready() ? 200 : 503, ready() ? 'ready\n' : 'not ready\n'),
          },
        }),
      );
    }
    if (config.xds !== undefined) {
      xds = startXdsSource({
        store,
        target: config.xds.address,
        proxy: { kind: 'sidecar', namespace, name },
        nodeMetadata: { POD_IP: podIp },
        types: defaultXdsTypes('sidecar'),
        ...(config.xds.token !== undefined ? { token: config.xds.token } : {}),
        logger: log,
      });
    } else if (config.configFile !== undefined) {
      const loaded = await loadConfigFile(store, config.configFile);
      if (!loaded.ok) throw new Error(`config file refused: ${loaded.parseErrors.join('; ')}`);
      for (const e of loaded.invalid)
        log.warn('manifest object refused', { reason: `${e.path}: ${e.message}` });
    }
    const fmt = (a: Addr | undefined) => (a === undefined ? 'off' : `${a.ip}:${a.port}`);
    log.info('sidecar started', {
      hbone: fmt(addresses.hbone),
      inbound: fmt(addresses.inbound),
      outbound: fmt(addresses.outbound),
      socks5: fmt(addresses.socks5),
      admin: fmt(addresses.admin),
      metrics: fmt(addresses.metrics),
      readiness: fmt(addresses.readiness),
    });
    return {
      addresses,
      store,
      engines: { inbound: inboundEngine, outbound: outboundEngine },
      registry,
      ready,
      async close() {
        xds?.close();
        for (const s of servers) await closeServerFully(s);
        outbound.close();
        mtlsAcceptor.close();
        await hbone.close({ graceMs: 500 });
        inboundL7.close();
        outboundL7.close();
        await hboneClient.close({ graceMs: 0 });
        inboundEngine.close();
        outboundEngine.close();
        identityCerts?.close();
        caClose?.();
      },
    };
  } catch (e) {
    xds?.close();
    for (const s of servers) await closeServerFully(s);
    await hbone.close({ graceMs: 0 }).catch(() => {});
    mtlsAcceptor.close();
    await hboneClient.close({ graceMs: 0 });
    inboundEngine.close();
    outboundEngine.close();
    identityCerts?.close();
    caClose?.();
    throw e;
  }
}

async function closeServerFully(server: Server): Promise<void> {
  closeServer(server);
  (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
}
