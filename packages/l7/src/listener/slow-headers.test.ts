// Request heads sent one byte at a time must not hold a connection past headersTimeoutMs (here
// 300 ms): counted from the first byte of a head, however slowly bytes keep coming. The drip
// would take seconds; the connection must be closed while bytes are still left to send. Each
// case prints the measured close time. Idle keep-alive time and slow bodies are not head time.
import { connect, type Socket } from 'node:net';
import { H2_PREFACE, settingsFrame } from '@weft/hbone/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerBlock, headerBlockFrames, readFrames, requestFields } from '../test-support/h2-raw.ts';
import { CLIENT, SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import { type HttpUpstream, startHttpUpstream, startTestProxy, type TestProxy } from '../testing/index.ts';

const HEADERS_TIMEOUT_MS = 300;
const DRIP_MS = 50;
let up: HttpUpstream;
const proxies = {} as Record<'auto' | 'http1', TestProxy>;

beforeAll(async () => {
  up = await startHttpUpstream({ name: 'web', ip: '127.0.0.48' });
  const mesh = [...SHOP, ...serviceWith([{ name: 'web-1', ip: up.ip, port: up.port }])];
  const opts = {
    destination: { ip: WEB_VIP, port: 80 },
    principal: CLIENT,
    config: { limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS } },
  };
  // auto: sniffed, the bytes replayed through an in-memory pair (the HBONE path);
  // http1: kernel sockets straight to the HTTP/1.1 server (the sidecar's path)
  proxies.auto = await startTestProxy(mesh, opts);
  proxies.http1 = await startTestProxy(mesh, { ...opts, protocol: 'http1' });
});
afterAll(async () => {
  await proxies.auto.close();
  await proxies.http1.close();
  await up.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Conn {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let data = '';
    let closed = false;
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    socket.on('error', () => {});
    const done = new Promise<void>((r) =>
      socket.once('close', () => {
        closed = true;
        r();
      }),
    );
    socket.once('connect', () =>
      resolve({ socket, received: () => data, closed: done, isClosed: () => closed }),
    );
    socket.once('error', reject);
  });
}

/**
 * Writes `chunks` one every `everyMs` until the peer closes; returns the time from the first
 * write to the close and how many chunks were still unsent. Gives up (hang guard) after the drip.
 */
async function dripUntilClosed(
  c: Conn,
  chunks: readonly (string | Buffer)[],
  everyMs: number,
): Promise<{ closedAfterMs: number | undefined; unsent: number }> {
  const t0 = performance.now();
  let closedAt: number | undefined;
  c.closed.then(() => {
    closedAt = performance.now();
  });
  let i = 0;
  for (; i < chunks.length && !c.isClosed(); i++) {
    c.socket.write(chunks[i] as string | Buffer);
    await sleep(everyMs);
  }
  // hang guard: the drip is over; a connection that is still open fails the case below
  await Promise.race([c.closed, sleep(2_000)]);
  return { closedAfterMs: closedAt === undefined ? undefined : closedAt - t0, unsent: chunks.length - i };
}

const bytes = (s: string) => s.split('');
const HEAD_START = 'GET /slow HTTP/1.1\r\nHost: web\r\n';
const DRIP_HEAD = bytes(`${HEAD_START}x-pad: ${'a'.repeat(60)}\r\n\r\n`);

describe.each(['auto', 'http1'] as const)('HTTP/1.1 (%s listener), headersTimeoutMs 300', (kind) => {
  it('a first head dripped byte by byte: 408 and closed before the drip ends', async () => {
    const p = proxies[kind];
    const before = p.engine.telemetry.rejects.count('headers_timeout');
    const c = await open(p.port);
    const r = await dripUntilClosed(c, DRIP_HEAD, DRIP_MS);
    console.log(`[${kind}] first head: closed ${r.closedAfterMs?.toFixed(0)} ms after its first byte`);
    expect(r.closedAfterMs).toBeDefined();
    expect(r.unsent).toBeGreaterThan(0);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(p.engine.telemetry.rejects.count('headers_timeout')).toBe(before + 1);
  });

  it("a keep-alive connection's second head dripped: closed; idle time before it is not head time", async () => {
    const p = proxies[kind];
    const c = await open(p.port);
    c.socket.write('GET /first HTTP/1.1\r\nHost: web\r\n\r\n');
    for (let i = 0; i < 100 && !/\r\n\r\n[\s\S]*}$/.test(c.received()); i++) await sleep(20);
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    // idle for several timeouts: still open
    await sleep(3 * HEADERS_TIMEOUT_MS);
    expect(c.isClosed()).toBe(false);
    const r = await dripUntilClosed(c, DRIP_HEAD, DRIP_MS);
    console.log(`[${kind}] second head: closed ${r.closedAfterMs?.toFixed(0)} ms after its first byte`);
    expect(r.closedAfterMs).toBeDefined();
    expect(r.unsent).toBeGreaterThan(0);
  });

  it('a slow request body is not head time: answered 200', async () => {
    const p = proxies[kind];
    const c = await open(p.port);
    c.socket.write('POST /body HTTP/1.1\r\nHost: web\r\ncontent-length: 12\r\n\r\n');
    for (const ch of bytes('slow-payload')) {
      c.socket.write(ch);
      await sleep(DRIP_MS);
    }
    for (let i = 0; i < 100 && !c.received().includes('slow-payload'); i++) await sleep(20);
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(c.isClosed()).toBe(false);
    c.socket.destroy();
  });
});

describe('HTTP/2, headersTimeoutMs 300', () => {
  const block = headerBlock(requestFields('/slow', 'web', [['x-pad', 'a'.repeat(60)]]));

  it('the preface, then nothing: closed', async () => {
    const p = proxies.auto;
    const before = p.engine.telemetry.rejects.count('headers_timeout');
    const c = await open(p.port);
    const out = readFrames(c.socket, { timeoutMs: 5_000 });
    const t0 = performance.now();
    c.socket.write(Buffer.concat([H2_PREFACE, settingsFrame()]));
    const o = await out;
    console.log(`[h2] preface only: closed ${(performance.now() - t0).toFixed(0)} ms after the preface`);
    expect(o.closed).toBe(true);
    expect(p.engine.telemetry.rejects.count('headers_timeout')).toBe(before + 1);
  });

  it('HEADERS without END_HEADERS, then slow CONTINUATION frames: closed before the block ends', async () => {
    const p = proxies.auto;
    const before = p.engine.telemetry.rejects.count('headers_timeout');
    const c = await open(p.port);
    // one frame every 100 ms: the runtime itself refuses a block of more than a few
    // CONTINUATION frames, which must not be what closes the connection here
    const frames = [Buffer.concat([H2_PREFACE, settingsFrame()]), ...headerBlockFrames(1, block, 30)];
    const r = await dripUntilClosed(c, frames, 100);
    console.log(`[h2] slow CONTINUATION: closed ${r.closedAfterMs?.toFixed(0)} ms after the preface`);
    expect(r.closedAfterMs).toBeDefined();
    expect(r.unsent).toBeGreaterThan(0);
    expect(p.engine.telemetry.rejects.count('headers_timeout')).toBe(before + 1);
  });

  it('a prompt request on a new session is served', async () => {
    const c = await open(proxies.auto.port);
    const out = readFrames(c.socket, { timeoutMs: 5_000, until: (o) => o.answered.has(1) });
    c.socket.write(Buffer.concat([H2_PREFACE, settingsFrame(), ...headerBlockFrames(1, block, 1)]));
    expect((await out).answered.has(1)).toBe(true);
  });
});
