// Bad input through real sockets on 127.0.0.1: every case gets a clear status (or a closed
// connection for floods), is counted in weft_rejected_total, and the proxy keeps serving.
import { type ClientHttp2Session, constants as h2, connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { encodeFrame, FRAME, H2_PREFACE, settingsFrame } from '@weft/hbone/testing';
import { authorizationPolicy } from '@weft/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RejectReason } from '../telemetry.ts';
import { CLIENT, SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  type HttpUpstream,
  httpRequest,
  rawExchange,
  startHttpUpstream,
  startTestProxy,
  statusOf,
  type TestProxy,
} from '../testing/index.ts';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
let up: HttpUpstream;
let proxy: TestProxy;

beforeAll(async () => {
  up = await startHttpUpstream({ name: 'web', ip: '127.0.0.41' });
  proxy = await startTestProxy(
    [
      ...SHOP,
      ...serviceWith([{ name: 'web-1', ip: up.ip, port: up.port }]),
      authorizationPolicy('deny-admin', {
        namespace: 'shop',
        action: 'DENY',
        targetRefs: [{ kind: 'Service', name: 'web' }],
        rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }],
      }),
    ],
    {
      destination: { ip: WEB_VIP, port: 80 },
      principal: CLIENT,
      config: {
        limits: {
          maxRequestHeadersBytes: 4096,
          maxRequestBodyBytes: 1024,
          h2MaxPrematureResets: 20,
          h2MaxControlFrames: 50,
        },
      },
    },
  );
});
afterAll(async () => {
  await proxy.close();
  await up.close();
});

const count = (r: RejectReason) => proxy.engine.telemetry.rejects.count(r);

async function stillServing(): Promise<void> {
  expect((await httpRequest(proxy.port, { path: '/ok' })).status).toBe(200);
}

describe('HTTP/1.1 request smuggling and framing', () => {
  it.each([
    [
      'Content-Length + Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'duplicate Content-Length',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd',
    ],
    [
      'conflicting Content-Length',
      'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    ],
    ['Content-Length list', 'POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4, 4\r\n\r\nabcd'],
    [
      'Transfer-Encoding not chunked',
      'POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'Transfer-Encoding chunked, identity',
      'POST / HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
    ],
  ])('%s -> 400, counted, nothing reaches the backend', async (_name, raw) => {
    const before = count('request_smuggling');
    const seen = up.requests.length;
    const out = await rawExchange(proxy.port, raw);
    expect(statusOf(out)).toBe(400);
    expect(count('request_smuggling')).toBe(before + 1);
    expect(up.requests.length).toBe(seen);
  });

  it('a smuggled second request in a chunked body never becomes a request', async () => {
    const seen = up.requests.length;
    const raw =
      'POST /a HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n';
    const out = await rawExchange(proxy.port, raw, 500);
    // the pipelined second request is parsed as its own request and denied by policy
    expect(out).toContain('HTTP/1.1 200');
    expect(out).toContain('HTTP/1.1 403');
    expect(up.requests.slice(seen).map((r) => r.url)).toEqual(['/a']);
  });
});

describe('limits', () => {
  it('oversized headers -> 431, counted', async () => {
    const before = count('header_too_large');
    const out = await rawExchange(
      proxy.port,
      `GET / HTTP/1.1\r\nHost: web\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`,
    );
    expect(statusOf(out)).toBe(431);
    expect(count('header_too_large')).toBe(before + 1);
  });

  it('oversized body (Content-Length) -> 413 before reading it', async () => {
    const before = count('body_too_large');
    const r = await httpRequest(proxy.port, { method: 'POST', path: '/up', body: 'x'.repeat(2000) });
    expect(r.status).toBe(413);
    expect(count('body_too_large')).toBe(before + 1);
  });

  it('oversized chunked body -> 413', async () => {
    const before = count('body_too_large');
    const chunk = 'x'.repeat(600);
    const raw = `POST /up HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`;
    const out = await rawExchange(proxy.port, raw);
    expect(statusOf(out)).toBe(413);
    expect(count('body_too_large')).toBe(before + 1);
    await stillServing();
  });
});

describe('Host and :authority', () => {
  it.each([
    ['missing Host', 'GET / HTTP/1.1\r\n\r\n'],
    ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n'],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: web\r\nHost: evil\r\n\r\n'],
    ['space in Host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n'],
    ['userinfo in Host', 'GET / HTTP/1.1\r\nHost: user@web\r\n\r\n'],
    ['bad port', 'GET / HTTP/1.1\r\nHost: web:99999\r\n\r\n'],
  ])('%s -> 400', async (_name, raw) => {
    const out = await rawExchange(proxy.port, raw);
    expect(statusOf(out)).toBe(400);
  });

  it('counts them', () => {
    expect(count('invalid_host')).toBeGreaterThanOrEqual(6);
  });
});

