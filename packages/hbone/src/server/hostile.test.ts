// Bad input against a real server on 127.0.0.1: every case is refused, counted by reason, never
// crashes, and the server keeps serving a good client afterwards.
import { constants as h2, connect as h2connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { generateRootCa } from '@weft/ca';
import { createTestCa } from '@weft/ca/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CertMaterial } from '../certs.ts';
import { isHboneError } from '../errors.ts';
import { type Harness, startHarness } from '../test-support/harness.ts';
import { createTestPki, materialOf, SERVER_ID, type TestPki } from '../test-support/mesh.ts';
import { headersFrame, rawH2, rstFrame } from '../test-support/raw.ts';
import { encodeFrame, FRAME, H2_PREFACE, settingsFrame } from '../testing/frames.ts';
import { type EchoServer, readAll, startEchoServer, waitFor } from '../testing/index.ts';
import type { ConnectionRejectReason } from './types.ts';
import { createTcpConnector } from './upstream.ts';

let pki: TestPki;
let echo: EchoServer;
let h: Harness;

beforeAll(async () => {
  pki = await createTestPki();
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo.close();
});
afterEach(async () => {
  await h?.close();
});

async function expectServesGoodClient(): Promise<void> {
  const client = h.client();
  const t = await client.connect({ via: h.via, dest: echo.address, expectedIdentity: SERVER_ID });
  const all = readAll(t);
  t.end('still alive');
  expect((await all).toString()).toBe('still alive');
}

function rejectedCount(reason: ConnectionRejectReason): number {
  return h.server.stats().connections.rejected[reason];
}

async function connectError(material: CertMaterial, expectedIdentity = SERVER_ID) {
  const client = h.client({ material });
  try {
    await client.connect({ via: h.via, dest: echo.address, expectedIdentity });
  } catch (e) {
    if (isHboneError(e)) return e;
    throw e;
  }
  throw new Error('connect unexpectedly succeeded');
}

/** A plain HTTP/2 client with a good certificate, to send requests our HBONE client never would. */
function h2Client() {
  const session = h2connect(`https://127.0.0.1:${h.via.port}`, {
    key: pki.client.keyPem,
    cert: pki.client.certChainPem.join('\n'),
    ca: pki.client.trustBundlePem,
    checkServerIdentity: () => undefined,
  });
  session.on('error', () => {});
  return session;
}

function statusOf(
  session: ReturnType<typeof h2Client>,
  headers: Record<string, string>,
): Promise<{ status: number | undefined; reason: string | undefined; rst: number | undefined }> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: false });
    req.on('error', () => {});
    let status: number | undefined;
    let reason: string | undefined;
    req.on('response', (hs) => {
      status = Number(hs[':status']);
      reason = hs['weft-error'] as string | undefined;
      req.close();
    });
    req.on('close', () => resolve({ status, reason, rst: status === undefined ? req.rstCode : undefined }));
  });
}

