// A fake in-pod network for tests without root: each "netns" is a pod's loopback address. The
// wildcard listeners ztunnel opens inside a pod netns bind the pod's address instead, upstream
// sockets are bound to the pod's address (as if opened inside its netns), and the original
// destination of a redirected connection comes from a function the test gives.
import type { Socket } from 'node:net';
import { createLocalSocketFactory, type SocketAddress, type SocketFactory } from '@weft/proxy-core';
import type { InPodNet } from '../inpod/net.ts';

export interface FakeInPodNetCall {
  readonly op: 'listen' | 'connect';
  readonly netns: string;
  readonly mark: number;
  readonly addr: SocketAddress;
}

export interface FakeInPodNet extends InPodNet {
  readonly calls: readonly FakeInPodNetCall[];
}

export interface FakeInPodNetOptions {
  /** netns path -> the pod's address. A netns not listed fails to listen (ENOENT). */
  readonly pods: Readonly<Record<string, string>>;
  /** What SO_ORIGINAL_DST says for an accepted socket. */
  readonly originalDestination: (socket: Socket) => SocketAddress | undefined;
}

export function createFakeInPodNet(options: FakeInPodNetOptions): FakeInPodNet {
  const local = createLocalSocketFactory();
  const calls: FakeInPodNetCall[] = [];
  return {
    calls,
    originalDestination: options.originalDestination,
    socketFactory(netns, mark): SocketFactory {
      const podIp = options.pods[netns];
      return {
        listen(addr, opts) {
          calls.push({ op: 'listen', netns, mark, addr });
          if (podIp === undefined) {
            const err = Object.assign(new Error(`open netns ${netns}: No such file or directory`), {
              code: 'ENOENT',
            });
            return Promise.reject(err);
          }
          const wildcard = addr.ip === '0.0.0.0' || addr.ip === '::';
          return local.listen({ ip: wildcard ? podIp : addr.ip, port: addr.port }, opts);
        },
        connect(addr, opts) {
          calls.push({ op: 'connect', netns, mark, addr });
          return local.connect(addr, { ...opts, ...(podIp !== undefined ? { localAddress: podIp } : {}) });
        },
      };
    },
  };
}