const TRICKS: readonly [string, number][] = [
  ['/admin', 403],
  ['/public/../admin', 403],
  ['//admin', 403],
  ['/./admin', 403],
  ['/admin/', 403],
  ['/%61dmin', 403],
  ['/public/%2e%2e/admin', 403],
  ['/public/%2E%2E/admin', 403],
  ['/admin%2F', 400],
  ['/admin%2fx', 400],
  ['/admin%5C', 400],
  ['/admin%00', 400],
  ['/admin#frag', 403],
  ['/public#/../admin', 200],
  ['/ADMIN', 200],
  ['/public/..%2Fadmin', 400],
  ['http://web/admin', 400],
];

describe('path tricks against a DENY rule over HTTP/1.1', () => {
  it.each(TRICKS)('%s -> %i', async (path, status) => {
    const out = await rawExchange(
      proxy.port,
      `GET ${path} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(out)).toBe(status);
  });

  it('forwards the normalized path, never the raw one', async () => {
    await rawExchange(proxy.port, 'GET /public/./x/../y HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n');
    expect(up.requests[up.requests.length - 1]?.url).toBe('/public/y');
    await rawExchange(proxy.port, 'GET /ADMIN HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n');
    // case is kept: /ADMIN is another resource for a case-sensitive backend (write ALLOW lists otherwise)
    expect(up.requests[up.requests.length - 1]?.url).toBe('/ADMIN');
  });
});

function h2session(): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${proxy.port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function h2get(s: ClientHttp2Session, path: string, authority = 'web'): Promise<number> {
  return new Promise((resolve) => {
    const st = s.request({ ':path': path, ':authority': authority });
    st.on('response', (h) => resolve(Number(h[':status'])));
    st.on('error', () => resolve(0));
    st.on('close', () => resolve(0));
    st.resume();
    st.end();
  });
}

describe('path tricks against a DENY rule over HTTP/2', () => {
  let s: ClientHttp2Session;
  beforeAll(async () => {
    s = await h2session();
  });
  afterAll(() => {
    s.close();
  });
  it.each(TRICKS.filter(([p]) => p.startsWith('/')))('%s -> %i', async (path, status) => {
    expect(await h2get(s, path)).toBe(status);
  });

  it.each(['web:0x50', 'user@web', 'web:99999'])(
    'invalid :authority %s -> 400 (or a stream reset), never proxied',
    async (authority) => {
      const seen = up.requests.length;
      // Node's HTTP/2 layer passes these to the engine (400); Bun's refuses "@" itself (stream reset, 0).
      expect([400, 0]).toContain(await h2get(s, '/', authority));
      expect(up.requests.length).toBe(seen);
    },
  );

  it('an :authority with a space (which the node client refuses to send) is refused by the HTTP/2 layer (RST_STREAM)', async () => {
    const seen = up.requests.length;
    const out = await rawH2(
      headersFrame(1, [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'a b'],
      ]),
    );
    expect(out.reset).toBe(true);
    expect(up.requests.length).toBe(seen);
  });

  // Skipped under Bun: Bun's HTTP/2 server Huffman-codes the :status literal, which this test's
  // minimal HPACK reader does not decode (the same case runs through node's client above).
  it.skipIf(isBun)('a raw HEADERS frame with a dot-dot path is normalized and denied', async () => {
    const out = await rawH2(
      headersFrame(1, [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/x/../admin'],
        [':authority', 'web'],
      ]),
    );
    expect(out.status).toBe(403);
  });
});

/** HPACK literal header fields without indexing, no Huffman (short names and values only). */
function headersFrame(streamId: number, fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(
      Buffer.from([0x00, name.length]),
      Buffer.from(name, 'latin1'),
      Buffer.from([value.length]),
      Buffer.from(value, 'latin1'),
    );
  }
  // END_STREAM | END_HEADERS
  return encodeFrame(FRAME.HEADERS, 0x5, streamId, Buffer.concat(parts));
}

/** Sends the preface, our SETTINGS and `frames` on a raw connection; reads until close or 1 s. */
function rawH2(frames: Buffer): Promise<{ closed: boolean; status: number | undefined; reset?: boolean }> {
  return new Promise((resolve) => {
    const c = connect(proxy.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let status: number | undefined;
    const timer = setTimeout(() => {
      c.destroy();
      resolve({ closed: false, status });
    }, 1000);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // find a HEADERS frame on stream 1 and read its first byte (HPACK static index for :status)
      let off = 0;
      while (off + 9 <= buf.length) {
        const len = buf.readUIntBE(off, 3);
        const type = buf[off + 3];
        const sid = buf.readUInt32BE(off + 5) & 0x7fffffff;
        if (off + 9 + len > buf.length) break;
        if (type === FRAME.RST_STREAM && sid === 1) {
          clearTimeout(timer);
          c.destroy();
          resolve({ closed: false, status, reset: true });
          return;
        }
        if (type === FRAME.HEADERS && sid === 1 && status === undefined) {
          const b = buf[off + 9] ?? 0;
          // indexed field: 0x88 = 200, 0x8c = 400 (static table); otherwise literal with index 8
          const STATIC: Record<number, number> = {
            8: 200,
            9: 204,
            10: 206,
            11: 304,
            12: 400,
            13: 404,
            14: 500,
          };
          if ((b & 0x80) !== 0) status = STATIC[b & 0x7f];
          else status = Number(buf.subarray(off + 11, off + 11 + (buf[off + 10] ?? 0)).toString('latin1'));
          clearTimeout(timer);
          c.destroy();
          resolve({ closed: false, status });
          return;
        }
        off += 9 + len;
      }
    });
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, status });
    });
    c.write(Buffer.concat([H2_PREFACE, settingsFrame(), frames]));
  });
}

describe('HTTP/2 floods: bounded work per connection', () => {
  it('rapid reset: streams cancelled before the answer get the connection closed, counted', async () => {
    up.handler = (_q, res) => {
      setTimeout(() => res.end('slow'), 200);
    };
    const before = count('rapid_reset');
    const s = await h2session();
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.on('error', () => {});
    for (let i = 0; i < 60 && !s.destroyed; i++) {
      const st = s.request({ ':path': `/slow/${i}`, ':authority': 'web' });
      st.on('error', () => {});
      st.close(h2.NGHTTP2_CANCEL);
      await new Promise((r) => setImmediate(r));
    }
    await closed;
    expect(count('rapid_reset')).toBe(before + 1);
    up.handler = (await import('../testing/index.ts')).echoHandler('web');
    await stillServing();
  });

  it.each([
    ['SETTINGS', () => settingsFrame([[0x3, 100]])],
    ['PING', () => encodeFrame(FRAME.PING, 0, 0, Buffer.alloc(8, 1))],
  ])('%s flood: the connection is closed, counted', async (_name, frame) => {
    const before = count('control_frame_flood');
    const frames = Array.from({ length: 200 }, frame);
    const out = await rawH2(Buffer.concat(frames));
    expect(out.closed).toBe(true);
    expect(count('control_frame_flood')).toBe(before + 1);
    await stillServing();
  });

  it('garbage after the preface closes the connection without a crash', async () => {
    const out = await new Promise<string>((resolve) => {
      const c = connect(proxy.port, '127.0.0.1');
      let got = '';
      c.on('data', (d: Buffer) => {
        got += d.toString('latin1');
      });
      c.on('error', () => {});
      c.on('close', () => resolve(got));
      c.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(64, 0xff)]));
      setTimeout(() => c.destroy(), 1000);
    });
    expect(typeof out).toBe('string');
    await stillServing();
  });
});
