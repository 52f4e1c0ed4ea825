// The raw-socket HTTP/1.1 front end through real sockets, on both listener paths (`auto`: sniffed,
// as HBONE tunnels and captured ports; `http1`: kernel sockets straight to it): keep-alive,
// pipelining in order, 100-continue, HEAD, HTTP/1.0, and the refusals it answers itself.
import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT, SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  type HttpUpstream,
  rawExchange,
  startHttpUpstream,
  startTestProxy,
  statusOf,
  type TestProxy,
} from '../testing/index.ts';

let up: HttpUpstream;
const proxies = {} as Record<'auto' | 'http1', TestProxy>;

beforeAll(async () => {
  up = await startHttpUpstream({ name: 'web', ip: '127.0.0.62' });
  const mesh = [...SHOP, ...serviceWith([{ name: 'web-1', ip: up.ip, port: up.port }])];
  const opts = {
    destination: { ip: WEB_VIP, port: 80 },
    principal: CLIENT,
    config: { limits: { maxRequestHeadersBytes: 4096, maxRequestBodyBytes: 1024 } },
  };
  proxies.auto = await startTestProxy(mesh, opts);
  proxies.http1 = await startTestProxy(mesh, { ...opts, protocol: 'http1' });
});
afterAll(async () => {
  await proxies.auto.close();
  await proxies.http1.close();
  await up.close();
});

const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

describe.each(['auto', 'http1'] as const)('%s listener', (kind) => {
  it('answers pipelined requests in order, on one connection', async () => {
    const raw = await rawExchange(
      proxies[kind].port,
      'GET /one HTTP/1.1\r\nHost: web\r\n\r\nPOST /two HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n',
    );
    expect(statuses(raw)).toEqual([200, 200, 200]);
    const urls = [...raw.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    expect(urls).toEqual(['/one', '/two', '/three']);
    expect(raw).toMatch(/connection: close\r\n/);
  });

  it('skips empty lines before a request line', async () => {
    const raw = await rawExchange(
      proxies[kind].port,
      '\r\n\r\nGET /x HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n',
    );
    expect(statuses(raw)).toEqual([200]);
  });

  it('Expect: 100-continue gets a 100 before the final answer', async () => {
    const raw = await rawExchange(
      proxies[kind].port,
      'POST /c HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  it('HEAD gets the head only', async () => {
    const raw = await rawExchange(
      proxies[kind].port,
      'HEAD /h HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(raw)).toBe(200);
    expect(raw.endsWith('\r\n\r\n')).toBe(true);
  });

  it('HTTP/1.0 keep-alive is answered keep-alive, then the connection serves again', async () => {
    const raw = await rawExchange(
      proxies[kind].port,
      'GET /a HTTP/1.0\r\nHost: web\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nHost: web\r\n\r\n',
    );
    expect(statuses(raw)).toEqual([200, 200]);
    expect(raw).toMatch(/connection: keep-alive\r\n/);
  });

  it.each([
    ['CONNECT', 'CONNECT web:443 HTTP/1.1\r\nHost: web:443\r\n\r\n', 405, 'bad_request'],
    [
      'an h2c upgrade',
      'GET / HTTP/1.1\r\nHost: web\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
      400,
      'bad_request',
    ],
    ['a bare LF before the head ends', 'GET / HTTP/1.1\nHost: web', 400, 'bad_request'],
    [
      'an unknown Expect',
      'POST / HTTP/1.1\r\nHost: web\r\nExpect: x\r\nContent-Length: 1\r\n\r\na',
      417,
      'bad_request',
    ],
    [
      'a head over the limit without its end',
      `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(5000)}`,
      431,
      'header_too_large',
    ],
    [
      'a malformed chunk size',
      'POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      400,
      'request_smuggling',
    ],
  ] as const)('%s -> %i, counted, nothing forwarded', async (_name, req, status, reason) => {
    const p = proxies[kind];
    const before = p.engine.telemetry.rejects.count(reason);
    const seen = up.requests.length;
    const raw = await rawExchange(p.port, req);
    expect(statusOf(raw)).toBe(status);
    expect(p.engine.telemetry.rejects.count(reason)).toBe(before + 1);
    expect(up.requests.length).toBe(seen);
  });
});

describe('an answer that comes before the request body ends', () => {
  let raw: Server;
  let proxy: TestProxy;
  beforeAll(async () => {
    // an upstream that answers each head at once, without waiting for its body
    raw = createServer((s) => {
      s.on('error', () => {});
      let buf = '';
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
          buf = buf.slice(i + 4);
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nearly');
        }
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.63', r));
    const port = (raw.address() as { port: number }).port;
    proxy = await startTestProxy([...SHOP, ...serviceWith([{ name: 'web-1', ip: '127.0.0.63', port }])], {
      destination: { ip: WEB_VIP, port: 80 },
      principal: CLIENT,
      protocol: 'http1',
    });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((r) => raw.close(() => r()));
  });

  it('drops the rest of that body and serves the next request on the connection', async () => {
    const s = connect(proxy.port, '127.0.0.1');
    s.on('error', () => {});
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write('POST /early HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\n\r\nab');
    for (let i = 0; i < 100 && !got.includes('early'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(statuses(got)).toEqual([200]);
    s.write('cdefGET /next HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n');
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    expect(statuses(got)).toEqual([200, 200]);
    s.destroy();
  });
});
