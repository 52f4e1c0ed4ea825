// An HTTP/2 listener whose connections carry requests for several services (the waypoint's
// proxyless listener): `destinationOf` names each request's destination from its :authority;
// a refusal is answered by the listener (trailers-only for gRPC) and never reaches the engine.
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine/engine.ts';
import type { Downstream } from '../http/message.ts';
import { applyUpdate, batchFromSnapshot } from '../index.ts';
import { SHOP, serviceWith } from '../test-support/mesh.ts';
import { compileMesh, type HttpUpstream, startHttpUpstream } from '../testing/harness.ts';
import { createHttp2Listener, type Http2Listener, type RequestDestination } from './http2.ts';

const VIPS: Record<string, string> = { 'web:80': '10.96.0.10', 'api:80': '10.96.0.11' };

describe('createHttp2Listener with destinationOf', () => {
  let web: HttpUpstream;
  let api: HttpUpstream;
  let engine: Engine;
  let listener: Http2Listener;
  let server: Server;
  let session: ClientHttp2Session;
  const asked: (string | undefined)[] = [];

  beforeAll(async () => {
    web = await startHttpUpstream({ name: 'web-1', ip: '127.0.0.31' });
    api = await startHttpUpstream({ name: 'api-1', ip: '127.0.0.32' });
    engine = createEngine();
    applyUpdate(
      engine.store,
      batchFromSnapshot(
        compileMesh([
          ...SHOP,
          ...serviceWith([{ name: 'web-1', ip: web.ip, port: web.port }]),
          ...serviceWith([{ name: 'api-1', ip: api.ip, port: api.port }], { name: 'api', vip: '10.96.0.11' }),
        ]),
      ),
    );
    const destinationOf = (conn: Downstream, authority: string | undefined): RequestDestination => {
      asked.push(authority);
      const vip = authority === undefined ? undefined : VIPS[authority];
      return vip === undefined
        ? { ok: false, status: 503, grpcStatus: 14, message: `no service ${authority}` }
        : { ok: true, downstream: { ...conn, destinationIp: vip, destinationPort: 80 } };
    };
    listener = createHttp2Listener(engine, { destinationOf });
    server = createServer((s) => {
      s.on('error', () => {});
      listener.handle(s, {
        remoteIp: '127.0.0.1',
        remotePort: s.remotePort ?? 0,
        principal: 'spiffe://cluster.local/ns/legacy/sa/client',
        forwardedFor: undefined,
        destinationIp: '',
        destinationPort: 0,
        security: 'mutual_tls',
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    session = h2connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    session.on('error', () => {});
  });
  afterAll(async () => {
    session?.close();
    listener?.close();
    await new Promise<void>((r) => server.close(() => r()));
    engine?.close();
    await web?.close();
    await api?.close();
  });

  const request = (authority: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const s = session.request({
        ':method': body === undefined ? 'GET' : 'POST',
        ':path': '/x',
        ':authority': authority,
        ...headers,
      });
      let out = '';
      let head: Record<string, unknown> = {};
      s.on('response', (h) => {
        head = { ...h };
      });
      s.on('trailers', (t) => {
        head = { ...head, ...t };
      });
      s.on('data', (c) => {
        out += c;
      });
      s.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: out }));
      s.on('error', reject);
      if (body !== undefined) s.end(body);
      else s.end();
    });

  it('sends each request of one connection to the service its :authority names', async () => {
    const [a, b] = await Promise.all([request('web:80'), request('api:80')]);
    expect([a.status, JSON.parse(a.body).name]).toEqual([200, 'web-1']);
    expect([b.status, JSON.parse(b.body).name]).toEqual([200, 'api-1']);
    expect(listener.sessions).toBe(1);
  });

  it('answers a refusal itself: the HTTP status, or a trailers-only gRPC status', async () => {
    const before = web.requests.length + api.requests.length;
    const plain = await request('nope:80', {}, 'a body the listener does not want');
    expect(plain.status).toBe(503);
    expect(plain.body).toBe('no service nope:80\n');
    const grpc = await request('nope:80', { 'content-type': 'application/grpc' });
    expect(grpc.status).toBe(200);
    expect(grpc.headers).toMatchObject({ 'grpc-status': '14', 'grpc-message': 'no service nope:80' });
    expect(web.requests.length + api.requests.length).toBe(before);
    // the connection still serves
    expect((await request('web:80')).status).toBe(200);
    expect(asked).toContain('nope:80');
  });
});
