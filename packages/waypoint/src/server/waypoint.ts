// The waypoint: a composition root. HBONE inbound (15008): each tunnel's :authority is a service
// VIP:port (or a workload address), the caller is the peer certificate's identity; the tunnel's
// bytes go to the L7 engine through an in-memory socket pair. The engine reaches the chosen
// endpoint over HBONE (endpointIP:15008, :authority endpointIP:targetPort) with the waypoint's
// own identity. Proxyless inbound (15009, proxyless.ts): proxyless gRPC clients, which cannot
// speak HBONE, call through mesh mTLS there and name the service in each request's :authority;
// their requests reach the same engine as a tunnel's. Admin (15000, localhost), metrics (15020)
// and readiness (15021) on the side.
import type { Server } from 'node:http';
import {
  type CertSource,
  createDuplexPair,
  createHboneClient,
  createHboneServer,
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
import {
  createStateStore,
  defaultXdsTypes,
  dumpState,
  type ListenAddress,
  loadConfigFile,
  type StateStore,
  startXdsSource,
  type XdsSource,
} from '@weft/proxy-core';
import type { AccessLogger, IdSource, Logger, MetricsRegistry } from '@weft/telemetry';
import { createRegistry, noopLogger, rejectCounter } from '@weft/telemetry';
import { closeServer, createSmallServer, json, listen, metricsServer, text } from './admin.ts';
import { startCertificates, type WaypointCertificates } from './identity.ts';
import { createProxylessListener } from './proxyless.ts';

export type { ListenAddress };

export interface WaypointConfig {
  /** The waypoint Gateway, "namespace/name": policies naming it apply. */
  readonly name: string;
  /** The local identity whose certificate the waypoint presents (default: the CertSource's default). */
  readonly identity?: string;
  /** Trust domains whose callers are accepted (default: our certificate's). */
  readonly trustDomains?: readonly string[];
  /** HBONE inbound. Default 0.0.0.0:15008. */
  readonly hbone?: ListenAddress;
  /**
   * Proxyless inbound: mesh mTLS + HTTP/2 from proxyless gRPC clients. Default the HBONE host,
   * port 15009 (port 0 when the HBONE port is 0: the system chooses); false: off.
   */
  readonly proxyless?: ListenAddress | false;
  /** Proxyless listener limits: handshake deadline (default 10 s), open connections (10 000). */
  readonly proxylessLimits?: { readonly handshakeTimeoutMs?: number; readonly maxConnections?: number };
  /** Admin (config dump). Default 127.0.0.1:15000; false: off. */
  readonly admin?: ListenAddress | false;
  /** Prometheus metrics. Default 0.0.0.0:15020; false: off. */
  readonly metrics?: ListenAddress | false;
  /** Readiness. Default 0.0.0.0:15021; false: off. */
  readonly readiness?: ListenAddress | false;
  /** The L7 engine: filter chain, limits, path normalization. */
  readonly engine?: Omit<EngineConfig, 'waypoint' | 'role'>;
  readonly hboneLimits?: Partial<HboneServerLimits>;
  /** HBONE port of endpoints (their ztunnel or sidecar). Default 15008. */
  readonly upstreamHbonePort?: number;
  /** Where certificates come from when `deps.certs` is not given. */
  readonly ca?: { readonly address: string; readonly token?: () => string | undefined };
  /** weftd's ADS (proxy-core's xDS source, node id "waypoint~<namespace>/<name>"). */
  readonly xds?: { readonly address: string; readonly token?: () => string | undefined };
  /** Static manifests instead of xDS (debugging; proxy-core's file source). */
  readonly configFile?: string;
}

export interface WaypointDeps {
  /** Certificates: the waypoint's own (HBONE server and client). Default: from `config.ca`. */
  readonly certs?: CertSource;
  /** How endpoints are reached; default HBONE with our identity. Tests pass plain TCP. */
  readonly upstreamConnector?: UpstreamConnector;
  /** The one store (`@weft/proxy-core`). With neither `config.xds` nor `config.configFile`,
   * whoever builds the waypoint writes it with `applyUpdate` (tests). */
  readonly store?: StateStore;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly delay?: Delay;
  readonly logger?: Logger;
  readonly registry?: MetricsRegistry;
  readonly accessLog?: AccessLogger;
  readonly ids?: IdSource;
}

export interface WaypointAddresses {
  readonly hbone: { readonly ip: string; readonly port: number };
  readonly proxyless?: { readonly ip: string; readonly port: number };
  readonly admin?: { readonly ip: string; readonly port: number };
  readonly metrics?: { readonly ip: string; readonly port: number };
  readonly readiness?: { readonly ip: string; readonly port: number };
}

export interface Waypoint {
  readonly addresses: WaypointAddresses;
  readonly engine: Engine;
  readonly store: StateStore;
  readonly hbone: HboneServer;
  /** Whether config arrived and a certificate is present. */
  ready(): boolean;
  close(): Promise<void>;
}

export async function createWaypoint(config: WaypointConfig, deps: WaypointDeps = {}): Promise<Waypoint> {
  const logger = deps.logger ?? noopLogger;
  const log = logger.child({ component: 'waypoint', waypoint: config.name });
  let ownCerts: WaypointCertificates | undefined;
  let certs: CertSource;
  if (deps.certs !== undefined) certs = deps.certs;
  else if (config.ca !== undefined) {
    ownCerts = startCertificates({
      caAddress: config.ca.address,
      ...(config.ca.token !== undefined ? { token: config.ca.token } : {}),
      logger: log,
    });
    certs = ownCerts.certs;
  } else throw new Error('createWaypoint: no certificates (give deps.certs or config.ca)');
  const registry = deps.registry ?? createRegistry();
  const store = deps.store ?? createStateStore();
  const [namespace = '', name = ''] = config.name.split('/');
  const sourceName =
    config.xds !== undefined
      ? `xds ${config.xds.address}`
      : config.configFile !== undefined
        ? `file ${config.configFile}`
        : null;
  let xds: XdsSource | undefined;
  let hboneClient: HboneClient | undefined;
  let connector = deps.upstreamConnector;
  if (connector === undefined) {
    hboneClient = createHboneClient({ certs, logger: log });
    connector = createHboneUpstreamConnector({
      client: hboneClient,
      ...(config.upstreamHbonePort !== undefined ? { hbonePort: config.upstreamHbonePort } : {}),
      ...(config.identity !== undefined ? { sourceIdentity: config.identity } : {}),
    });
  }
  const engine = createEngine(
    { ...config.engine, role: 'waypoint', waypoint: config.name },
    {
      store,
      connector,
      logger: log,
      registry,
      ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
      ...(deps.random !== undefined ? { random: deps.random } : {}),
      ...(deps.delay !== undefined ? { delay: deps.delay } : {}),
      ...(deps.accessLog !== undefined ? { accessLog: deps.accessLog } : {}),
      ...(deps.ids !== undefined ? { ids: deps.ids } : {}),
    },
  );
  const inbound = createInbound(engine, deps.random);
  const proxyless =
    config.proxyless === false
      ? undefined
      : createProxylessListener({
          engine,
          waypoint: config.name,
          certs,
          ...(config.identity !== undefined ? { identity: config.identity } : {}),
          ...(config.trustDomains !== undefined ? { trustDomains: config.trustDomains } : {}),
          rejects: rejectCounter<string>('waypoint', registry),
          logger: log,
          ...(config.proxylessLimits?.handshakeTimeoutMs !== undefined
            ? { handshakeTimeoutMs: config.proxylessLimits.handshakeTimeoutMs }
            : {}),
          ...(config.proxylessLimits?.maxConnections !== undefined
            ? { maxConnections: config.proxylessLimits.maxConnections }
            : {}),
        });

  const hbone = createHboneServer({
    certs,
    ...(config.identity !== undefined ? { identity: config.identity } : {}),
    ...(config.trustDomains !== undefined ? { trustDomains: config.trustDomains } : {}),
    ...(config.hboneLimits !== undefined ? { limits: config.hboneLimits } : {}),
    logger: log,
    // Tunnels to destinations we do not serve are refused before any byte flows (401).
    authorize: (_peer, dest) => {
      const target = engine.state().target(dest.ip, dest.port);
      if (target.kind === 'unknown') {
        engine.reject('unknown_destination');
        return { allow: false, reason: `${dest.ip}:${dest.port} is not served by this waypoint` };
      }
      return { allow: true };
    },
    connectUpstream: (dest, ctx) => {
      const [outer, inner] = createDuplexPair();
      inbound.handle(inner, {
        remoteIp: ctx.peer.ip,
        remotePort: ctx.peer.port,
        principal: ctx.peer.identity,
        forwardedFor: ctx.peer.forwardedFor,
        destinationIp: dest.ip,
        destinationPort: dest.port,
        security: 'mutual_tls',
      });
      return Promise.resolve(outer);
    },
  });

  const servers: Server[] = [];
  const ready = () => store.state.synced && certs.current(config.identity) !== undefined;
  try {
    const hboneAddr = await hbone.listen({
      host: config.hbone?.host ?? '0.0.0.0',
      port: config.hbone?.port ?? 15008,
    });
    const addresses: { -readonly [K in keyof WaypointAddresses]: WaypointAddresses[K] } = {
      hbone: hboneAddr,
    };
    if (proxyless !== undefined) {
      const at = config.proxyless === false ? undefined : config.proxyless;
      addresses.proxyless = await proxyless.listen({
        host: at?.host ?? config.hbone?.host ?? '0.0.0.0',
        port: at?.port ?? (config.hbone?.port === 0 ? 0 : 15009),
      });
    }
    if (config.admin !== false) {
      const s = createSmallServer({
        '/config_dump': (_req, res) =>
          json(res, 200, {
            waypoint: config.name,
            source: sourceName,
            config: dumpState(store),
            ...(xds !== undefined ? { xds: xds.status() } : {}),
            filters: engine.filters(),
            limits: engine.limits,
          }),
        '/clusters': (_req, res) => json(res, 200, engine.upstreams.stats()),
        '/stats': (_req, res) =>
          json(res, 200, {
            hbone: hbone.stats(),
            hboneClient: hboneClient?.stats() ?? null,
            proxyless: proxyless?.stats() ?? null,
          }),
        '/ready': (_req, res) => text(res, ready() ? 200 : 503, ready() ? 'ready\n' : 'not ready\n'),
      });
      servers.push(s);
      addresses.admin = await listen(s, config.admin?.host ?? '127.0.0.1', config.admin?.port ?? 15000);
    }
    if (config.metrics !== false) {
      const s = metricsServer(registry);
      servers.push(s);
      addresses.metrics = await listen(s, config.metrics?.host ?? '0.0.0.0', config.metrics?.port ?? 15020);
    }
    if (config.readiness !== false) {
      const s = createSmallServer({
        '/healthz/ready': (_req, res) => text(res, ready() ? 200 : 503, ready() ? 'ready\n' : 'not ready\n'),
      });
      servers.push(s);
      addresses.readiness = await listen(
        s,
        config.readiness?.host ?? '0.0.0.0',
        config.readiness?.port ?? 15021,
      );
    }
    if (config.xds !== undefined) {
      xds = startXdsSource({
        store,
        target: config.xds.address,
        proxy: { kind: 'waypoint', namespace, name },
        nodeMetadata: { WAYPOINT: config.name },
        types: defaultXdsTypes('waypoint'),
        ...(config.xds.token !== undefined ? { token: config.xds.token } : {}),
        logger: log,
      });
    } else if (config.configFile !== undefined) {
      const loaded = await loadConfigFile(store, config.configFile);
      if (!loaded.ok) throw new Error(`config file refused: ${loaded.parseErrors.join('; ')}`);
      for (const e of loaded.invalid)
        log.warn('manifest object refused', { reason: `${e.path}: ${e.message}` });
    }
    // the bound addresses (a port given as 0 is chosen by the system): how an operator or a test
    // finds them
    const at = (a: { ip: string; port: number } | undefined) =>
      a === undefined ? 'off' : `${a.ip}:${a.port}`;
    log.info('waypoint started', {
      hbone: at(hboneAddr),
      proxyless: at(addresses.proxyless),
      admin: at(addresses.admin),
      metrics: at(addresses.metrics),
      readiness: at(addresses.readiness),
    });
    return {
      addresses,
      engine,
      store,
      hbone,
      ready,
      async close() {
        xds?.close();
        ownCerts?.close();
        await hbone.close({ graceMs: 1_000 });
        await proxyless?.close();
        inbound.close();
        await Promise.all(servers.map(closeServer));
        await hboneClient?.close({ graceMs: 0 });
        engine.close();
      },
    };
  } catch (e) {
    xds?.close();
    await hbone.close({ graceMs: 0 }).catch(() => {});
    await proxyless?.close().catch(() => {});
    await Promise.all(servers.map(closeServer));
    await hboneClient?.close({ graceMs: 0 });
    engine.close();
    ownCerts?.close();
    throw e;
  }
}
