// @weft/sidecar/testing: what tests of the sidecar and the scenarios driving it need: a SOCKS5
// client that binds the pod's address (as a local-mode app does), HTTP/1.1 over a connected
// stream, and a TCP echo app.

import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** SOCKS5 CONNECT through `proxy`, from `localAddress`; the socket once the reply arrived. */
export function socks5Connect(opts: {
  readonly proxy: { readonly ip: string; readonly port: number };
  readonly localAddress: string;
  readonly host: string;
  readonly port: number;
}): Promise<{ readonly reply: number; readonly socket: Socket }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: opts.proxy.ip, port: opts.proxy.port, localAddress: opts.localAddress });
    s.on('error', reject);
    let buf = Buffer.alloc(0);
    let phase = 0;
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (phase === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        phase = 1;
        const name = Buffer.from(opts.host);
        const port = Buffer.alloc(2);
        port.writeUInt16BE(opts.port);
        s.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, port]));
      }
      if (phase === 1 && buf.length >= 2) {
        const code = buf[1] as number;
        if (code !== 0 || buf.length >= 10) {
          s.off('data', onData);
          const rest = buf.subarray(code === 0 ? 10 : buf.length);
          if (rest.length > 0) s.unshift(rest);
          resolve({ reply: code, socket: s });
        }
      }
    };
    s.on('data', onData);
    s.on('close', () => resolve({ reply: -1, socket: s }));
  });
}

/** One HTTP/1.1 GET over an already connected stream. */
export function httpOver(
  stream: Duplex,
  path: string,
  host: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { path, headers: { host, connection: 'close' }, createConnection: () => stream as never },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Writes `data`, half-closes, and collects what comes back until the peer closes. */
export function exchange(stream: Duplex, data: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    stream.on('data', (c: Buffer) => {
      out += c.toString();
    });
    stream.on('error', () => {});
    stream.on('close', () => resolve(out));
    stream.end(data);
  });
}

export interface TcpEchoApp {
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP echo app on `ip`. */
export async function startTcpEchoApp(ip: string): Promise<TcpEchoApp> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, ip, r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  return {
    port: a.port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export {
  GRPC_ECHO_METHODS,
  type GrpcCallResult,
  type GrpcEchoCall,
  type GrpcEchoMethod,
  type GrpcEchoServer,
  grpcCall,
  meshChannelCredentials,
  startGrpcEcho,
} from '@weft/proxy-core/testing';
