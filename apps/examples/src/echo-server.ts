// The HTTP echo workload: answers every request with who it is and what it received, so the demo
// and the end-to-end scenarios can see which backend served a call and which headers arrived.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoServerOptions {
  readonly host: string;
  readonly port: number;
  /** Service name reported in replies (e.g. "echo"). */
  readonly service: string;
  /** Version label reported in replies (e.g. "v1"); the canary demo tells versions apart by it. */
  readonly version: string;
  /** Pod name reported in replies. */
  readonly pod?: string;
  /** Answer 503 to every Nth request (N >= 2), to show retries hiding a flaky backend. */
  readonly failEvery?: number;
  /** Largest request body read, in bytes; larger bodies get 413. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

export interface EchoReply {
  readonly service: string;
  readonly version: string;
  readonly pod: string;
  /**
   * This request's number at this server (1, 2, ...). Gaps in what a client sees are requests it
   * never got the answer to, e.g. 503s a proxy retried.
   */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodyBytes: number;
  readonly remote: string;
}

export interface EchoServer {
  readonly address: AddressInfo;
  /** Requests answered so far, by status code. */
  readonly served: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

export async function startEchoServer(opts: EchoServerOptions): Promise<EchoServer> {
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const served = new Map<number, number>();
  let count = 0;
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    served.set(status, (served.get(status) ?? 0) + 1);
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-echo-version': opts.version,
    });
    res.end(text);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    count += 1;
    const seq = count;
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBody && !tooLarge) {
        tooLarge = true;
        reply(res, 413, { error: `request body over ${maxBody} bytes` });
        req.resume();
      }
    });
    req.on('end', () => {
      if (tooLarge) return;
      const url = new URL(req.url ?? '/', 'http://echo.invalid');
      const body: EchoReply = {
        service: opts.service,
        version: opts.version,
        pod: opts.pod ?? `${opts.service}-${opts.version}`,
        seq,
        method: req.method ?? 'GET',
        path: url.pathname,
        headers: req.headers,
        bodyBytes: bytes,
        remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      };
      const wanted = Number(url.searchParams.get('status') ?? '200');
      const status = Number.isInteger(wanted) && wanted >= 200 && wanted <= 599 ? wanted : 400;
      const flaky = opts.failEvery !== undefined && opts.failEvery >= 2 && seq % opts.failEvery === 0;
      reply(res, flaky ? 503 : status, flaky ? { ...body, error: 'flaky backend (failEvery)' } : body);
    });
    req.on('error', () => res.destroy());
  };
  const server: Server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, handle);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      server.on('error', () => {}); // accept failures after listening: the server keeps serving
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
