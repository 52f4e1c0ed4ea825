// What ztunnel opens for one local workload (proxy-core's listener reconciler decides when):
//
// - local mode: HBONE 15008 and plaintext 15006 on the workload's own loopback address, through
//   the node's SocketFactory;
// - in-pod mode: inside the pod's network namespace (@weft/linux-net), HBONE 15008 on each pod
//   IP, inbound plaintext 15006 and outbound capture 15001 on the wildcard addresses (0.0.0.0,
//   and :: when the pod has an IPv6 address) so redirected connections of both families land
//   there; every upstream socket for the pod (to the app, HBONE to peers, passthrough) is opened
//   from the pod's netns with the mark, so the pod's rules skip it and its source is the pod.
import type { Server, Socket } from 'node:net';
import type { CertSource } from '@weft/hbone';
import { createHboneClient, type HboneClient } from '@weft/hbone';
import { normalizeIp, type Workload } from '@weft/policy/runtime';
import {
  closeServer,
  type EndpointPicker,
  type ProxyPorts,
  type ProxyState,
  type SocketAddress,
  type SocketFactory,
} from '@weft/proxy-core';
import type { Logger } from '@weft/telemetry';
import { createInboundHbone, type InboundHbone } from './inbound/hbone.ts';
import { createInboundMtls, type InboundMtls } from './inbound/mtls.ts';
import { createInboundPlaintext, type InboundOriginalDestination } from './inbound/plaintext.ts';
import type { InPodNet } from './inpod/net.ts';
import { createCaptureServer } from './outbound/capture.ts';
import { createOutboundExecutor } from './outbound/execute.ts';
import type { ZtunnelTelemetry } from './telemetry.ts';

export interface WorkloadListenerContext {
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly certs: CertSource;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  readonly trustDomain: string;
  readonly ports: ProxyPorts;
  readonly proxyPorts: ReadonlySet<number>;
  readonly pick: EndpointPicker;
  readonly maxConnections?: number;
  readonly maxHandshakes?: number;
  readonly hboneHandshakeTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** How long a silent caller on 15006 is waited for before it is taken for plaintext. */
  readonly inboundSniffTimeoutMs?: number;
  /** Local mode's stand-in for SO_ORIGINAL_DST on 15006. */
  readonly inboundOriginalDestination?: InboundOriginalDestination;
}

/** A workload that gets listeners; `netns` set in in-pod mode. */
export interface WorkloadItem {
  readonly workload: Workload;
  readonly netns?: string;
}

export interface WorkloadListenerAddresses {
  /** The first HBONE listener (the workload's primary IP). */
  readonly hbone: SocketAddress;
  /** The first plaintext inbound listener. */
  readonly plaintext: SocketAddress;
  /** In-pod only: every listener, by role, inside the pod netns. */
  readonly inPod?: {
    readonly netns: string;
    readonly hbone: readonly SocketAddress[];
    readonly inboundPlaintext: readonly SocketAddress[];
    readonly outboundCapture: readonly SocketAddress[];
  };
}

export interface WorkloadListeners {
  readonly workload: Workload;
  readonly hbone: InboundHbone;
  /** Mesh mTLS from proxyless peers, terminated on the plaintext port. */
  readonly mtls: InboundMtls;
  readonly addresses: WorkloadListenerAddresses;
  close(graceMs: number): Promise<void>;
}

export const workloadFingerprint = (item: WorkloadItem): string =>
  `${item.workload.uid}|${item.workload.ips.join(',')}|${item.workload.identity}|${item.netns ?? ''}`;

const boundAddress = (server: Server, ip: string, fallback: number): SocketAddress => {
  const a = server.address();
  return { ip, port: typeof a === 'object' && a !== null ? a.port : fallback };
};

/** Listens on each address in turn; on a failure closes what opened and rethrows. */
async function listenAll(
  sockets: SocketFactory,
  specs: readonly { ip: string; port: number; onConnection: (s: Socket) => void }[],
): Promise<{ servers: Server[]; addresses: SocketAddress[] }> {
  const servers: Server[] = [];
  const addresses: SocketAddress[] = [];
  try {
    for (const spec of specs) {
      const server = await sockets.listen({ ip: spec.ip, port: spec.port });
      server.on('connection', spec.onConnection);
      servers.push(server);
      addresses.push(boundAddress(server, spec.ip, spec.port));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s)));
    const e = err instanceof Error ? err : new Error(String(err));
    const failed = specs[servers.length];
    if (failed !== undefined) e.message = `listen ${format(failed)}: ${e.message}`;
    throw e;
  }
  return { servers, addresses };
}

