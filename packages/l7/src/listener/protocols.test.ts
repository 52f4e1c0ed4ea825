// Protocols end to end through the plaintext listener: gRPC (HTTP/2, trailers, grpc-timeout,
// retries on grpc-status), WebSocket upgrade passthrough, plain TCP passthrough, HTTP/1.1
// keep-alive and chunked bodies.
import { createServer as createH1Server } from 'node:http';
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '@weft/hbone';
import { virtualService } from '@weft/policy/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  type H2Upstream,
  httpRequest,
  rawExchange,
  startH2Upstream,
  startTestProxy,
  type TestProxy,
} from '../testing/index.ts';
import { createInbound } from './inbound.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function grpcCall(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  grpcStatus: string | undefined;
  body: Buffer;
  trailers: Record<string, unknown>;
}> {
  return new Promise((resolve, reject) => {
    const st = session.request({
      ':method': 'POST',
      ':path': path,
      ':authority': 'grpc.shop',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let status = 0;
    let headerGrpc: string | undefined;
    const chunks: Buffer[] = [];
    let trailers: Record<string, unknown> = {};
    st.on('response', (h) => {
      status = Number(h[':status']);
      headerGrpc = h['grpc-status'] as string | undefined;
    });
    st.on('trailers', (t) => {
      trailers = t;
    });
    st.on('data', (c: Buffer) => chunks.push(c));
    st.on('end', () =>
      resolve({
        status,
        grpcStatus: (trailers['grpc-status'] as string | undefined) ?? headerGrpc,
        body: Buffer.concat(chunks),
        trailers,
      }),
    );
    st.on('error', reject);
    // a gRPC frame: flag 0, length 5, "hello"
    st.end(Buffer.from([0, 0, 0, 0, 5, ...Buffer.from('hello')]));
  });
}

async function grpcProxy(
  up: H2Upstream,
  extra: unknown[] = [],
): Promise<{ proxy: TestProxy; session: ClientHttp2Session }> {
  const proxy = await startTestProxy(
    [
      ...SHOP,
      ...serviceWith([{ name: 'g-1', ip: up.ip, port: up.port }], { name: 'grpc', appProtocol: 'grpc' }),
      ...extra,
    ],
    {
      destination: { ip: WEB_VIP, port: 80 },
      deps: { delay: () => Promise.resolve() },
    },
  );
  const session = h2connect(`http://127.0.0.1:${proxy.port}`);
  cleanups.push(() => proxy.close());
  cleanups.push(() => {
    session.destroy();
  });
  return { proxy, session };
}

describe('gRPC', () => {
  it('carries a unary call with its trailers end to end', async () => {
    const up = await startH2Upstream({ ip: '127.0.0.51' });
    cleanups.push(() => up.close());
    const { session } = await grpcProxy(up);
    const r = await grpcCall(session, '/echo.Echo/Say');
    expect(r.status).toBe(200);
    expect(r.grpcStatus).toBe('0');
    expect(r.trailers['x-path']).toBe('/echo.Echo/Say');
    expect(r.body.subarray(5).toString()).toBe('hello');
  });

  it('retries on grpc-status unavailable (trailers-only) when the route says so', async () => {
    const up = await startH2Upstream({ ip: '127.0.0.52' });
    cleanups.push(() => up.close());
    let calls = 0;
    const base = up.handler;
    up.handler = (stream, headers, body) => {
      calls++;
      if (calls === 1) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14' },
          { endStream: true },
        );
        return;
      }
      base(stream, headers, body);
    };
    const { session } = await grpcProxy(up, [
      virtualService('grpc', {
        namespace: 'shop',
        hosts: ['grpc'],
        http: [
          {
            route: [{ destination: { host: 'grpc', port: { number: 80 } } }],
            retries: { attempts: 2, retryOn: 'unavailable' },
          },
        ],
      }),
    ]);
    const r = await grpcCall(session, '/echo.Echo/Say');
    expect(r.grpcStatus).toBe('0');
    expect(calls).toBe(2);
  });

  it('honours grpc-timeout: a stalled backend gives DEADLINE_EXCEEDED', async () => {
    const up = await startH2Upstream({ ip: '127.0.0.53' });
    cleanups.push(() => up.close());
    up.handler = () => {
      // never answers
    };
    const { session } = await grpcProxy(up);
    const r = await grpcCall(session, '/echo.Echo/Slow', { 'grpc-timeout': '150m' });
    expect(r.status).toBe(200);
    expect(r.grpcStatus).toBe('4');
  });

  it('an RBAC-style local reply to a gRPC caller is a gRPC status', async () => {
    const up = await startH2Upstream({ ip: '127.0.0.54' });
    cleanups.push(() => up.close());
    await up.close();
    const { session } = await grpcProxy(up);
    const r = await grpcCall(session, '/echo.Echo/Say');
    expect(r.status).toBe(200);
    expect(r.grpcStatus).toBe('14');
  });
});

