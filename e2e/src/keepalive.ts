// One kept-alive HTTP/1.1 connection over an already-open socket: requests are written by hand
// and responses read by Content-Length, so the same TCP connection (and mesh tunnel) carries every
// request. Enough for the echo workload; not a general HTTP client.
import type { Socket } from 'node:net';
import type { HttpResult, MeshConnection } from './driver.ts';

export function keptAlive(socket: Socket, host: string): MeshConnection {
  let buffer = Buffer.alloc(0);
  let waiter: { resolve: (r: HttpResult) => void; reject: (e: Error) => void } | undefined;
  let closedError: Error | undefined;

  const tryParse = (): void => {
    if (waiter === undefined) return;
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buffer.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0]?.split(' ')[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const cut = line.indexOf(':');
      if (cut > 0) headers[line.slice(0, cut).trim().toLowerCase()] = line.slice(cut + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (buffer.length < end + 4 + length) return;
    const body = buffer.subarray(end + 4, end + 4 + length).toString();
    buffer = buffer.subarray(end + 4 + length);
    const w = waiter;
    waiter = undefined;
    w.resolve({ status, headers, body });
  };
  const fail = (err: Error): void => {
    closedError ??= err;
    const w = waiter;
    waiter = undefined;
    w?.reject(closedError);
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    tryParse();
  });
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('connection closed')));

  return {
    get(path) {
      if (closedError !== undefined) return Promise.reject(closedError);
      return new Promise<HttpResult>((resolve, reject) => {
        waiter = { resolve, reject };
        socket.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n\r\n`);
      });
    },
    close() {
      socket.destroy();
    },
  };
}