function format(a: { ip: string; port: number }): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

function inboundHbone(ctx: WorkloadListenerContext, w: Workload, sockets: SocketFactory): InboundHbone {
  return createInboundHbone({
    workload: w,
    nodeName: ctx.nodeName,
    state: ctx.state,
    certs: ctx.certs,
    sockets,
    telemetry: ctx.telemetry,
    logger: ctx.logger,
    trustDomain: ctx.trustDomain,
    proxyPorts: ctx.proxyPorts,
    limits: {
      ...(ctx.maxConnections !== undefined ? { maxConnections: ctx.maxConnections } : {}),
      ...(ctx.maxHandshakes !== undefined ? { maxPendingHandshakes: ctx.maxHandshakes } : {}),
      ...(ctx.hboneHandshakeTimeoutMs !== undefined
        ? { handshakeTimeoutMs: ctx.hboneHandshakeTimeoutMs }
        : {}),
    },
  });
}

function inboundMtls(ctx: WorkloadListenerContext, w: Workload, sockets: SocketFactory): InboundMtls {
  return createInboundMtls({
    workload: w,
    nodeName: ctx.nodeName,
    state: ctx.state,
    certs: ctx.certs,
    sockets,
    telemetry: ctx.telemetry,
    logger: ctx.logger,
    trustDomain: ctx.trustDomain,
    proxyPorts: ctx.proxyPorts,
    ...(ctx.hboneHandshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: ctx.hboneHandshakeTimeoutMs } : {}),
    ...(ctx.connectTimeoutMs !== undefined ? { connectTimeoutMs: ctx.connectTimeoutMs } : {}),
  });
}

function inboundPlaintext(
  ctx: WorkloadListenerContext,
  w: Workload,
  sockets: SocketFactory,
  originalDestination: InboundOriginalDestination | undefined,
  mtls: InboundMtls,
) {
  return createInboundPlaintext({
    mtls,
    ...(ctx.inboundSniffTimeoutMs !== undefined ? { sniffTimeoutMs: ctx.inboundSniffTimeoutMs } : {}),
    ...(ctx.hboneHandshakeTimeoutMs !== undefined
      ? { strictSniffTimeoutMs: ctx.hboneHandshakeTimeoutMs }
      : {}),
    workload: w,
    nodeName: ctx.nodeName,
    state: ctx.state,
    sockets,
    telemetry: ctx.telemetry,
    logger: ctx.logger,
    proxyPorts: ctx.proxyPorts,
    ...(originalDestination !== undefined ? { originalDestination } : {}),
    ...(ctx.maxConnections !== undefined ? { maxConnections: ctx.maxConnections } : {}),
    ...(ctx.connectTimeoutMs !== undefined ? { connectTimeoutMs: ctx.connectTimeoutMs } : {}),
  });
}

/** Local mode: HBONE and plaintext inbound on the workload's own (loopback) address. */
export async function openLocalWorkload(
  ctx: WorkloadListenerContext,
  sockets: SocketFactory,
  w: Workload,
): Promise<WorkloadListeners> {
  const ip = normalizeIp(w.ips[0] ?? '') as string;
  const hbone = inboundHbone(ctx, w, sockets);
  const mtls = inboundMtls(ctx, w, sockets);
  const plaintext = inboundPlaintext(ctx, w, sockets, ctx.inboundOriginalDestination, mtls);
  let opened: Awaited<ReturnType<typeof listenAll>>;
  try {
    opened = await listenAll(sockets, [
      { ip, port: ctx.ports.hbone, onConnection: (s) => hbone.handleConnection(s) },
      { ip, port: ctx.ports.inboundPlaintext, onConnection: (s) => plaintext.handleConnection(s) },
    ]);
  } catch (err) {
    await hbone.close(0);
    throw err;
  }
  ctx.logger.info('workload enrolled', { workload: `${w.namespace}/${w.name}`, ip, identity: w.identity });
  return {
    workload: w,
    hbone,
    mtls,
    addresses: {
      hbone: opened.addresses[0] as SocketAddress,
      plaintext: opened.addresses[1] as SocketAddress,
    },
    async close(graceMs) {
      await Promise.all(opened.servers.map((s) => closeServer(s)));
      plaintext.close();
      await hbone.close(graceMs);
    },
  };
}