describe('hostile TLS peers', () => {
  it('garbage bytes on the TLS port', async () => {
    h = await startHarness(pki);
    for (const garbage of [
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      '\x00\x01\x02\x03'.repeat(500),
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ]) {
      const s = netConnect(h.via.port, '127.0.0.1');
      s.on('error', () => {});
      s.resume();
      s.write(garbage);
      await new Promise((r) => s.once('close', r));
    }
    await waitFor(() => rejectedCount('tls_handshake') === 3, 5000, 'tls_handshake count');
    await expectServesGoodClient();
  });

  it('TLS without a client certificate', async () => {
    h = await startHarness(pki);
    const raw = await rawH2(h.via, undefined);
    await raw.closed;
    expect(rejectedCount('no_client_cert')).toBe(1);
    await expectServesGoodClient();
  });

  it('a client certificate from another CA', async () => {
    h = await startHarness(pki);
    const otherCa = await createTestCa();
    const other = materialOf(
      await otherCa.issue('spiffe://cluster.local/ns/frontend/sa/client'),
      pki.ca.trustBundlePem,
    );
    const err = await connectError(other);
    expect(err.kind).toBe('tls');
    expect(err.message).toContain('refused our certificate');
    expect(rejectedCount('untrusted_cert')).toBe(1);
    await expectServesGoodClient();
  });

  it('a client from another trust domain, even when its root is in the bundle', async () => {
    const otherCa = await createTestCa({ trustDomain: 'other.local' });
    const federated = pki.ca.trustBundlePem + otherCa.trustBundlePem;
    h = await startHarness(pki);
    h.serverCerts.set({ ...pki.server, trustBundlePem: federated });
    const foreign = materialOf(await otherCa.issue('spiffe://other.local/ns/frontend/sa/client'), federated);
    const err = await connectError(foreign);
    expect(err.kind).toBe('tls');
    expect(rejectedCount('foreign_trust_domain')).toBe(1);
    await expectServesGoodClient();
  });

  it('an expired client certificate', async () => {
    h = await startHarness(pki);
    const expired = await pki.issue('spiffe://cluster.local/ns/frontend/sa/client', {
      notBefore: new Date(Date.now() - 3 * 3600_000),
      ttlSeconds: 3600,
    });
    const err = await connectError(expired);
    expect(err.kind).toBe('tls');
    // The reason stays on the server: the client only learns it was refused.
    expect(err.message).toContain('refused our certificate');
    expect(err.message).not.toContain('CERT_HAS_EXPIRED');
    expect(rejectedCount('expired_cert')).toBe(1);
    await expectServesGoodClient();
  });

  it('a server that is not the expected identity', async () => {
    h = await startHarness(pki);
    const err = await connectError(pki.client, 'spiffe://cluster.local/ns/backend/sa/someone-else');
    expect(err.kind).toBe('identity_mismatch');
    expect(err.peerIdentity).toBe(SERVER_ID);
    await expectServesGoodClient();
  });
});

describe('clients without a mesh certificate are refused in the TLS handshake', () => {
  // What such a client sees: it may finish its side of a TLS 1.3 handshake (the server verifies
  // the client last), but no HTTP/2 byte ever comes back: no SETTINGS, no GOAWAY, no reason.
  async function tryTls(material: { keyPem: string; certChainPem: readonly string[] } | undefined) {
    const socket = tlsConnect({
      host: h.via.ip,
      port: h.via.port,
      ...(material !== undefined ? { key: material.keyPem, cert: material.certChainPem.join('\n') } : {}),
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      rejectUnauthorized: false,
    });
    let bytes = 0;
    let error: string | undefined;
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    socket.on('error', (e: Error & { code?: string }) => {
      error ??= e.code ?? e.message;
    });
    // A real HTTP/2 client speaks first once its handshake is done.
    socket.once('secureConnect', () => socket.write(Buffer.concat([H2_PREFACE, settingsFrame()])));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return { bytes, error };
  }

  type Material = { keyPem: string; certChainPem: readonly string[] } | undefined;
  const cases: { name: string; reason: ConnectionRejectReason; material: () => Promise<Material> }[] = [
    { name: 'no certificate', reason: 'no_client_cert', material: async () => undefined },
    {
      name: 'a self-signed certificate',
      reason: 'untrusted_cert',
      material: async () => {
        const root = await generateRootCa();
        return { keyPem: root.keyPem, certChainPem: [root.certPem] };
      },
    },
    {
      name: 'a certificate of another CA, same trust domain and SPIFFE ID shape',
      reason: 'untrusted_cert',
      material: async () => (await createTestCa()).issue('spiffe://cluster.local/ns/frontend/sa/client'),
    },
    {
      name: 'an expired certificate of the mesh CA',
      reason: 'expired_cert',
      material: () =>
        pki.issue('spiffe://cluster.local/ns/frontend/sa/client', {
          notBefore: new Date(Date.now() - 3 * 3600_000),
          ttlSeconds: 3600,
        }),
    },
  ];
  it.each(cases)('$name: no HTTP/2 frame, counted and logged once', async ({ reason, material }) => {
    const logged: { message: string; fields: Readonly<Record<string, unknown>> | undefined }[] = [];
    const log = (message: string, fields?: Readonly<Record<string, unknown>>) => {
      logged.push({ message, fields });
    };
    h = await startHarness(pki, { logger: { info: log, warn: log } });
    const got = await tryTls(await material());
    expect(got.bytes).toBe(0);
    if (reason === 'no_client_cert') expect(got.error ?? '').toMatch(/CERTIFICATE_REQUIRED/);
    await waitFor(() => rejectedCount(reason) === 1, 5000, `${reason} count`);
    const rejections = Object.entries(h.server.stats().connections.rejected).filter(([, n]) => n > 0);
    expect(rejections).toEqual([[reason, 1]]);
    expect(
      logged.filter((l) => l.message === 'hbone connection rejected').map((l) => l.fields?.reason),
    ).toEqual([reason]);
    expect(h.server.stats().connections.active).toBe(0);
    await expectServesGoodClient();
  });
});

