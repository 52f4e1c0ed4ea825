// The client's default socket capability: a plain TCP connect in the process's own network
// namespace. Proxies that place their sockets elsewhere pass their own HboneSocketConnector.
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HboneSocketConnector } from './types.ts';

export const tcpSocketConnector: HboneSocketConnector = {
  connect: (addr, { signal }) =>
    new Promise<Duplex>((resolve, reject) => {
      if (signal.aborted) {
        reject(new Error('aborted'));
        return;
      }
      // HTTP/2 over TLS writes small frames back to back (HEADERS, then DATA, then a window
      // update); with Nagle on, the second waits for the peer's delayed ACK (~40 ms on Linux).
      const socket = connect({ host: addr.ip, port: addr.port, noDelay: true });
      // Stays attached: a reset after the connect must not be unhandled; the TLS layer above
      // reports it.
      socket.on('error', () => {});
      const onAbort = () => {
        socket.destroy();
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const onError = (e: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        resolve(socket);
      });
    }),
};
