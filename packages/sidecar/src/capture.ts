// Capture mode: the sidecar runs inside its pod's network namespace (as uid 1337, which the pod's
// REDIRECT rules exclude, so its own connections are never looped back into it). Outbound
// (15001) and inbound (15006) accept redirected connections on the wildcard addresses, and the
// original destination of each comes from SO_ORIGINAL_DST through @weft/linux-net, imported only
// in this mode so the sidecar still loads where the addon is missing.

import type { Socket } from 'node:net';
import { Server } from 'node:net';
import type { ListenOptions, SocketAddress, SocketFactory } from '@weft/proxy-core';

/** What capture mode needs from the OS: the pre-REDIRECT destination of an accepted socket. */
export interface CaptureNet {
  originalDestination(socket: Socket): SocketAddress | undefined;
}

export type CaptureNetResult =
  | { readonly ok: true; readonly net: CaptureNet }
  | { readonly ok: false; readonly reason: string };

interface LinuxNetModule {
  available(): boolean;
  unavailableReason(): string | undefined;
  originalDstOf(
    socket: Socket,
  ): { readonly ok: true; readonly value: SocketAddress } | { readonly ok: false; readonly message: string };
}

/** @weft/linux-net's SO_ORIGINAL_DST, or why it cannot be used here. */
export async function loadCaptureNet(): Promise<CaptureNetResult> {
  let mod: LinuxNetModule;
  try {
    mod = (await import('@weft/linux-net')) as unknown as LinuxNetModule;
  } catch (err) {
    return {
      ok: false,
      reason: `@weft/linux-net is not installed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (typeof mod.available !== 'function' || typeof mod.originalDstOf !== 'function') {
    return { ok: false, reason: '@weft/linux-net does not export originalDstOf' };
  }
  if (!mod.available()) {
    return { ok: false, reason: `@weft/linux-net: ${mod.unavailableReason() ?? 'addon unavailable'}` };
  }
  return {
    ok: true,
    net: {
      originalDestination(socket) {
        const r = mod.originalDstOf(socket);
        return r.ok ? { ip: r.value.ip, port: r.value.port } : undefined;
      },
    },
  };
}

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