describe('HTTP/1.1', () => {
  it('WebSocket upgrade passes through and then carries raw bytes both ways', async () => {
    const server = createH1Server();
    server.on('upgrade', (req, socket: Socket, head) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-path: ${req.url}\r\n\r\n`,
      );
      if (head.length > 0) socket.write(head);
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      socket.on('end', () => socket.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.55', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => server.closeAllConnections());
    const port = (server.address() as { port: number }).port;
    const proxy = await startTestProxy(
      [...SHOP, ...serviceWith([{ name: 'ws-1', ip: '127.0.0.55', port }])],
      { destination: { ip: WEB_VIP, port: 80 } },
    );
    cleanups.push(() => proxy.close());
    const got = await new Promise<string>((resolve) => {
      const c = connect(proxy.port, '127.0.0.1');
      let buf = '';
      c.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\r\n\r\n') && !buf.includes('echo:')) c.write('ping');
        if (buf.includes('echo:ping')) {
          c.destroy();
          resolve(buf);
        }
      });
      c.write(
        'GET /chat HTTP/1.1\r\nHost: web\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    expect(got).toMatch(/^HTTP\/1\.1 101/);
    expect(got).toContain('x-path: /chat');
    expect(got).toContain('echo:ping');
  });

  it('keeps a connection alive across requests and streams a chunked body', async () => {
    const server = createH1Server((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => {
        res.write('got ');
        res.end(String(n));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.56', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => server.closeAllConnections());
    const port = (server.address() as { port: number }).port;
    const proxy = await startTestProxy([...SHOP, ...serviceWith([{ name: 'c-1', ip: '127.0.0.56', port }])], {
      destination: { ip: WEB_VIP, port: 80 },
    });
    cleanups.push(() => proxy.close());
    const out = await rawExchange(
      proxy.port,
      'POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n',
    );
    const responses = out.split('HTTP/1.1 200').length - 1;
    expect(responses).toBe(2);
    const dechunked = out.replace(/\r\n[0-9a-f]+\r\n/g, '');
    expect(dechunked).toContain('got 11');
    expect(dechunked).toContain('got 0');
  });
});

describe('TCP passthrough', () => {
  it('a non-HTTP port is proxied as bytes, L4 policy applied', async () => {
    const echo: Server = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.57', r));
    cleanups.push(() => new Promise<void>((r) => echo.close(() => r())));
    const port = (echo.address() as { port: number }).port;
    const proxy = await startTestProxy(
      [
        ...SHOP,
        ...serviceWith([{ name: 'db-1', ip: '127.0.0.57', port }], { name: 'db', appProtocol: 'tcp' }),
      ],
      {
        destination: { ip: WEB_VIP, port: 80 },
      },
    );
    cleanups.push(() => proxy.close());
    const got = await new Promise<string>((resolve) => {
      const c = connect(proxy.port, '127.0.0.1');
      let buf = '';
      c.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf === '\x00binary protocol\x01') {
          c.end();
          resolve(buf);
        }
      });
      c.write('\x00binary protocol\x01');
    });
    expect(got).toBe('\x00binary protocol\x01');
    // an HTTP request to the same (sniffed) port is handled as HTTP: the echo is no HTTP answer
    const r = await httpRequest(proxy.port, { path: '/x' });
    expect(r.status).toBe(502);
  });

  it('a port nobody declared is sniffed, and the bytes read while sniffing reach the upstream (socket and tunnel)', async () => {
    const echo: Server = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.58', r));
    cleanups.push(() => new Promise<void>((r) => echo.close(() => r())));
    const port = (echo.address() as { port: number }).port;
    const proxy = await startTestProxy(
      [...SHOP, ...serviceWith([{ name: 'db-2', ip: '127.0.0.58', port }], { name: 'db2', portName: 'db' })],
      { destination: { ip: WEB_VIP, port: 80 } },
    );
    cleanups.push(() => proxy.close());
    const message = '\x00\x01binary, not HTTP\x02';
    const exchange = (c: Duplex) =>
      new Promise<string>((resolve) => {
        let buf = '';
        const guard = setTimeout(() => {
          c.destroy();
          resolve(buf);
        }, 8000);
        c.on('data', (d: Buffer) => {
          buf += d.toString('latin1');
          if (buf === message) {
            clearTimeout(guard);
            c.end();
            resolve(buf);
          }
        });
        c.on('error', () => {});
        c.write(message);
      });
    // a kernel socket (bridged through an in-memory pair after sniffing)
    expect(await exchange(connect(proxy.port, '127.0.0.1'))).toBe(message);
    // an in-memory stream, as an HBONE tunnel is: the sniffed bytes are put back with unshift
    const inbound = createInbound(proxy.engine);
    const [client, tunnel] = createDuplexPair();
    inbound.handle(tunnel, {
      remoteIp: '127.0.0.1',
      remotePort: 1,
      principal: undefined,
      forwardedFor: undefined,
      destinationIp: WEB_VIP,
      destinationPort: 80,
      security: 'none',
    });
    expect(await exchange(client)).toBe(message);
    inbound.close();
  });
});