export interface InPodListenerOptions {
  readonly net: InPodNet;
  readonly mark: number;
  /** Builds the pod's own HBONE client (its pool lives in the pod netns). */
  readonly createHboneClient?: (sockets: SocketFactory) => HboneClient;
}

/** In-pod mode: the three listeners inside the pod netns, upstreams from there too. */
export async function openPodWorkload(
  ctx: WorkloadListenerContext,
  inPod: InPodListenerOptions,
  item: Required<WorkloadItem>,
): Promise<WorkloadListeners> {
  const { workload: w, netns } = item;
  const sockets = inPod.net.socketFactory(netns, inPod.mark);
  const ips = w.ips.map((ip) => normalizeIp(ip) ?? ip);
  const wildcards = ['0.0.0.0', ...(ips.some((ip) => ip.includes(':')) ? ['::'] : [])];
  const hboneClient =
    inPod.createHboneClient?.(sockets) ??
    createHboneClient({
      certs: ctx.certs,
      sockets,
      logger: ctx.logger,
      pool: { connectTimeoutMs: ctx.connectTimeoutMs ?? 10_000 },
    });
  const executor = createOutboundExecutor({
    hbone: (req) => hboneClient.connect(req),
    sockets,
    certs: ctx.certs,
    telemetry: ctx.telemetry,
    logger: ctx.logger,
    ...(ctx.connectTimeoutMs !== undefined ? { connectTimeoutMs: ctx.connectTimeoutMs } : {}),
  });
  const capture = createCaptureServer({
    nodeName: ctx.nodeName,
    state: ctx.state,
    executor,
    telemetry: ctx.telemetry,
    logger: ctx.logger,
    pick: ctx.pick,
    hbonePort: ctx.ports.hbone,
    sourceIps: ips,
    originalDestination: (s) => inPod.net.originalDestination(s),
    ...(ctx.maxConnections !== undefined ? { maxConnections: ctx.maxConnections } : {}),
  });
  const hbone = inboundHbone(ctx, w, sockets);
  const mtls = inboundMtls(ctx, w, sockets);
  const plaintext = inboundPlaintext(ctx, w, sockets, (s) => inPod.net.originalDestination(s)?.port, mtls);
  const specs = [
    ...ips.map((ip) => ({
      ip,
      port: ctx.ports.hbone,
      onConnection: (s: Socket) => hbone.handleConnection(s),
    })),
    ...wildcards.map((ip) => ({
      ip,
      port: ctx.ports.inboundPlaintext,
      onConnection: (s: Socket) => plaintext.handleConnection(s),
    })),
    ...wildcards.map((ip) => ({
      ip,
      port: ctx.ports.outboundCapture,
      onConnection: (s: Socket) => capture.handleConnection(s),
    })),
  ];
  let opened: Awaited<ReturnType<typeof listenAll>>;
  try {
    opened = await listenAll(sockets, specs);
  } catch (err) {
    await hbone.close(0);
    await hboneClient.close({ graceMs: 0 });
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `in ${netns}: ${e.message}`;
    throw e;
  }
  const hboneAddrs = opened.addresses.slice(0, ips.length);
  const plaintextAddrs = opened.addresses.slice(ips.length, ips.length + wildcards.length);
  const captureAddrs = opened.addresses.slice(ips.length + wildcards.length);
  ctx.logger.info('pod enrolled', {
    workload: `${w.namespace}/${w.name}`,
    netns,
    ips: ips.join(','),
    identity: w.identity,
  });
  return {
    workload: w,
    hbone,
    mtls,
    addresses: {
      hbone: hboneAddrs[0] as SocketAddress,
      plaintext: plaintextAddrs[0] as SocketAddress,
      inPod: { netns, hbone: hboneAddrs, inboundPlaintext: plaintextAddrs, outboundCapture: captureAddrs },
    },
    async close(graceMs) {
      await Promise.all(opened.servers.map((s) => closeServer(s)));
      capture.close();
      plaintext.close();
      await hbone.close(graceMs);
      await hboneClient.close({ graceMs });
      ctx.logger.info('pod unenrolled', { workload: `${w.namespace}/${w.name}`, netns });
    },
  };
}