describe('hostile HTTP/2 requests', () => {
  it.each([
    [{ ':method': 'GET', ':path': '/' }],
    [{ ':method': 'POST', ':path': '/upload' }],
    [{ ':method': 'PUT', ':path': '/' }],
  ])('non-CONNECT %o gets 400', async (headers) => {
    h = await startHarness(pki);
    const s = h2Client();
    const r = await statusOf(s, headers);
    expect(r.status).toBe(400);
    expect(r.reason).toContain('not CONNECT');
    s.close();
    expect(h.server.stats().streams.outcomes.bad_request).toBe(1);
    await expectServesGoodClient();
  });

  it('bad :authority values get 400', async () => {
    h = await startHarness(pki);
    const s = h2Client();
    const bad = [
      'example.com:80',
      '10.0.0.1',
      '10.0.0.1:0',
      '10.0.0.1:65536',
      '[::1]',
      '::1:80',
      '1.2.3.4:80:80',
      '010.0.0.1:80',
    ];
    for (const authority of bad) {
      const r = await statusOf(s, { ':method': 'CONNECT', ':authority': authority });
      expect({ authority, status: r.status }).toEqual({ authority, status: 400 });
    }
    s.close();
    expect(h.server.stats().streams.outcomes.bad_request).toBe(bad.length);
    await expectServesGoodClient();
  });

  it('bad Forwarded headers get 400', async () => {
    h = await startHarness(pki);
    const s = h2Client();
    for (const forwarded of [
      'for=2001:db8::1',
      'for=example.com',
      'for="10.0.0.1',
      'for=1.2.3.4;for=5.6.7.8',
    ]) {
      const r = await statusOf(s, {
        ':method': 'CONNECT',
        ':authority': `127.0.0.1:${echo.address.port}`,
        forwarded,
      });
      expect({ forwarded, status: r.status }).toEqual({ forwarded, status: 400 });
    }
    s.close();
    await expectServesGoodClient();
  });

  it('malformed CONNECT frames (no :authority, control characters) never open a tunnel', async () => {
    h = await startHarness(pki);
    const acceptedBefore = echo.accepted;
    const raw = await rawH2(h.via, pki.client);
    raw.write([
      headersFrame(1, [[':method', 'CONNECT']]),
      headersFrame(3, [
        [':method', 'CONNECT'],
        [':authority', '127.0.0.1:1\u0000'],
      ]),
      headersFrame(5, [
        [':method', 'CONNECT'],
        [':authority', '127.0.0.1 :80'],
      ]),
      headersFrame(7, [
        [':method', 'CONNECT'],
        [':authority', `127.0.0.1:${echo.address.port}`],
        [':path', '/'],
      ]),
    ]);
    // Each stream gets an answer (400 or RST_STREAM), none a tunnel.
    await waitFor(
      () =>
        [1, 3, 5, 7].every((id) =>
          raw.frames.some(
            (f) => f.streamId === id && (f.type === FRAME.RST_STREAM || f.type === FRAME.HEADERS),
          ),
        ) || raw.socket.destroyed,
      5000,
      'answers',
    );
    expect(echo.accepted).toBe(acceptedBefore);
    expect(h.server.stats().streams.outcomes.closed).toBe(0);
    raw.socket.destroy();
    await expectServesGoodClient();
  });
});

