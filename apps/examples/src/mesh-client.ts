// The mesh client used by the demo and the end-to-end tests: one HTTP request through a ztunnel's
// SOCKS5 port, sent from the workload's own address so the ztunnel knows which workload is calling.
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { SocksClient } from 'socks';

export interface MeshTarget {
  /** The node's SOCKS5 listener, e.g. { host: '127.0.2.1', port: 15080 }; absent = dial directly. */
  readonly socks?: { readonly host: string; readonly port: number };
  /** The calling workload's own address (bound as the source address). */
  readonly source?: string;
  /**
   * Opens the TCP connection itself, e.g. from inside the workload's network namespace where
   * interception carries it into the mesh; `socks` and `source` are then unused.
   */
  readonly connect?: (host: string, port: number, timeoutMs: number) => Promise<Socket>;
}

export interface MeshResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface MeshRequestOptions extends MeshTarget {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs?: number;
}

/** Opens a TCP connection to host:port, through SOCKS5 when `socks` is set. */
export async function dial(
  target: MeshTarget,
  host: string,
  port: number,
  timeoutMs = 5000,
): Promise<Socket> {
  if (target.connect !== undefined) return await target.connect(host, port, timeoutMs);
  if (target.socks === undefined) {
    return await new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host, port, ...(target.source ? { localAddress: target.source } : {}) });
      const timer = setTimeout(
        () => socket.destroy(new Error(`connect ${host}:${port} timed out`)),
        timeoutMs,
      );
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      // Kept after connect: a reset later on reaches the caller as 'close', never as an
      // unhandled 'error'.
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }
  const { socket } = await SocksClient.createConnection({
    proxy: { host: target.socks.host, port: target.socks.port, type: 5 },
    command: 'connect',
    destination: { host, port },
    timeout: timeoutMs,
    // The proxy's host and port are filled in by the library; only the source address is ours.
    ...(target.source ? { socket_options: { localAddress: target.source, port: target.socks.port } } : {}),
  });
  return socket;
}

/** Sends one HTTP/1.1 request; rejects on connection failure, resolves with any HTTP status. */
export async function meshRequest(opts: MeshRequestOptions): Promise<MeshResponse> {
  const url = new URL(opts.url);
  const port = Number(url.port || 80);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const socket = await dial(opts, url.hostname, port, timeoutMs);
  return await new Promise<MeshResponse>((resolve, reject) => {
    const req = httpRequest(
      {
        method: opts.method ?? 'GET',
        host: url.hostname,
        port,
        path: `${url.pathname}${url.search}`,
        headers: { connection: 'close', ...opts.headers },
        createConnection: () => socket,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${opts.url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
