import { connect, createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createTestCa } from '@weft/ca/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CertMaterial, createCertStore } from '../certs.ts';
import { HboneError, type HboneErrorKind, kindForStatus } from '../errors.ts';
import { createDuplexPair } from '../pair.ts';
import { resetStream } from '../splice.ts';
import { type Harness, startHarness } from '../test-support/harness.ts';
import { CLIENT_ID, createTestPki, materialOf, SERVER_ID, type TestPki } from '../test-support/mesh.ts';
import { denyAll, type EchoServer, readAll, startEchoServer, waitFor } from '../testing/index.ts';
import { createHboneClient } from './client.ts';
import { hbonePoolKey, planConnect } from './request.ts';
import { tcpSocketConnector } from './socket.ts';
import type { HboneConnectRequest, HboneSocketConnector } from './types.ts';

const NOWHERE_VIA = { ip: '127.0.0.254', port: 1 };
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

async function errorOf(p: Promise<unknown>): Promise<HboneError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HboneError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('planConnect', () => {
  const base: HboneConnectRequest = {
    via: { ip: '10.0.0.2', port: 15008 },
    dest: { ip: '10.0.0.9', port: 8080 },
    expectedIdentity: SERVER_ID,
  };

  it('builds the CONNECT headers and the pool key', () => {
    const r = planConnect({
      ...base,
      dest: { ip: '2001:DB8::9', port: 80 },
      forwardedFor: '2001:db8::1',
      headers: { traceparent: 'tp', baggage: 'b=1' },
      sourceIdentity: CLIENT_ID,
    });
    if (!r.ok) throw new Error(r.message);
    expect(r.value.headers).toEqual({
      ':method': 'CONNECT',
      ':authority': '[2001:db8::9]:80',
      forwarded: 'for="[2001:db8::1]"',
      traceparent: 'tp',
      baggage: 'b=1',
    });
    expect(r.value.poolKey).toBe(`${CLIENT_ID} ${SERVER_ID} 10.0.0.2:15008`);
  });

  it('keys the pool by source identity, the set of expected identities and the endpoint, not dest', () => {
    const a = 'spiffe://td/a';
    const b = 'spiffe://td/b';
    const via = { ip: '10.0.0.2', port: 15008 };
    expect(hbonePoolKey(undefined, [a, b], via)).toBe(hbonePoolKey(undefined, [b, a], via));
    expect(hbonePoolKey('spiffe://td/me', [a], via)).not.toBe(hbonePoolKey(undefined, [a], via));
    expect(hbonePoolKey(undefined, [a], via)).not.toBe(hbonePoolKey(undefined, [a], { ...via, port: 15009 }));
    const p1 = planConnect({ ...base, dest: { ip: '10.0.0.9', port: 1 } });
    const p2 = planConnect({ ...base, dest: { ip: '10.0.0.10', port: 2 } });
    expect(p1.ok && p2.ok && p1.value.poolKey === p2.value.poolKey).toBe(true);
  });

  it.each([
    ['via', { via: { ip: 'node-1', port: 15008 } }],
    ['via', { via: { ip: '10.0.0.2', port: 0 } }],
    ['dest', { dest: { ip: '10.0.0.9', port: 70000 } }],
    ['dest', { dest: { ip: 'fe80::1%eth0', port: 80 } }],
    ['expectedIdentity', { expectedIdentity: [] }],
    ['expectedIdentity', { expectedIdentity: 'web.default' }],
    ['forwardedFor', { forwardedFor: 'client.example' }],
    ['headers.connection', { headers: { connection: 'close' } }],
    ['headers.forwarded', { headers: { forwarded: 'for=1.1.1.1' } }],
    ['headers.Traceparent', { headers: { Traceparent: 'x' } }],
    ['headers.:path', { headers: { ':path': '/' } }],
    ['headers.x', { headers: { x: 'a\r\nb: c' } }],
  ] as const)('rejects a bad %s', (field, patch) => {
    const r = planConnect({ ...base, ...patch } as HboneConnectRequest);
    expect(r.ok ? 'ok' : r.field).toBe(field);
  });
});