describe('floods', () => {
  it('half-open connection flood: bounded, refused, counted', async () => {
    h = await startHarness(pki, { limits: { maxPendingHandshakes: 50, handshakeTimeoutMs: 1000 } });
    const sockets: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const s = netConnect(h.via.port, '127.0.0.1');
      s.on('error', () => {});
      s.resume();
      sockets.push(s);
    }
    // Every connection beyond the 50 handshake slots is refused at once; the 50 time out.
    // (On a slow machine a slot may free up by timeout while connects still arrive: hence the sum.)
    let maxPending = 0;
    await waitFor(
      () => {
        maxPending = Math.max(maxPending, h.server.stats().connections.pendingHandshakes);
        return rejectedCount('handshake_overflow') + rejectedCount('handshake_timeout') === 200;
      },
      10_000,
      'all 200 refused',
    );
    expect(maxPending).toBeLessThanOrEqual(50);
    expect(rejectedCount('handshake_overflow')).toBeGreaterThanOrEqual(100);
    await Promise.all(sockets.map((s) => (s.destroyed ? undefined : new Promise((r) => s.once('close', r)))));
    expect(h.server.stats().connections.pendingHandshakes).toBe(0);
    await expectServesGoodClient();
  });

  it('HTTP/2 rapid reset: cancelled streams cost no upstream connects, and the connection is closed', async () => {
    let connects = 0;
    const tcp = createTcpConnector();
    h = await startHarness(pki, {
      limits: { maxPrematureResets: 100 },
      connectUpstream: (dest, ctx) => {
        connects++;
        return tcp(dest, ctx);
      },
    });
    const raw = await rawH2(h.via, pki.client);
    const frames: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const id = 1 + 2 * i;
      frames.push(
        headersFrame(id, [
          [':method', 'CONNECT'],
          [':authority', '127.0.0.1:9'],
        ]),
        rstFrame(id, h2.NGHTTP2_CANCEL),
      );
    }
    raw.write(frames);
    await raw.closed;
    expect(rejectedCount('rapid_reset')).toBe(1);
    // The GOAWAY may not reach a peer still writing when the socket is torn down (seen on a
    // loaded machine); when it does arrive it must say ENHANCE_YOUR_CALM.
    const goaway = raw.goaway();
    if (goaway !== undefined) expect(goaway.payload.readUInt32BE(4)).toBe(h2.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(connects).toBeLessThan(5);
    const connectsBefore = connects;
    await waitFor(() => h.server.stats().streams.active === 0, 5000, 'streams to settle');
    expect(h.server.stats().streams.outcomes.cancelled).toBeGreaterThan(100);
    await expectServesGoodClient();
    expect(connects).toBe(connectsBefore + 1);
  });

  it.each([
    ['SETTINGS', () => settingsFrame([[0x3, 100]])],
    ['PING', () => encodeFrame(FRAME.PING, 0, 0, Buffer.alloc(8))],
  ])('%s flood from a peer that never reads is cut off', async (_name, frame) => {
    h = await startHarness(pki);
    const raw = await rawH2(h.via, pki.client, { read: false });
    const one = frame();
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => one));
    for (let i = 0; i < 25 && !raw.socket.destroyed; i++) raw.write(burst);
    await waitFor(
      () => h.server.stats().connections.active === 0,
      10_000,
      'flooding connection to be closed',
    );
    expect(rejectedCount('protocol_error')).toBe(1);
    raw.socket.destroy();
    await expectServesGoodClient();
  });
});
