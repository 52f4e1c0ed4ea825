// Tunnel semantics end to end: resets both ways, idle timeout, shutdown, injected connections,
// telemetry hooks.
import { constants as h2 } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDuplexPair } from '../pair.ts';
import { resetStream } from '../splice.ts';
import { type Harness, startHarness } from '../test-support/harness.ts';
import { createTestPki, SERVER_ID, type TestPki } from '../test-support/mesh.ts';
import { type EchoServer, readAll, startEchoServer, waitFor } from '../testing/index.ts';
import type { StreamClosedEvent, StreamOpenedEvent } from './types.ts';

let pki: TestPki;
let echo: EchoServer;
let h: Harness | undefined;

beforeAll(async () => {
  pki = await createTestPki();
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo.close();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Resolves with how a stream ended: 'end' (clean), or its HTTP/2 reset code. */
function endingOf(stream: Duplex): Promise<string> {
  return new Promise((resolve) => {
    stream.on('error', () => {});
    stream.resume();
    stream.once('close', () => {
      const rst = (stream as Duplex & { rstCode?: number }).rstCode;
      resolve(stream.readableEnded && (rst === undefined || rst === 0) ? 'end' : `rst ${rst}`);
    });
  });
}

async function upstreamServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

describe('tunnel resets', () => {
  it('upstream RST -> RST_STREAM(CONNECT_ERROR) to the client', async () => {
    const closed: StreamClosedEvent[] = [];
    h = await startHarness(pki, { hooks: { onStreamClosed: (e) => closed.push(e) } });
    const up = await upstreamServer();
    const t = await h
      .client()
      .connect({ via: h.via, dest: { ip: '127.0.0.1', port: up.port }, expectedIdentity: SERVER_ID });
    const ending = endingOf(t);
    await waitFor(() => up.sockets.length === 1, 5000, 'upstream socket');
    up.sockets[0]?.resetAndDestroy();
    expect(await ending).toBe(`rst ${h2.NGHTTP2_CONNECT_ERROR}`);
    await waitFor(() => closed.length === 1, 5000, 'closed event');
    expect(closed[0]?.outcome).toBe('reset_by_upstream');
    up.server.close();
  });

  it('client RST_STREAM -> TCP RST to the upstream', async () => {
    const closed: StreamClosedEvent[] = [];
    h = await startHarness(pki, { hooks: { onStreamClosed: (e) => closed.push(e) } });
    const up = await upstreamServer();
    const t = await h
      .client()
      .connect({ via: h.via, dest: { ip: '127.0.0.1', port: up.port }, expectedIdentity: SERVER_ID });
    await waitFor(() => up.sockets.length === 1, 5000, 'upstream socket');
    const s = up.sockets[0] as Socket;
    const upErr = new Promise<string | undefined>((resolve) => {
      s.on('error', (e: Error & { code?: string }) => resolve(e.code));
      s.on('close', () => resolve(undefined));
      s.resume();
    });
    t.on('error', () => {});
    resetStream(t);
    expect(await upErr).toBe('ECONNRESET');
    await waitFor(() => closed.length === 1, 5000, 'closed event');
    expect(closed[0]?.outcome).toBe('reset_by_peer');
    up.server.close();
  });
});

describe('limits and lifecycle', () => {
  it('resets a tunnel idle for streamIdleTimeoutMs', async () => {
    const closed: StreamClosedEvent[] = [];
    h = await startHarness(pki, {
      limits: { streamIdleTimeoutMs: 100 },
      hooks: { onStreamClosed: (e) => closed.push(e) },
    });
    const t = await h.client().connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    const ending = endingOf(t);
    expect(await ending).toMatch(/^rst /);
    await waitFor(() => closed.length === 1, 5000, 'closed event');
    expect(closed[0]?.outcome).toBe('idle_timeout');
  });

  it('close(): GOAWAY, grace for open tunnels, then reset; resolves when all is closed', async () => {
    const closed: StreamClosedEvent[] = [];
    const harness = await startHarness(pki, { hooks: { onStreamClosed: (e) => closed.push(e) } });
    const t = await harness
      .client()
      .connect({ via: harness.via, dest: echo.address, expectedIdentity: SERVER_ID });
    const ending = endingOf(t);
    // The tunnel still works during the grace period.
    t.write('during grace');
    await harness.server.close({ graceMs: 200 });
    expect(await ending).toMatch(/^rst /);
    expect(closed[0]?.outcome).toBe('shutdown');
    expect(closed[0]?.bytesIn).toBe('during grace'.length);
    await harness.close();
  });

  it('serves connections accepted by another listener (handleConnection)', async () => {
    h = await startHarness(pki);
    const server = h.server;
    const outer = createServer((socket) => server.handleConnection(socket));
    await new Promise<void>((r) => outer.listen(0, '127.0.0.1', r));
    const port = (outer.address() as { port: number }).port;
    const t = await h
      .client()
      .connect({ via: { ip: '127.0.0.1', port }, dest: echo.address, expectedIdentity: SERVER_ID });
    const all = readAll(t);
    t.end('via handleConnection');
    expect((await all).toString()).toBe('via handleConnection');
    outer.close();
  });

  it('tunnels into an in-memory upstream (what a waypoint does with its HTTP engine)', async () => {
    const opened: StreamOpenedEvent[] = [];
    h = await startHarness(pki, {
      hooks: { onStreamOpened: (e) => opened.push(e) },
      connectUpstream: async () => {
        const [mine, theirs] = createDuplexPair();
        mine.on('data', (c: Buffer) => mine.write(c.toString().toUpperCase()));
        mine.on('end', () => mine.end());
        return theirs;
      },
    });
    const t = await h
      .client()
      .connect({ via: h.via, dest: { ip: '10.9.9.9', port: 80 }, expectedIdentity: SERVER_ID });
    const all = readAll(t);
    t.end('shout');
    expect((await all).toString()).toBe('SHOUT');
    expect(opened[0]?.dest).toEqual({ ip: '10.9.9.9', port: 80 });
  });

  it('refuses connections beyond maxConnections', async () => {
    h = await startHarness(pki, { limits: { maxConnections: 1 } });
    const first = h.client();
    const t = await first.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    const second = h.client();
    await expect(
      second.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }),
    ).rejects.toThrow();
    expect(h.server.stats().connections.rejected.connection_limit).toBe(1);
    t.end();
    await readAll(t);
  });
});
