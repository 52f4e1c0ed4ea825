import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertStore } from './certs.ts';
import { createHboneClient } from './client/client.ts';
import { createHboneServer } from './server/server.ts';
import type { HbonePeer, StreamClosedEvent } from './server/types.ts';
import { startHarness } from './test-support/harness.ts';
import { CLIENT_ID, createTestPki, SERVER_ID, type TestPki } from './test-support/mesh.ts';
import { type EchoServer, readAll, startEchoServer, waitFor } from './testing/index.ts';

let pki: TestPki;
let echo: EchoServer;

beforeAll(async () => {
  pki = await createTestPki();
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo.close();
});

function endWithAndRead(stream: Duplex, data: Buffer | string): Promise<Buffer> {
  const all = readAll(stream);
  stream.end(data);
  return all;
}

describe('HBONE tunnel', () => {
  it('echoes through the tunnel and reports the peer, dest, headers and byte counts', async () => {
    const seen: { peer: HbonePeer; dest: unknown; headers: Record<string, unknown>; id: number }[] = [];
    const closed: StreamClosedEvent[] = [];
    const h = await startHarness(pki, {
      authorize: (peer, dest, headers, stream) => {
        seen.push({ peer, dest, headers: { ...headers }, id: stream.id });
        return { allow: true };
      },
      hooks: { onStreamClosed: (e) => closed.push(e) },
    });
    try {
      const client = h.client();
      const tunnel = await client.connect({
        via: h.via,
        dest: echo.address,
        expectedIdentity: SERVER_ID,
        forwardedFor: '10.1.2.3',
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', baggage: 'k=v' },
      });
      const got = await endWithAndRead(tunnel, 'hello hbone');
      expect(got.toString()).toBe('hello hbone');
      await waitFor(() => closed.length === 1, 5000, 'stream closed event');
      expect(seen[0]?.peer).toMatchObject({ identity: CLIENT_ID, ip: '127.0.0.1', forwardedFor: '10.1.2.3' });
      expect(seen[0]?.dest).toEqual(echo.address);
      expect(seen[0]?.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      expect(seen[0]?.headers.baggage).toBe('k=v');
      expect(closed[0]).toMatchObject({ outcome: 'closed', status: 200, bytesIn: 11, bytesOut: 11 });
      expect(closed[0]?.id).toBe(seen[0]?.id);
      expect(h.server.stats().streams.outcomes.closed).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('works over IPv6 (via [::1], IPv6 Forwarded)', async () => {
    const seen: HbonePeer[] = [];
    const h = await startHarness(pki); // for its client and cert store
    const server6 = createHboneServer({
      certs: h.serverCerts,
      authorize: (peer) => {
        seen.push(peer);
        return { allow: true };
      },
    });
    try {
      const via6 = await server6.listen({ host: '::1', port: 0 });
      expect(via6.ip).toBe('::1');
      const t = await h.client().connect({
        via: via6,
        dest: echo.address,
        expectedIdentity: SERVER_ID,
        forwardedFor: '2001:DB8::7',
      });
      expect((await endWithAndRead(t, 'six')).toString()).toBe('six');
      expect(seen[0]).toMatchObject({ ip: '::1', forwardedFor: '2001:db8::7' });
    } finally {
      await server6.close({ graceMs: 100 });
      await h.close();
    }
  });

  it('keeps half-close semantics both ways', async () => {
    // Upstream that reads until FIN, then answers and closes: only works if FIN travels through.
    const { createServer } = await import('node:net');
    const up = createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const port = (up.address() as { port: number }).port;
    const h = await startHarness(pki);
    try {
      const tunnel = await h
        .client()
        .connect({ via: h.via, dest: { ip: '127.0.0.1', port }, expectedIdentity: SERVER_ID });
      tunnel.write('abc');
      const got = await endWithAndRead(tunnel, 'defg');
      expect(got.toString()).toBe('got 7 bytes');
    } finally {
      await h.close();
      up.close();
    }
  });

  it('server-side FIN first: client still sends after the upstream half-closed', async () => {
    const { createServer } = await import('node:net');
    const received: Buffer[] = [];
    let upEnded = false;
    const up = createServer({ allowHalfOpen: true }, (s) => {
      s.end('bye first');
      s.on('data', (c) => received.push(c));
      s.on('end', () => {
        upEnded = true;
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const port = (up.address() as { port: number }).port;
    const h = await startHarness(pki);
    try {
      const tunnel = await h
        .client()
        .connect({ via: h.via, dest: { ip: '127.0.0.1', port }, expectedIdentity: SERVER_ID });
      const all = readAll(tunnel);
      expect((await all).toString()).toBe('bye first');
      tunnel.end('late data');
      await waitFor(() => upEnded, 5000, 'upstream FIN');
      expect(Buffer.concat(received).toString()).toBe('late data');
    } finally {
      await h.close();
      up.close();
    }
  });

  it('moves a large transfer intact and applies backpressure end to end', async () => {
    const { createServer } = await import('node:net');
    let upSocket: Socket | undefined;
    const up = createServer({ allowHalfOpen: true }, (s) => {
      upSocket = s;
      s.pause(); // a stalled reader: nothing is consumed until the test resumes it
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const port = (up.address() as { port: number }).port;
    const h = await startHarness(pki);
    try {
      const tunnel = await h
        .client()
        .connect({ via: h.via, dest: { ip: '127.0.0.1', port }, expectedIdentity: SERVER_ID });
      const total = 48 * 1024 * 1024;
      const sentHash = createHash('sha256');
      let sent = 0;
      let blocked = false;
      const writer = (async () => {
        const payload = Buffer.alloc(256 * 1024);
        while (sent < total) {
          for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((sent + i) >>> 0, i);
          sentHash.update(payload);
          sent += payload.length;
          if (!tunnel.write(Buffer.from(payload))) {
            blocked = true;
            await new Promise((r) => tunnel.once('drain', r));
            blocked = false;
          }
        }
        tunnel.end();
      })();
      await waitFor(() => upSocket !== undefined, 5000, 'upstream');
      // Wait until the writer is stuck on 'drain' and makes no progress.
      let last = -1;
      let still = 0;
      await waitFor(
        () => {
          still = blocked && sent === last ? still + 1 : 0;
          last = sent;
          return still >= 20;
        },
        20_000,
        'the writer to block',
      );
      // Without backpressure it would have written all 48 MiB; windows and socket buffers hold far less.
      expect(sent).toBeLessThan(32 * 1024 * 1024);
      const hashUp = createHash('sha256');
      let receivedUp = 0;
      const s = upSocket as Socket;
      const upDone = new Promise<void>((resolve) => {
        s.on('data', (c: Buffer) => {
          hashUp.update(c);
          receivedUp += c.length;
        });
        s.on('end', () => resolve());
      });
      const backAll = readAll(tunnel);
      s.resume();
      await writer;
      await upDone;
      expect(receivedUp).toBe(total);
      expect(hashUp.digest('hex')).toBe(sentHash.digest('hex'));
      // And 8 MiB the other way.
      const back = Buffer.alloc(8 * 1024 * 1024, 3);
      s.end(back);
      const got = await backAll;
      expect(got.length).toBe(back.length);
      expect(got.equals(back)).toBe(true);
    } finally {
      await h.close();
      up.close();
    }
  });

  it('runs many concurrent streams over one pooled connection', async () => {
    const h = await startHarness(pki);
    try {
      const client = h.client();
      const n = 50;
      const results = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
          return (await endWithAndRead(t, `msg-${i}`)).toString();
        }),
      );
      expect(results).toEqual(Array.from({ length: n }, (_, i) => `msg-${i}`));
      expect(client.stats().connections.opened).toBe(1);
      expect(h.server.stats().connections.accepted).toBe(1);
      expect(h.server.stats().streams.outcomes.closed).toBe(n);
    } finally {
      await h.close();
    }
  });

  it('opens another connection when the server limits concurrent streams', async () => {
    const h = await startHarness(pki, { limits: { maxConcurrentStreams: 3 } });
    try {
      const client = h.client();
      // First stream learns the server's SETTINGS.
      const first = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
      const more = await Promise.all(
        Array.from({ length: 5 }, () =>
          client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }),
        ),
      );
      expect(client.stats().connections.opened).toBe(2);
      expect(client.stats().pool.map((p) => p.limit)).toEqual([3, 3]);
      const all = await Promise.all([first, ...more].map((t, i) => endWithAndRead(t, `x${i}`)));
      expect(all.map(String)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
    } finally {
      await h.close();
    }
  });

  it('keeps separate pool entries per source identity and per expected identity set', async () => {
    const otherClient = await pki.issue('spiffe://cluster.local/ns/frontend/sa/other');
    const h = await startHarness(pki);
    try {
      const certs = createCertStore(pki.client);
      certs.set(otherClient, 'other');
      const client = createHboneClient({ certs });
      const open = async (req: { sourceIdentity?: string; expectedIdentity: string | string[] }) => {
        const t = await client.connect({ via: h.via, dest: echo.address, ...req });
        await endWithAndRead(t, 'x');
      };
      await open({ expectedIdentity: SERVER_ID });
      await open({ expectedIdentity: SERVER_ID });
      await open({ sourceIdentity: 'other', expectedIdentity: SERVER_ID });
      await open({ expectedIdentity: [SERVER_ID, 'spiffe://cluster.local/ns/x/sa/y'] });
      expect(client.stats().connections.opened).toBe(3);
      await client.close({ graceMs: 100 });
    } finally {
      await h.close();
    }
  });

  it('uses rotated certificates for new connections without a restart', async () => {
    const peers: string[] = [];
    const h = await startHarness(pki, {
      authorize: (peer) => {
        peers.push(peer.identity);
        return { allow: true };
      },
    });
    try {
      const clientCerts = createCertStore(pki.client);
      const client = createHboneClient({ certs: clientCerts });
      const t1 = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
      await endWithAndRead(t1, 'one');
      // Rotate both sides: the server presents a cert of a new identity, the client a new cert.
      const rotatedServerId = 'spiffe://cluster.local/ns/backend/sa/server-v2';
      h.serverCerts.set(await pki.issue(rotatedServerId));
      const rotatedClientId = 'spiffe://cluster.local/ns/frontend/sa/client-v2';
      clientCerts.set(await pki.issue(rotatedClientId));
      // The old pooled connection is drained; the next connect handshakes with the new material.
      const t2 = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: rotatedServerId });
      await endWithAndRead(t2, 'two');
      expect(peers).toEqual([CLIENT_ID, rotatedClientId]);
      expect(client.stats().connections.opened).toBe(2);
      await client.close({ graceMs: 100 });
    } finally {
      await h.close();
    }
  });
});
