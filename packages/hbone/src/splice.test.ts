import { createServer, connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createDuplexPair } from './pair.ts';
import { type SpliceResult, splice } from './splice.ts';
import { readAll } from './testing/index.ts';

function done(): { promise: Promise<SpliceResult>; cb: (r: SpliceResult) => void } {
  let cb!: (r: SpliceResult) => void;
  const promise = new Promise<SpliceResult>((r) => {
    cb = r;
  });
  return { promise, cb };
}

describe('createDuplexPair', () => {
  it('carries data and half-closes both ways', async () => {
    const [a, b] = createDuplexPair();
    const fromA = readAll(b);
    a.end('ping');
    expect((await fromA).toString()).toBe('ping');
    const fromB = readAll(a);
    b.end('pong');
    expect((await fromB).toString()).toBe('pong');
  });

  it('an abortive close resets the other end', async () => {
    const [a, b] = createDuplexPair();
    const err = new Promise<Error>((r) => b.once('error', r));
    a.destroy();
    expect(((await err) as Error & { code?: string }).code).toBe('ECONNRESET');
  });
});

describe('splice', () => {
  it('joins two pairs: data, half-close and byte counts', async () => {
    const [client, a] = createDuplexPair();
    const [b, upstream] = createDuplexPair();
    upstream.pipe(upstream); // echo
    const d = done();
    splice(a, b, d.cb);
    const echoed = readAll(client);
    client.end('0123456789');
    expect((await echoed).toString()).toBe('0123456789');
    expect(await d.promise).toMatchObject({ outcome: 'closed', bytesAToB: 10, bytesBToA: 10 });
  });

  it('pauses the source while the other side pushes back, and delivers every byte', async () => {
    const [client, a] = createDuplexPair();
    const [b, upstream] = createDuplexPair();
    const d = done();
    splice(a, b, d.cb);
    // Far above every high-water mark, and nobody reads `upstream` yet.
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i % 251;
    client.end(payload);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(a.isPaused()).toBe(true);
    const received = readAll(upstream);
    expect((await received).equals(payload)).toBe(true);
    const replied = readAll(client);
    upstream.end('done');
    expect((await replied).toString()).toBe('done');
    expect(await d.promise).toMatchObject({
      outcome: 'closed',
      bytesAToB: payload.length,
      bytesBToA: 4,
    });
  });

  it('a reset on one side resets the other', async () => {
    const [client, a] = createDuplexPair();
    const [b, upstream] = createDuplexPair();
    client.on('error', () => {});
    const d = done();
    splice(a, b, d.cb);
    const clientClosed = new Promise((r) => client.once('close', r));
    upstream.destroy();
    expect((await d.promise).outcome).toBe('reset_b');
    await clientClosed;
    expect(client.readableEnded).toBe(false);
  });

  it.each(['upstream', 'client'] as const)(
    'turns a TCP RST from the %s into a TCP RST on the other side',
    async (who) => {
      // client <-> [s1 | splice | s2] <-> upstream, all real TCP.
      const upSockets: Socket[] = [];
      const up = createServer({ allowHalfOpen: true }, (s) => upSockets.push(s));
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      const mid = createServer({ allowHalfOpen: true }, (s1) => {
        const s2 = netConnect({
          port: (up.address() as { port: number }).port,
          host: '127.0.0.1',
          allowHalfOpen: true,
        });
        s2.once('connect', () => splice(s1, s2));
      });
      await new Promise<void>((r) => mid.listen(0, '127.0.0.1', r));
      const client = netConnect({ port: (mid.address() as { port: number }).port, host: '127.0.0.1' });
      const outcome = (s: Socket) =>
        new Promise<string>((resolve) => {
          s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
          s.on('close', () => resolve('closed without error'));
          s.resume();
        });
      const clientOutcome = outcome(client);
      const start = Date.now();
      while (upSockets.length === 0 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 5));
      const upstream = upSockets[0] as Socket;
      const upstreamOutcome = outcome(upstream);
      if (who === 'upstream') {
        upstream.resetAndDestroy();
        expect(await clientOutcome).toBe('ECONNRESET');
      } else {
        client.resetAndDestroy();
        expect(await upstreamOutcome).toBe('ECONNRESET');
      }
      up.close();
      mid.close();
    },
  );
});
