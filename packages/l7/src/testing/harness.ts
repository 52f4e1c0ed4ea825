// Engine-level test harness: upstream servers that echo what they received, a compiled-mesh
// loader, an engine behind a plaintext listener, and small HTTP clients (including a raw one for
// hostile bytes). The waypoint and the sidecar test their composition roots with the same pieces.
import {
  createServer as createH1Server,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { compile, type MeshSnapshot } from '@weft/policy';
import { applyUpdate, batchFromSnapshot } from '@weft/proxy-core';
import { createEngine, type Engine, type EngineConfig, type EngineDeps } from '../engine/engine.ts';
import type { Downstream } from '../http/message.ts';
import { listenPlaintext, type PlaintextListener } from '../listener/plaintext.ts';

export interface UpstreamRequestRecord {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface HttpUpstream {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly requests: UpstreamRequestRecord[];
  /** Replaces the handler (the default echoes JSON). */
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void;
  close(): Promise<void>;
}

/** The default handler: 200 with JSON {name, method, url, headers, body}. */
export function echoHandler(name: string) {
  return (req: IncomingMessage, res: ServerResponse, body: string) => {
    const text = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, body });
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-upstream': name,
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
}

/** An HTTP/1.1 server on `ip` (default 127.0.0.1) that records and echoes requests. */
export async function startHttpUpstream(opts: { name?: string; ip?: string } = {}): Promise<HttpUpstream> {
  const name = opts.name ?? 'upstream';
  const ip = opts.ip ?? '127.0.0.1';
  const requests: UpstreamRequestRecord[] = [];
  const sockets = new Set<Socket>();
  const up: HttpUpstream = {
    name,
    ip,
    port: 0,
    requests,
    handler: echoHandler(name),
    close: () => Promise.resolve(),
  };
  const server = createH1Server((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, body });
      up.handler(req, res, body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  (up as { port: number }).port = a.port;
  up.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return up;
}

export interface H2Upstream {
  readonly ip: string;
  readonly port: number;
  readonly server: Http2Server;
  handler: (
    stream: ServerHttp2Stream,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ) => void;
  close(): Promise<void>;
}

/** An h2c server; the default handler answers like a unary gRPC echo (trailers with grpc-status 0). */
export async function startH2Upstream(opts: { ip?: string } = {}): Promise<H2Upstream> {
  const ip = opts.ip ?? '127.0.0.1';
  const server = createH2Server();
  const up: H2Upstream = {
    ip,
    port: 0,
    server,
    handler: (stream, headers, body) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'x-path': String(headers[':path']) }),
      );
      stream.end(body);
    },
    close: () => Promise.resolve(),
  };
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      up.handler(stream, headers as Record<string, string | string[] | undefined>, Buffer.concat(chunks)),
    );
  });
  const sessions = new Set<{ destroy(): void }>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  (up as { port: number }).port = a.port;
  up.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    });
  return up;
}

/** Compiles test objects; throws on any error (tests want to know). */
export function compileMesh(objects: readonly unknown[]): MeshSnapshot {
  const { snapshot, errors } = compile(objects);
  if (errors.length > 0)
    throw new Error(`invalid test mesh: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return snapshot;
}

export interface TestProxy {
  readonly engine: Engine;
  readonly listener: PlaintextListener;
  /** "http://127.0.0.1:<port>" of the plaintext listener. */
  readonly url: string;
  readonly port: number;
  /** Loads a new mesh into the engine's store. */
  load(objects: readonly unknown[]): void;
  close(): Promise<void>;
}

/**
 * An engine loaded with `objects`, behind a plaintext listener whose connections count as sent
 * to `destination` (a service VIP and port) by `principal`.
 */
export async function startTestProxy(
  objects: readonly unknown[],
  opts: {
    destination: { ip: string; port: number };
    principal?: string;
    forwardedFor?: string;
    config?: EngineConfig;
    deps?: EngineDeps;
    protocol?: 'http1' | 'auto';
  },
): Promise<TestProxy> {
  const engine = createEngine(opts.config ?? {}, opts.deps ?? {});
  const load = (objs: readonly unknown[]) => {
    applyUpdate(engine.store, batchFromSnapshot(compileMesh(objs)));
  };
  load(objects);
  const downstream = (s: Socket): Downstream => ({
    remoteIp: s.remoteAddress ?? '',
    remotePort: s.remotePort ?? 0,
    principal: opts.principal,
    forwardedFor: opts.forwardedFor,
    destinationIp: opts.destination.ip,
    destinationPort: opts.destination.port,
    security: opts.principal === undefined ? 'none' : 'mutual_tls',
  });
  const listener = await listenPlaintext(engine, { protocol: opts.protocol ?? 'auto', downstream });
  return {
    engine,
    listener,
    url: `http://127.0.0.1:${listener.address.port}`,
    port: listener.address.port,
    load,
    async close() {
      await listener.close();
      engine.close();
    },
  };
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP/1.1 request on a fresh connection. */
export function httpRequest(
  port: number,
  opts: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    host?: string;
  } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: { host: opts.host ?? 'web.shop.svc.cluster.local', ...opts.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes on a fresh connection and returns everything read until the peer closes (or `timeoutMs`). */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    s.write(data);
  });
}

/** The status code of the first response in a raw exchange (0 when none). */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return m === null ? 0 : Number(m[1]);
}
