// Capture mode: the sidecar runs inside its pod's network namespace (as uid 1337, which the pod's
// REDIRECT rules exclude, so its own connections are not redirected to its 15001). Outbound
// (15001) and inbound (15006) accept redirected connections on the wildcard addresses, and the
// original destination of each comes from SO_ORIGINAL_DST through @weft/linux-net, imported only
// in this mode so the sidecar still loads where the addon is missing.

import { Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { createTcpUpstreamConnector, type UpstreamConnector } from '@weft/l7';
import {
  type InterceptionNet,
  type InterceptionNetResult,
  type ListenOptions,
  loadInterceptionNet,
  type SocketAddress,
  type SocketFactory,
} from '@weft/proxy-core';

/** What capture mode needs from the OS: the pre-REDIRECT destination of an accepted socket. */
export type CaptureNet = Pick<InterceptionNet, 'originalDestination'>;
export type CaptureNetResult = InterceptionNetResult;

/** @weft/linux-net's SO_ORIGINAL_DST, or why it cannot be used here. */
export const loadCaptureNet: () => Promise<CaptureNetResult> = loadInterceptionNet;

/** The wildcard addresses capture listeners bind: both families, each on its own socket. */
export const CAPTURE_WILDCARDS = ['0.0.0.0', '::'] as const;

/**
 * Sockets of a sidecar inside its pod netns: any address may be bound (the pod IP, wildcards),
 * and `::` is IPv6-only so it can sit beside `0.0.0.0` on the same port. Connections go through
 * `base` (plain sockets: uid 1337 is not captured).
 */
export function captureSocketFactory(base: SocketFactory): SocketFactory {
  return {
    listen<S extends Server = Server>(addr: SocketAddress, opts: ListenOptions<S> = {}): Promise<S> {
      // noDelay: relayed chunks must not wait for Nagle (as in proxy-core's local factory).
      const server =
        opts.server ?? (new Server({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }) as S);
      return new Promise<S>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(
          {
            host: addr.ip,
            port: addr.port,
            ...(addr.ip === '::' ? { ipv6Only: true } : {}),
            ...(opts.backlog ? { backlog: opts.backlog } : {}),
          },
          () => {
            server.off('error', onError);
            // A later accept error (EMFILE) must not crash the process.
            server.on('error', () => {});
            resolve(server);
          },
        );
      });
    },
    connect: (addr, opts) => base.connect(addr, opts),
  };
}

/**
 * The sidecar's inbound source towards its app (Istio's "inbound passthrough" addresses): the
 * pod's rules send the proxy's own connections to its pod IP over `lo` back to 15006 (so an app
 * calling itself through a service is still inbound-captured), except from these sources.
 */
export const INBOUND_PASSTHROUGH_SOURCE = { 4: '127.0.0.6', 6: '::6' } as const;

function hasLocalAddress(ip: string): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.address === ip));
}

/**
 * How the inbound engine reaches the app in capture mode: the pod IP and port it was meant for,
 * from 127.0.0.6 (IPv4: every 127/8 address is local) or ::6 when the pod's loopback carries it;
 * without ::6, an IPv6 destination is reached at [::1]:port (loopback is never captured).
 */
export function captureAppConnector(): UpstreamConnector {
  const v4 = createTcpUpstreamConnector({ localAddress: INBOUND_PASSTHROUGH_SOURCE[4] });
  let v6: UpstreamConnector | undefined;
  let v6Loopback = false;
  return (ep, ctx) => {
    if (!ep.ip.includes(':')) return v4(ep, ctx);
    if (v6 === undefined) {
      v6Loopback = !hasLocalAddress(INBOUND_PASSTHROUGH_SOURCE[6]);
      v6 = v6Loopback ? createTcpUpstreamConnector() : createTcpUpstreamConnector({ localAddress: '::6' });
    }
    return v6Loopback ? v6({ ...ep, ip: '::1', address: `[::1]:${ep.port}` }, ctx) : v6(ep, ctx);
  };
}
