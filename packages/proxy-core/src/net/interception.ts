// What interception needs from the operating system, as one narrow capability shared by the
// proxies: sockets inside a pod's network namespace (marked, so the pod's redirect rules skip
// them) and the original destination of a redirected connection. The real one is
// @weft/linux-net, imported only when a proxy runs with interception, so the proxies still load
// where the addon is missing (the import is a value: the reason it cannot be used); tests pass a
// fake.
import type { Socket } from 'node:net';
import type { SocketAddress, SocketFactory } from './socket-factory.ts';

export interface InterceptionNet {
  /** Listeners and upstream sockets inside the namespace at `netns`, each carrying SO_MARK `mark`. */
  socketFactory(netns: string, mark: number): SocketFactory;
  /** SO_ORIGINAL_DST of an accepted redirected connection; undefined when there is none. */
  originalDestination(socket: Socket): SocketAddress | undefined;
}

export type InterceptionNetResult =
  | { readonly ok: true; readonly net: InterceptionNet }
  | { readonly ok: false; readonly reason: string };

// The subset of @weft/linux-net used here, restated so a missing or older addon is a value.
interface LinuxNetModule {
  available(): boolean;
  unavailableReason(): string | undefined;
  createNetnsSocketFactory(netns: string | undefined, options: { mark?: number }): SocketFactory;
  originalDstOf(
    socket: Socket,
  ): { readonly ok: true; readonly value: SocketAddress } | { readonly ok: false; readonly message: string };
}

/** @weft/linux-net as an InterceptionNet, or why it cannot be used here. */
export async function loadInterceptionNet(): Promise<InterceptionNetResult> {
  let mod: LinuxNetModule;
  try {
    mod = (await import('@weft/linux-net')) as unknown as LinuxNetModule;
  } catch (err) {
    return {
      ok: false,
      reason: `@weft/linux-net is not installed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (typeof mod.available !== 'function' || typeof mod.createNetnsSocketFactory !== 'function') {
    return { ok: false, reason: '@weft/linux-net does not export createNetnsSocketFactory' };
  }
  if (typeof mod.originalDstOf !== 'function') {
    return { ok: false, reason: '@weft/linux-net does not export originalDstOf' };
  }
  if (!mod.available()) {
    return { ok: false, reason: `@weft/linux-net: ${mod.unavailableReason() ?? 'addon unavailable'}` };
  }
  return {
    ok: true,
    net: {
      socketFactory: (netns, mark) => mod.createNetnsSocketFactory(netns, { mark }),
      originalDestination(socket) {
        const r = mod.originalDstOf(socket);
        return r.ok ? { ip: r.value.ip, port: r.value.port } : undefined;
      },
    },
  };
}
