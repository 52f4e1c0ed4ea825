// The composition roots: one call sets up a proxyless client or server. Order matters: relay,
// then the first certificate on disk, then the bootstrap, and only then grpc-js-xds.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  type CertificateSource,
  type CertManager,
  createCaClient,
  createCertManager,
  type WorkloadCertificate,
} from '@weft/ca/client';
import { type AuthzPolicy, parseWorkloadId, spiffeId } from '@weft/policy';
import type { Clock, Scheduler } from '@weft/telemetry';
import { authorizationInterceptor } from './authz/interceptor.ts';
import { type PolicySource, staticPolicies } from './authz/policy-source.ts';
import { xdsPolicySource } from './authz/xds-policy-source.ts';
import { buildBootstrap, proxylessNodeId } from './bootstrap/bootstrap.ts';
import { type CertFilePaths, certFilePaths, writeCertFiles } from './certs/cert-files.ts';
import {
  claimProcessBootstrap,
  type GrpcXds,
  loadGrpcXds,
  PER_CHANNEL_BOOTSTRAP_OPTION,
} from './grpc-xds.ts';
import { type Logger, silentLogger } from './logger.ts';
import { startXdsRelay, type XdsRelay, type XdsRelayStats } from './relay/relay.ts';
import { type TokenProvider, tokenProvider } from './token.ts';
import { SDK_VERSION } from './version.ts';

export interface ProxylessOptions {
  /** `<namespace>/<pod name>`. */
  readonly pod: string;
  readonly serviceAccount: string;
  /** weftd's xDS address, `host:port` (15010 plaintext in local mode, 15012 with `tls`). */
  readonly xdsAddress: string;
  /** weftd's CA address; default `xdsAddress`. */
  readonly caAddress?: string;
  /** The pod's service-account token, or a file holding it (re-read on every use). */
  readonly token?: string;
  readonly tokenFile?: string;
  /** Default `cluster.local`. The issued certificate must be of this trust domain. */
  readonly trustDomain?: string;
  /** Where the bootstrap and certificates go; default a new temporary directory (removed on close). */
  readonly dir?: string;
  /** Reach weftd over TLS (its 15012 port): the roots its serving certificate chains to. */
  readonly tls?: {
    readonly rootCertPem?: string;
    readonly rootCertFile?: string;
    /** TLS server name to check weftd's certificate against; default the host of the address. */
    readonly serverName?: string;
  };
  readonly locality?: { readonly region?: string; readonly zone?: string; readonly subZone?: string };
  /**
   * `process` (default): the bootstrap goes into GRPC_XDS_BOOTSTRAP_CONFIG, once per process, and
   * must be in place before anything else creates an xDS channel or server. `per-channel`: each
   * channel/server gets it through grpc-js-xds's test-only option, so several clients and servers
   * can live in one process (tests only: the option is not a stable grpc-js-xds API).
   */
  readonly bootstrap?: 'process' | 'per-channel';
  /** Credentials used when a Cluster or Listener carries no TLS; default insecure. */
  readonly fallbackChannelCredentials?: grpc.ChannelCredentials;
  readonly fallbackServerCredentials?: grpc.ServerCredentials;
  /** Requested certificate lifetime; default the CA's (24 h). */
  readonly certValiditySeconds?: number;
  /** How long setup waits for the first certificate; default 30 s. */
  readonly readyTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface ProxylessServerOptions extends ProxylessOptions {
  /**
   * Authorization policies of this pod. Default: the pod's view from weftd over xDS (weft.v1
   * resources); an array or a `PolicySource` replaces it.
   */
  readonly policies?: readonly AuthzPolicy[] | PolicySource;
}

/** Capabilities tests substitute. */
export interface ProxylessDeps {
  /** Certificates from here instead of weftd's CA API. */
  readonly certificateSource?: CertificateSource;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
}

export interface ProxylessFiles {
  readonly dir: string;
  readonly bootstrapFile: string;
  readonly certs: CertFilePaths;
}

export interface CertificateStats {
  /** Certificates written (the first one included). */
  readonly written: number;
  readonly writeErrors: number;
  /** Failed CA calls (each retried with backoff). */
  readonly fetchErrors: number;
  readonly lastError?: string;
  readonly notAfter?: Date;
}

/** What a server's interceptor decided, by outcome. */
export interface AuthorizationStats {
  readonly allowed: number;
  /** PERMISSION_DENIED by a policy. */
  readonly denied: number;
  /** A client certificate that did not verify, or without a usable SPIFFE ID. */
  readonly unauthenticated: number;
  /** No policy snapshot yet. */
  readonly noPolicies: number;
  /** A path the evaluator could not normalize. */
  readonly invalid: number;
  /** The SDK could not judge the call (refused, fail closed). */
  readonly errors: number;
}

export interface ProxylessStats {
  readonly relay: XdsRelayStats;
  readonly certificates: CertificateStats;
  readonly authorization?: AuthorizationStats;
}

interface ProxylessBase {
  /** `spiffe://<trust domain>/ns/<ns>/sa/<sa>` of this workload. */
  readonly identity: string;
  readonly nodeId: string;
  /** The bootstrap JSON grpc-js-xds reads. */
  readonly bootstrap: string;
  readonly files: ProxylessFiles;
  readonly relayAddress: string;
  /** The certificate now on disk. */
  certificate(): WorkloadCertificate | undefined;
  /** Counters for status pages and metrics. */
  stats(): ProxylessStats;
  close(): Promise<void>;
}

export interface ProxylessClient extends ProxylessBase {
  /** XdsChannelCredentials: mesh mTLS where the Cluster says so, the fallback elsewhere. */
  readonly channelCredentials: grpc.ChannelCredentials;
  /** Options every xDS channel must be created with (the bootstrap in `per-channel` mode). */
  readonly channelOptions: grpc.ChannelOptions;
  /** `xds:///<host>:<port>`. */
  target(serviceHost: string, port: number): string;
}

/** A server is a client too: it may call other services with the same bootstrap and identity. */
export interface ProxylessServer extends ProxylessClient {
  /** XdsServerCredentials: the Listener's TLS, the fallback when it has none. */
  readonly serverCredentials: grpc.ServerCredentials;
  /** The policies the interceptor evaluates. */
  readonly policies: PolicySource;
  /** An XdsServer with the authorization interceptor first (and the bootstrap in `per-channel` mode). */
  createServer(options?: grpc.ServerOptions): grpc.Server;
  /**
   * Binds `0.0.0.0:<port>` and resolves once weftd's Listener for it is accepted and serving
   * (grpc-js-xds reports no failure otherwise: this rejects after `timeoutMs`, default 30 s,
   * with the last serving status).
   */
  listen(server: grpc.Server, port: number, options?: { timeoutMs?: number }): Promise<number>;
}

interface Core {
  base: ProxylessBase;
  xds: GrpcXds;
  perChannel: boolean;
  tokens: TokenProvider;
  namespace: string;
  podName: string;
  upstreamCredentials: () => grpc.ChannelCredentials;
  upstreamOptions: grpc.ChannelOptions;
  onClose: Array<() => void | Promise<void>>;
}

/** Rejects when `port` cannot be bound on all interfaces (where XdsServer will listen). */
function assertPortFree(port: number): Promise<void> {
  const attempt = (host: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const probe = createNetServer();
      probe.once('error', reject);
      probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
    });
  return attempt('::').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') return attempt('0.0.0.0');
    throw new Error(`proxyless: cannot serve port ${port}: ${err.code ?? err.message}`);
  });
}