describe('typed errors', () => {
  it.each([
    [400, 'bad_request'],
    [401, 'denied'],
    [503, 'upstream_unavailable'],
    [500, 'unexpected_status'],
  ] as const)('status %d -> %s', (status, kind) => {
    expect(kindForStatus(status)).toBe(kind);
  });

  it('401 when the server policy denies', async () => {
    h = await startHarness(pki, { authorize: denyAll });
    const client = h.client();
    const err = await errorOf(
      client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err).toMatchObject({ kind: 'denied', status: 401, peerIdentity: SERVER_ID });
    expect(client.stats().errors.denied).toBe(1);
    expect(h.server.stats().streams.outcomes.denied).toBe(1);
  });

  it.each([
    ['no status (default)', undefined, 401, 'denied', 'denied'],
    ['401', 401, 401, 'denied', 'denied'],
    ['400: a destination this server does not serve', 400, 400, 'bad_request', 'bad_request'],
    ['503: destination unavailable', 503, 503, 'upstream_unavailable', 'upstream_unavailable'],
    ['anything else fails closed as 401', 200, 401, 'denied', 'denied'],
  ] as const)('authorize refusal with %s', async (_name, status, replied, kind, outcome) => {
    const closed: { status: number | undefined; outcome: string; reason: string | undefined }[] = [];
    const acceptedBefore = echo.accepted;
    h = await startHarness(pki, {
      // A JS caller may hand back any number; the server answers only 400, 401 or 503.
      authorize: () =>
        ({ allow: false, reason: 'not here', ...(status !== undefined ? { status } : {}) }) as never,
      hooks: { onStreamClosed: (e) => closed.push(e) },
    });
    const err = await errorOf(
      h.client().connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err).toMatchObject({ kind, status: replied });
    // Only a 400 explains itself to the client; a policy reason stays on the server.
    expect(err.message.includes('not here')).toBe(replied === 400);
    await waitFor(() => closed.length === 1, 5000, 'closed event');
    expect(closed[0]).toMatchObject({ status: replied, outcome, reason: 'not here' });
    expect(h.server.stats().streams.outcomes[outcome]).toBe(1);
    expect(echo.accepted).toBe(acceptedBefore);
  });

  it('503 when the upstream is unreachable', async () => {
    h = await startHarness(pki);
    const port = await closedPort();
    const err = await errorOf(
      h.client().connect({ via: h.via, dest: { ip: '127.0.0.1', port }, expectedIdentity: SERVER_ID }),
    );
    expect(err).toMatchObject({ kind: 'upstream_unavailable', status: 503 });
  });

  it('an authorizer that throws fails closed with 401', async () => {
    h = await startHarness(pki, {
      authorize: () => {
        throw new Error('policy store broken');
      },
    });
    const err = await errorOf(
      h.client().connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err.kind).toBe('denied');
  });

  it('timeout when the server does not answer the CONNECT in time', async () => {
    h = await startHarness(pki, { authorize: () => new Promise(() => {}) });
    const err = await errorOf(
      h.client().connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID, timeoutMs: 200 }),
    );
    expect(err.kind).toBe('timeout');
  });

  it('timeout when the endpoint accepts TCP but never speaks TLS', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const client = createHboneClient({ certs: createCertStore(pki.client), pool: { connectTimeoutMs: 200 } });
    const err = await errorOf(
      client.connect({ via: { ip: '127.0.0.1', port }, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err.kind).toBe('timeout');
    await client.close({ graceMs: 10 });
    silent.close();
  });

  it('connect when nothing listens', async () => {
    const client = createHboneClient({ certs: createCertStore(pki.client) });
    const port = await closedPort();
    const err = await errorOf(
      client.connect({ via: { ip: '127.0.0.1', port }, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err).toMatchObject({ kind: 'connect', code: 'ECONNREFUSED' });
    await client.close();
  });

  const serverCases: [string, () => Promise<CertMaterial>, HboneErrorKind, string][] = [
    [
      'an expired server certificate',
      () => pki.issue(SERVER_ID, { notBefore: new Date(Date.now() - 3 * 3600_000), ttlSeconds: 3600 }),
      'tls',
      'CERT_HAS_EXPIRED',
    ],
    [
      'a server certificate from another CA',
      async () => materialOf(await (await createTestCa()).issue(SERVER_ID), pki.ca.trustBundlePem),
      'tls',
      '',
    ],
    [
      'a server with another identity',
      () => pki.issue('spiffe://cluster.local/ns/evil/sa/mitm'),
      'identity_mismatch',
      '',
    ],
  ];
  it.each(serverCases)('%s', async (_name, material, kind, code) => {
    h = await startHarness(pki);
    h.serverCerts.set(await material());
    const err = await errorOf(
      h.client().connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err.kind).toBe(kind);
    if (code !== '') expect(err.code).toBe(code);
  });

  it('no_certificate when the source identity has none', async () => {
    const client = createHboneClient({ certs: createCertStore() });
    const err = await errorOf(
      client.connect({ via: { ip: '127.0.0.1', port: 1 }, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err.kind).toBe('no_certificate');
    await client.close();
  });

  it('invalid_argument, aborted and client_closed', async () => {
    const client = createHboneClient({ certs: createCertStore(pki.client) });
    const bad = await errorOf(
      client.connect({ via: { ip: 'x', port: 1 }, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(bad.kind).toBe('invalid_argument');
    expect(bad.message).toContain('via');
    const ac = new AbortController();
    ac.abort();
    const aborted = await errorOf(
      client.connect({
        via: { ip: '127.0.0.1', port: 1 },
        dest: echo.address,
        expectedIdentity: SERVER_ID,
        signal: ac.signal,
      }),
    );
    expect(aborted.kind).toBe('aborted');
    await client.close();
    const closed = await errorOf(
      client.connect({ via: { ip: '127.0.0.1', port: 1 }, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(closed.kind).toBe('client_closed');
    expect(client.stats().errors).toMatchObject({ invalid_argument: 1, aborted: 1, client_closed: 1 });
  });
});

describe('pool lifecycle', () => {
  it('drops idle connections after idleTimeoutMs', async () => {
    h = await startHarness(pki);
    const client = h.client({ pool: { idleTimeoutMs: 50 } });
    const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    const all = readAll(t);
    t.end('x');
    await all;
    await waitFor(() => client.stats().connections.active === 0, 5000, 'idle connection to close');
    const t2 = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    t2.end();
    expect(client.stats().connections.opened).toBe(2);
  });

  it('drops a connection on GOAWAY and opens a new one for the next stream', async () => {
    h = await startHarness(pki, { limits: { connectionIdleTimeoutMs: 50 } });
    const client = h.client();
    const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    const all = readAll(t);
    t.end('x');
    await all;
    // The server closes the idle connection with GOAWAY; the pool forgets it.
    await waitFor(() => client.stats().pool.length === 0, 5000, 'pool entry to go');
    const t2 = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    const all2 = readAll(t2);
    t2.end('y');
    expect((await all2).toString()).toBe('y');
    expect(client.stats().connections.opened).toBe(2);
  });

  it('reports connections opened and closed through hooks', async () => {
    h = await startHarness(pki);
    const events: string[] = [];
    const client = h.client({
      hooks: {
        onConnectionOpened: (e) => events.push(`open ${e.peerIdentity}`),
        onConnectionClosed: (e) => events.push(`close ${e.peerIdentity}`),
      },
    });
    const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
    t.end();
    await readAll(t);
    await client.close();
    expect(events).toEqual([`open ${SERVER_ID}`, `close ${SERVER_ID}`]);
  });
});

describe('socket capability (sockets option)', () => {
  // An address nothing listens on: only a connector that knows better reaches the server.
  const NOWHERE = { ip: '127.0.0.254', port: 1 };

  function recording(target: () => { ip: string; port: number }) {
    const calls: { addr: { ip: string; port: number }; timeoutMs: number; signal: AbortSignal }[] = [];
    const sockets: HboneSocketConnector = {
      connect(addr, opts) {
        calls.push({ addr, timeoutMs: opts.timeoutMs, signal: opts.signal });
        return tcpSocketConnector.connect(target(), opts);
      },
    };
    return { calls, sockets };
  }

  it('opens the TCP leg of every pooled connection through the connector; TLS runs over it', async () => {
    h = await startHarness(pki);
    const harness = h;
    const r = recording(() => harness.via);
    const client = h.client({ sockets: r.sockets, pool: { connectTimeoutMs: 3000 } });
    for (const word of ['one', 'two']) {
      const t = await client.connect({ via: NOWHERE, dest: echo.address, expectedIdentity: SERVER_ID });
      const all = readAll(t);
      t.end(word);
      expect((await all).toString()).toBe(word);
    }
    // One pooled connection, one socket from the connector, asked for the `via` address.
    expect(r.calls.map((c) => [c.addr, c.timeoutMs])).toEqual([[NOWHERE, 3000]]);
    expect(client.stats().connections.opened).toBe(1);
    expect(h.server.stats().connections.accepted).toBe(1);
  });

  it('a connector failure is a typed connect error with its code', async () => {
    const client = createHboneClient({
      certs: createCertStore(pki.client),
      sockets: {
        connect: () =>
          Promise.reject(Object.assign(new Error('no route in this namespace'), { code: 'EHOSTUNREACH' })),
      },
    });
    const err = await errorOf(
      client.connect({ via: NOWHERE, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err).toMatchObject({ kind: 'connect', code: 'EHOSTUNREACH', via: '127.0.0.254:1' });
    expect(err.message).toContain('no route in this namespace');
    expect(client.stats().errors.connect).toBe(1);
    expect(client.stats().connections.active).toBe(0);
    await client.close();
  });

  it('a connector that never answers: timeout, its signal aborted, a late socket dropped', async () => {
    let late: ((s: Duplex) => void) | undefined;
    let signal: AbortSignal | undefined;
    const client = createHboneClient({
      certs: createCertStore(pki.client),
      pool: { connectTimeoutMs: 100 },
      sockets: {
        connect: (_addr, opts) => {
          signal = opts.signal;
          return new Promise<Duplex>((resolve) => {
            late = resolve;
          });
        },
      },
    });
    const err = await errorOf(
      client.connect({ via: NOWHERE, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    expect(err.kind).toBe('timeout');
    expect(signal?.aborted).toBe(true);
    const [mine, theirs] = createDuplexPair();
    theirs.on('error', () => {});
    late?.(mine);
    await waitFor(() => mine.destroyed && theirs.destroyed, 2000, 'late socket destroyed');
    expect(client.stats().connections.active).toBe(0);
    await client.close();
  });

  it('close() while the connector is still connecting ends the attempt', async () => {
    let signal: AbortSignal | undefined;
    const client = createHboneClient({
      certs: createCertStore(pki.client),
      sockets: {
        connect: (_addr, opts) => {
          signal = opts.signal;
          return new Promise<Duplex>(() => {});
        },
      },
    });
    const pending = errorOf(
      client.connect({ via: NOWHERE, dest: echo.address, expectedIdentity: SERVER_ID }),
    );
    await waitFor(() => signal !== undefined, 2000, 'connector called');
    await client.close();
    expect((await pending).kind).toBe('connection_closed');
    expect(signal?.aborted).toBe(true);
  });
});

describe('a peer that dies', () => {
  it('a connection the peer ends without GOAWAY leaves the pool, even over a half-open socket', async () => {
    // A killed process's kernel closes its sockets with FIN, not RST, and sends no GOAWAY. Over
    // a half-open TCP socket (as a proxy's socket factory gives) the session used to stay
    // "ready" forever and every new tunnel on it timed out.
    h = await startHarness(pki);
    const harness = h;
    const relayed = new Set<import('node:net').Socket>();
    const relay = createServer((down) => {
      const up = connect({ host: harness.via.ip, port: harness.via.port });
      for (const s of [down, up]) {
        relayed.add(s);
        s.on('error', () => {});
        s.on('close', () => relayed.delete(s));
      }
      down.pipe(up).pipe(down);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as { port: number }).port;
    const halfOpen: HboneSocketConnector = {
      connect: (_addr, { signal }) =>
        new Promise<Duplex>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
          socket.on('error', reject);
          signal.addEventListener('abort', () => socket.destroy(), { once: true });
          socket.once('connect', () => resolve(socket));
        }),
    };
    try {
      const client = h.client({ sockets: halfOpen, pool: { connectTimeoutMs: 2000 } });
      const roundTrip = async (word: string) => {
        const t = await client.connect({
          via: h?.via ?? NOWHERE_VIA,
          dest: echo.address,
          expectedIdentity: SERVER_ID,
        });
        const all = readAll(t);
        t.end(word);
        return (await all).toString();
      };
      expect(await roundTrip('before')).toBe('before');
      expect(client.stats().pool).toHaveLength(1);
      // The "peer" goes away: FIN on the client's TCP leg, no GOAWAY.
      for (const s of relayed) s.end();
      await waitFor(() => client.stats().pool.length === 0, 5000, 'the dead connection to leave the pool');
      expect(await roundTrip('after')).toBe('after');
      expect(client.stats().connections.opened).toBe(2);
    } finally {
      for (const s of relayed) s.destroy();
      await new Promise((r) => relay.close(r));
    }
  });
});

describe('resets and connection rotation', () => {
  it('rotates to a new connection after maxResetsPerConnection resets', async () => {
    h = await startHarness(pki);
    const client = h.client({ pool: { maxResetsPerConnection: 3 } });
    for (let i = 0; i < 4; i++) {
      const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
      const closed = new Promise((r) => t.once('close', r));
      resetStream(t);
      await closed;
    }
    expect(client.stats().connections.opened).toBe(2);
  });

  it('survives more resets than the server allows on one connection', async () => {
    // Node's HTTP/2 server sends GOAWAY(INTERNAL_ERROR) after ~1000 RST_STREAMs on one connection;
    // the pool rotates before that, so no tunnel fails.
    h = await startHarness(pki);
    const client = h.client();
    for (let i = 0; i < 1100; i++) {
      const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
      const closed = new Promise((r) => t.once('close', r));
      resetStream(t);
      await closed;
    }
    expect(client.stats().connections.opened).toBe(3);
    expect(Object.values(client.stats().errors).every((n) => n === 0)).toBe(true);
  });

  it('a refused CONNECT (401) ends the stream without RST_STREAM', async () => {
    h = await startHarness(pki, { authorize: denyAll });
    const client = h.client({ pool: { maxResetsPerConnection: 2 } });
    for (let i = 0; i < 5; i++) {
      await errorOf(client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID }));
    }
    await waitFor(() => client.stats().streams.active === 0, 5000, 'streams to close');
    expect(client.stats().connections.opened).toBe(1);
  });
});
