// Peers that reset mid-way (the upstream during a response body, the downstream during a request
// body, either side of a TCP passthrough) end only their own exchange: no unhandled 'error', the
// listener keeps serving. A slow reader of a finished response still gets every byte.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT, SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  echoHandler,
  type HttpUpstream,
  httpRequest,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
} from '../testing/index.ts';

const DB_VIP = '10.96.0.20';
const BIG = 4 * 1024 * 1024;
let up: HttpUpstream;
let proxy: TestProxy;
let tcpUp: Server;
let tcpProxy: TestProxy;
const tcpPeers: Socket[] = [];

beforeAll(async () => {
  up = await startHttpUpstream({ name: 'web', ip: '127.0.0.49' });
  const echo = echoHandler('web');
  up.handler = (req: IncomingMessage, res: ServerResponse, body: string) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': BIG });
      res.end(Buffer.alloc(BIG, 'x'));
    } else if (req.url === '/reset-mid-body') {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write(Buffer.alloc(10_000, 'y'));
      setTimeout(() => (req.socket as Socket).resetAndDestroy(), 20);
    } else echo(req, res, body);
  };
  proxy = await startTestProxy([...SHOP, ...serviceWith([{ name: 'web-1', ip: up.ip, port: up.port }])], {
    destination: { ip: WEB_VIP, port: 80 },
    principal: CLIENT,
  });
  // a TCP service whose endpoint answers the first bytes, then resets
  tcpUp = createServer((s) => {
    s.on('error', () => {});
    tcpPeers.push(s);
    s.once('data', () => {
      s.write('hello');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
  });
  await new Promise<void>((r) => tcpUp.listen(0, '127.0.0.49', r));
  const port = (tcpUp.address() as { port: number }).port;
  tcpProxy = await startTestProxy(
    [
      ...SHOP,
      ...serviceWith([{ name: 'db-1', ip: '127.0.0.49', port }], {
        name: 'db',
        vip: DB_VIP,
        appProtocol: 'tcp',
      }),
    ],
    { destination: { ip: DB_VIP, port: 80 }, principal: CLIENT },
  );
});
afterAll(async () => {
  await proxy.close();
  await tcpProxy.close();
  await new Promise<void>((r) => tcpUp.close(() => r()));
  await up.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = async () => expect((await httpRequest(proxy.port, { path: '/ok' })).status).toBe(200);

/** Opens a connection, runs `act`, resolves with what was received once the proxy closes it. */
function exchange(port: number, act: (s: Socket) => void, guardMs = 10_000): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    const guard = setTimeout(() => s.destroy(), guardMs);
    s.once('close', () => {
      clearTimeout(guard);
      resolve(Buffer.concat(chunks));
    });
    s.once('connect', () => act(s));
  });
}

describe('peer resets', () => {
  it('a slow reader of a large response through the sniffing listener gets every byte', async () => {
    const got = await exchange(proxy.port, (s) => {
      s.write('GET /big HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n');
      s.pause();
      setTimeout(() => s.resume(), 500);
    });
    const head = got.indexOf('\r\n\r\n');
    expect(got.subarray(0, 12).toString()).toBe('HTTP/1.1 200');
    expect(got.length - head - 4).toBe(BIG);
  });

  it('the upstream resets during the response body: the exchange ends, the listener serves on', async () => {
    const got = await exchange(proxy.port, (s) =>
      s.write('GET /reset-mid-body HTTP/1.1\r\nHost: web\r\n\r\n'),
    );
    expect(got.subarray(0, 12).toString()).toBe('HTTP/1.1 200');
    expect(got.length).toBeLessThan(1_000_000);
    await ok();
  });

  it('the downstream resets during a request body: the listener serves on', async () => {
    for (let i = 0; i < 5; i++) {
      await exchange(proxy.port, (s) => {
        s.write('POST /upload HTTP/1.1\r\nHost: web\r\ncontent-length: 100000\r\n\r\n');
        s.write(Buffer.alloc(5_000, 'z'));
        setTimeout(() => s.resetAndDestroy(), 20);
      });
    }
    await sleep(50);
    await ok();
  });

  it('TCP passthrough: the endpoint resets, then a client resets; the listener serves on', async () => {
    const got = await exchange(tcpProxy.port, (s) => s.write('ping'));
    expect(got.toString()).toBe('hello');
    await exchange(tcpProxy.port, (s) => {
      s.write('ping');
      setTimeout(() => s.resetAndDestroy(), 5);
    });
    expect((await exchange(tcpProxy.port, (s) => s.write('again'))).toString()).toBe('hello');
    await ok();
  });
});