function parsePod(pod: string): { namespace: string; podName: string } {
  const slash = pod.indexOf('/');
  const namespace = pod.slice(0, slash);
  const podName = pod.slice(slash + 1);
  if (slash <= 0 || podName === '' || podName.includes('/')) {
    throw new Error(`proxyless: pod "${pod}" is not <namespace>/<name>`);
  }
  return { namespace, podName };
}

async function waitReady(certs: CertManager, timeoutMs: number): Promise<WorkloadCertificate> {
  let lastError = 'no answer yet';
  const off = certs.on('error', (e) => {
    lastError = `${e.kind}${e.code !== undefined ? ` ${e.code}` : ''}: ${e.message}`;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      certs.ready(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`proxyless: no workload certificate within ${timeoutMs} ms (${lastError})`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    off();
  }
}

async function startCore(
  kind: 'client' | 'server',
  opts: ProxylessOptions,
  deps: ProxylessDeps,
): Promise<Core> {
  const logger = opts.logger ?? silentLogger;
  const { namespace, podName } = parsePod(opts.pod);
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  const identity = spiffeId(trustDomain, namespace, opts.serviceAccount);
  if (!parseWorkloadId(identity).ok)
    throw new Error(`proxyless: ${identity} is not a valid workload identity`);
  const tokens = tokenProvider({
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    ...(opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : {}),
  });
  const onClose: Array<() => void | Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const f of onClose.splice(0).reverse()) {
      try {
        await f();
      } catch (err) {
        logger.warn('proxyless: close step failed', { error: String(err) });
      }
    }
  };

  try {
    const ownDir = opts.dir === undefined;
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'weft-proxyless-')));
    if (ownDir) onClose.push(() => rm(dir, { recursive: true, force: true }));

    let tlsRoot: Buffer | undefined;
    if (opts.tls !== undefined) {
      const pem =
        opts.tls.rootCertPem ??
        (opts.tls.rootCertFile !== undefined ? await readFile(opts.tls.rootCertFile, 'utf8') : undefined);
      if (pem === undefined) throw new Error('proxyless: tls needs rootCertPem or rootCertFile');
      tlsRoot = Buffer.from(pem);
    }
    const tlsOptions: grpc.ChannelOptions =
      opts.tls?.serverName !== undefined ? { 'grpc.ssl_target_name_override': opts.tls.serverName } : {};
    const upstreamCredentials = (): grpc.ChannelCredentials =>
      tlsRoot !== undefined ? grpc.credentials.createSsl(tlsRoot) : grpc.credentials.createInsecure();

    const relay: XdsRelay = await startXdsRelay({
      upstream: opts.xdsAddress,
      credentials: upstreamCredentials(),
      channelOptions: tlsOptions,
      token: tokens,
      logger,
    });
    onClose.push(() => relay.close());

    let source = deps.certificateSource;
    if (source === undefined) {
      const ca = createCaClient({
        address: opts.caAddress ?? opts.xdsAddress,
        credentials: upstreamCredentials(),
        token: tokens,
        channelOptions: tlsOptions,
      });
      onClose.push(() => ca.close());
      source = ca;
    }
    const certs = createCertManager({
      source,
      ...(opts.certValiditySeconds !== undefined ? { validitySeconds: opts.certValiditySeconds } : {}),
      ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
      ...(deps.scheduler !== undefined ? { scheduler: deps.scheduler } : {}),
    });
    onClose.push(() => certs.close());
    let onDisk: WorkloadCertificate | undefined;
    let writing: Promise<void> = Promise.resolve();
    const certStats = {
      written: 0,
      writeErrors: 0,
      fetchErrors: 0,
      lastError: undefined as string | undefined,
    };
    certs.on('error', (e) => {
      certStats.fetchErrors++;
      certStats.lastError = `${e.kind}${e.code !== undefined ? ` ${e.code}` : ''}: ${e.message}`;
    });
    let queued: WorkloadCertificate | undefined;
    // Called from 'rotated' and once for the first certificate: each certificate is written once.
    const write = (c: WorkloadCertificate): Promise<void> => {
      if (c === queued) return writing;
      queued = c;
      writing = writing
        .then(() =>
          writeCertFiles(dir, {
            certChainPem: c.certChainPem,
            keyPem: c.keyPem,
            rootCertPem: c.trustBundlePem,
          }),
        )
        .then(
          () => {
            onDisk = c;
            certStats.written++;
            logger.info('proxyless: workload certificate written', {
              spiffeId: c.spiffeId,
              notAfter: c.notAfter,
            });
          },
          (err: unknown) => {
            certStats.writeErrors++;
            certStats.lastError = `write: ${String(err)}`;
            logger.warn('proxyless: writing the certificate failed', { error: String(err) });
          },
        );
      return writing;
    };
    certs.on('rotated', (c) => void write(c));
    onClose.push(() => writing);
    certs.start();
    const first = await waitReady(certs, opts.readyTimeoutMs ?? 30_000);
    if (first.spiffeId !== identity) {
      throw new Error(
        `proxyless: the CA issued ${first.spiffeId}, expected ${identity} (token of another service account?)`,
      );
    }
    await write(first);
    if (onDisk === undefined) throw new Error(`proxyless: could not write the certificate files into ${dir}`);

    const files: ProxylessFiles = {
      dir,
      bootstrapFile: join(dir, 'bootstrap.json'),
      certs: certFilePaths(dir),
    };
    const bootstrap = JSON.stringify(
      buildBootstrap({
        relayAddress: relay.address,
        namespace,
        pod: podName,
        serviceAccount: opts.serviceAccount,
        ...(opts.locality !== undefined ? { locality: opts.locality } : {}),
        certFiles: files.certs,
        sdkVersion: SDK_VERSION,
      }),
    );
    await writeFile(files.bootstrapFile, bootstrap, { mode: 0o644 });
    const perChannel = opts.bootstrap === 'per-channel';
    if (!perChannel) claimProcessBootstrap(`${kind} ${opts.pod}`, bootstrap);
    const xds = await loadGrpcXds();

    return {
      base: {
        identity,
        nodeId: proxylessNodeId(namespace, podName),
        bootstrap,
        files,
        relayAddress: relay.address,
        certificate: () => onDisk,
        stats: () => ({
          relay: relay.stats(),
          certificates: {
            written: certStats.written,
            writeErrors: certStats.writeErrors,
            fetchErrors: certStats.fetchErrors,
            ...(certStats.lastError !== undefined ? { lastError: certStats.lastError } : {}),
            ...(onDisk !== undefined ? { notAfter: onDisk.notAfter } : {}),
          },
        }),
        close: closeAll,
      },
      xds,
      perChannel,
      tokens,
      namespace,
      podName,
      upstreamCredentials,
      upstreamOptions: tlsOptions,
      onClose,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Sets up a proxyless gRPC client: relay, rotated workload certificate, bootstrap, grpc-js-xds.
 * In `process` mode call it before anything else loads @grpc/grpc-js-xds or creates an `xds:` channel.
 */
export async function createProxylessClient(
  opts: ProxylessOptions,
  deps: ProxylessDeps = {},
): Promise<ProxylessClient> {
  const core = await startCore('client', opts, deps);
  return clientParts(core, opts);
}

function clientParts(core: Core, opts: ProxylessOptions): ProxylessClient {
  const fallback = opts.fallbackChannelCredentials ?? grpc.credentials.createInsecure();
  return {
    ...core.base,
    channelCredentials: new core.xds.XdsChannelCredentials(fallback),
    channelOptions: core.perChannel ? { [PER_CHANNEL_BOOTSTRAP_OPTION]: core.base.bootstrap } : {},
    target: (host, port) => `xds:///${host}:${port}`,
  };
}

/** Sets up a proxyless gRPC server: as the client, plus the authorization interceptor. */
export async function createProxylessServer(
  opts: ProxylessServerOptions,
  deps: ProxylessDeps = {},
): Promise<ProxylessServer> {
  const core = await startCore('server', opts, deps);
  const logger = opts.logger ?? silentLogger;
  let policies: PolicySource;
  if (opts.policies === undefined) {
    const src = xdsPolicySource({
      xdsAddress: opts.xdsAddress,
      credentials: core.upstreamCredentials(),
      channelOptions: core.upstreamOptions,
      token: core.tokens,
      nodeId: core.base.nodeId,
      namespace: core.namespace,
      pod: core.podName,
      logger,
    });
    core.onClose.push(() => src.close?.());
    policies = src;
  } else {
    policies = Array.isArray(opts.policies)
      ? staticPolicies(opts.policies as readonly AuthzPolicy[])
      : (opts.policies as PolicySource);
  }
  const trustDomains = new Set([opts.trustDomain ?? 'cluster.local']);
  const authz = { allowed: 0, denied: 0, unauthenticated: 0, noPolicies: 0, invalid: 0, errors: 0 };
  const interceptor = authorizationInterceptor({
    policies,
    trustDomains,
    logger,
    onDecision: (d) => {
      if (d.allow) authz.allowed++;
      else if (d.code === grpc.status.PERMISSION_DENIED) authz.denied++;
      else if (d.code === grpc.status.UNAUTHENTICATED) authz.unauthenticated++;
      else if (d.code === grpc.status.UNAVAILABLE) authz.noPolicies++;
      else if (d.code === grpc.status.INVALID_ARGUMENT) authz.invalid++;
      else authz.errors++;
    },
  });
  const fallback = opts.fallbackServerCredentials ?? grpc.ServerCredentials.createInsecure();
  const servers = new Set<grpc.Server>();
  core.onClose.push(() => {
    for (const s of servers) s.forceShutdown();
  });
  const xds = core.xds;
  const serverCredentials = new xds.XdsServerCredentials(fallback);
  const client = clientParts(core, opts);
  return {
    ...client,
    stats: () => ({ ...client.stats(), authorization: { ...authz } }),
    serverCredentials,
    policies,
    createServer(options = {}) {
      const server = new xds.XdsServer({
        ...options,
        ...(core.perChannel ? { [PER_CHANNEL_BOOTSTRAP_OPTION]: core.base.bootstrap } : {}),
        interceptors: [interceptor, ...(options.interceptors ?? [])],
      });
      servers.add(server);
      return server;
    },
    async listen(server, port, listenOpts = {}) {
      const address = `0.0.0.0:${port}`;
      const timeoutMs = listenOpts.timeoutMs ?? 30_000;
      // XdsServer opens its socket later, when the Listener arrives, with no 'error' listener:
      // a port in use would end the process there. Refuse it here instead, as a value.
      await assertPortFree(port);
      return new Promise<number>((resolve, reject) => {
        let last = 'no Listener received';
        const timer = setTimeout(() => {
          reject(new Error(`proxyless: ${address} not serving after ${timeoutMs} ms (${last})`));
        }, timeoutMs);
        try {
          server.bindAsync(address, serverCredentials, (err, bound) => {
            clearTimeout(timer);
            if (err) reject(err);
            else resolve(bound);
          });
          if (server instanceof xds.XdsServer) {
            server.addServingStateListener(address, (s: grpc.StatusObject) => {
              if (s.code !== grpc.status.OK) last = s.details;
            });
          }
        } catch (err) {
          clearTimeout(timer);
          reject(err);
        }
      });
    },
  };
}
