import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoServer, meshRequest, startEchoServer } from './index.ts';

describe('echo server and mesh client (direct, no mesh)', () => {
  let echo: EchoServer;
  beforeAll(async () => {
    echo = await startEchoServer({
      host: '127.0.0.1',
      port: 0,
      service: 'echo',
      version: 'v2',
      failEvery: 3,
    });
  });
  afterAll(async () => {
    await echo.close();
  });

  it('echoes who served the request and what arrived', async () => {
    const res = await meshRequest({
      url: `http://127.0.0.1:${echo.address.port}/hello?x=1`,
      headers: { 'x-test': 'yes' },
    });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ service: 'echo', version: 'v2', method: 'GET', path: '/hello' });
    expect(body.headers['x-test']).toBe('yes');
  });

  it('answers the status asked for, and 503 on every third request when flaky', async () => {
    const url = `http://127.0.0.1:${echo.address.port}/`;
    const res = await meshRequest({ url: `${url}?status=418` });
    expect(res.status).toBe(418);
    // Requests so far: 1 (200), 2 (418); the third is the flaky one.
    const flaky = await meshRequest({ url });
    expect([flaky.status, JSON.parse(flaky.body).seq]).toEqual([503, 3]);
    // Each reply says its number at the server, so a client sees the requests it never got.
    const next = await meshRequest({ url });
    expect([next.status, JSON.parse(next.body).seq]).toEqual([200, 4]);
  });

  it('goes through a SOCKS5 proxy when given one', async () => {
    // A minimal SOCKS5 responder that accepts CONNECT to the echo server and splices bytes.
    const { connect } = await import('node:net');
    const proxy = createServer((client) => {
      client.once('data', () => {
        client.write(Buffer.from([5, 0]));
        client.once('data', (req) => {
          const port = req.readUInt16BE(req.length - 2);
          const upstream = connect({ host: '127.0.0.1', port }, () => {
            client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
            client.pipe(upstream).pipe(client);
          });
          upstream.on('error', () => client.destroy());
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const address = proxy.address();
    if (address === null || typeof address === 'string') throw new Error('no proxy address');
    try {
      const res = await meshRequest({
        url: `http://echo.demo.svc.cluster.local:${echo.address.port}/via-socks`,
        socks: { host: '127.0.0.1', port: address.port },
      });
      expect(JSON.parse(res.body).path).toBe('/via-socks');
    } finally {
      proxy.close();
    }
  });
});
