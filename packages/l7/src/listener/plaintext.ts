// A plaintext TCP listener in front of the engine: what the sidecar's captured ports and the
// benchmark use (no HBONE). `http1` hands sockets straight to the raw-socket HTTP/1.1 listener
// (its fastest path); `auto` resolves the destination and sniffs like the HBONE inbound does.
import { createServer, type Server, type Socket } from 'node:net';
import type { Engine } from '../engine/engine.ts';
import type { Downstream } from '../http/message.ts';
import { createHttp1Listener, downstreamFromSocket, type Http1Listener } from './http1.ts';
import { createInbound, type Inbound } from './inbound.ts';

export interface PlaintextListenerOptions {
  readonly host?: string;
  readonly port?: number;
  /** `http1`: every connection is HTTP/1.1; `auto` (default): decide per destination and sniff. */
  readonly protocol?: 'http1' | 'auto';
  /** The destination every connection is treated as sent to (a service VIP and port). Default: the listener's own address. */
  readonly destination?: { readonly ip: string; readonly port: number };
  /** Downstream facts override (tests: a caller principal). */
  readonly downstream?: (socket: Socket) => Downstream;
}

export interface PlaintextListener {
  readonly address: { readonly ip: string; readonly port: number };
  close(): Promise<void>;
}

export async function listenPlaintext(
  engine: Engine,
  opts: PlaintextListenerOptions = {},
): Promise<PlaintextListener> {
  const down = (s: Socket): Downstream => opts.downstream?.(s) ?? downstreamFromSocket(s, opts.destination);
  let server: Server;
  let http1: Http1Listener | undefined;
  let inbound: Inbound | undefined;
  if ((opts.protocol ?? 'auto') === 'http1') {
    http1 = createHttp1Listener(engine, { downstreamOf: down });
    server = http1.server;
  } else {
    const ib = createInbound(engine);
    inbound = ib;
    server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => ib.handle(s, down(s)));
  }
  // after listening, a server still emits 'error' (accept failing with EMFILE, for one)
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('listener has no TCP address');
  return {
    address: { ip: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        http1?.close();
        inbound?.close();
        server.close(() => resolve());
      }),
  };
}
