import { once } from 'node:events';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertStore } from './certs.ts';
import { HboneError } from './errors.ts';
import {
  classifyTlsHead,
  createMtlsAcceptor,
  type MtlsAcceptResult,
  mtlsConnect,
  type SniffResult,
  sniffTls,
} from './mtls.ts';
import { CLIENT_ID, createTestPki, SERVER_ID, type TestPki } from './test-support/mesh.ts';

let pki: TestPki;
let foreign: TestPki;
let server: Server;
let port: number;
/** What the server side saw, per connection, in order. */
const seen: { sniff: SniffResult; accept?: MtlsAcceptResult }[] = [];

beforeAll(async () => {
  [pki, foreign] = await Promise.all([createTestPki(), createTestPki()]);
  const acceptor = createMtlsAcceptor({
    certs: createCertStore(pki.server),
    trustDomains: ['cluster.local'],
    handshakeTimeoutMs: 2000,
  });
  server = createServer((socket) => {
    socket.on('error', () => {});
    void sniffTls(socket, { timeoutMs: 300 }).then(async (sniff) => {
      const entry: (typeof seen)[number] = { sniff };
      seen.push(entry);
      if (sniff.kind === 'other') {
        // plaintext: echo it back, sniffed bytes included; a 'data' listener alone starts the flow
        socket.on('data', (c: Buffer) => socket.write(c));
        return;
      }
      if (sniff.kind !== 'tls') {
        socket.destroy();
        return;
      }
      const r = await acceptor.accept(socket);
      entry.accept = r;
      if (r.ok) {
        r.socket.write(`hello ${r.peer.id}\n`);
        r.socket.pipe(r.socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
}, 30_000);

afterAll(() => {
  server?.close();
});

function tcp(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function readLine(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        s.off('data', onData);
        resolve(buf.slice(0, nl));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('close', () => resolve(buf));
  });
}

/** Resolves once the peer closed (reading, so the end is seen; errors are part of closing). */
function closed(s: NodeJS.ReadableStream & { on(e: 'error', l: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    s.on('error', () => {});
    s.once('close', () => resolve());
    s.resume();
  });
}

async function lastAccept(): Promise<MtlsAcceptResult> {
  for (let i = 0; i < 200; i++) {
    const a = seen.at(-1)?.accept;
    if (a !== undefined) return a;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no accept result');
}

describe('classifyTlsHead', () => {
  it.each([
    ['a ClientHello record', [0x16, 0x03, 0x01, 0x02, 0x00, 0x01], 'tls'],
    ['TLS 1.0 record version', [0x16, 0x03, 0x00, 0x00, 0x10, 0x01], 'tls'],
    ['an incomplete header', [0x16, 0x03], 'more'],
    ['nothing yet', [], 'more'],
    ['an HTTP/2 preface', [...Buffer.from('PRI * HTTP/2.0')], 'other'],
    ['an HTTP/1 request', [...Buffer.from('GET / HTTP/1.1')], 'other'],
    ['a handshake record that is no ClientHello', [0x16, 0x03, 0x03, 0x00, 0x10, 0x02], 'other'],
    ['record version 3.9', [0x16, 0x03, 0x09, 0x00, 0x10, 0x01], 'other'],
    ['SSLv2-style first byte', [0x80, 0x2e, 0x01], 'other'],
  ])('%s', (_name, bytes, expected) => {
    expect(classifyTlsHead(Uint8Array.from(bytes as number[]))).toBe(expected);
  });

  it('never throws on arbitrary bytes', () => {
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(Math.random() * 12);
      const b = Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 256));
      expect(['tls', 'other', 'more']).toContain(classifyTlsHead(b));
    }
  });
});

describe('mesh mTLS without HBONE', () => {
  it('mtlsConnect reaches the acceptor; both sides know each other', async () => {
    const tls = await mtlsConnect(await tcp(), { material: pki.client, expected: SERVER_ID });
    expect(tls.alpnProtocol).toBe('h2');
    expect(await readLine(tls)).toBe(`hello ${CLIENT_ID}`);
    tls.write('ping\n');
    expect(await readLine(tls)).toBe('ping');
    tls.destroy();
    expect(seen.at(-1)?.sniff.kind).toBe('tls');
  });

  it('mtlsConnect refuses a server that is not the expected identity', async () => {
    const err = await mtlsConnect(await tcp(), {
      material: pki.client,
      expected: 'spiffe://cluster.local/ns/backend/sa/other',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HboneError);
    expect((err as HboneError).kind).toBe('identity_mismatch');
  });

  it('mtlsConnect refuses a server whose chain is not from the trust bundle', async () => {
    const err = await mtlsConnect(await tcp(), {
      material: { ...pki.client, trustBundlePem: foreign.ca.trustBundlePem },
      expected: SERVER_ID,
    }).catch((e: unknown) => e);
    expect((err as HboneError).kind).toBe('tls');
  });

  it('mtlsConnect requires h2 from the server', async () => {
    const plain = createTlsServer({
      key: pki.server.keyPem,
      cert: pki.server.certChainPem.join('\n'),
    });
    plain.on('secureConnection', (s) => s.on('error', () => {}));
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const p = (plain.address() as { port: number }).port;
    const socket = netConnect({ host: '127.0.0.1', port: p });
    await once(socket, 'connect');
    const err = await mtlsConnect(socket, { material: pki.client, expected: SERVER_ID }).catch(
      (e: unknown) => e,
    );
    expect((err as HboneError).kind).toBe('tls');
    plain.close();
  });

  it('mtlsConnect times out on a server that never answers', async () => {
    const mute = createServer((s) => s.on('error', () => {}));
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    const socket = netConnect({ host: '127.0.0.1', port: (mute.address() as { port: number }).port });
    await once(socket, 'connect');
    const err = await mtlsConnect(socket, {
      material: pki.client,
      expected: SERVER_ID,
      timeoutMs: 200,
    }).catch((e: unknown) => e);
    expect((err as HboneError).kind).toBe('timeout');
    mute.close();
  });

  it('the acceptor refuses a client without a certificate', async () => {
    const s = tlsConnect({
      socket: await tcp(),
      ca: pki.ca.trustBundlePem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    s.on('error', () => {});
    await closed(s);
    expect(await lastAccept()).toMatchObject({ ok: false, reason: 'no_client_cert' });
  });

  it('the acceptor refuses a client certificate from a foreign CA', async () => {
    const other = await foreign.issue(CLIENT_ID);
    const s = tlsConnect({
      socket: await tcp(),
      key: other.keyPem,
      cert: other.certChainPem.join('\n'),
      ca: pki.ca.trustBundlePem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    s.on('error', () => {});
    await closed(s);
    expect(await lastAccept()).toMatchObject({ ok: false, reason: 'untrusted_cert' });
  });

  it('plaintext is sniffed as other and keeps its bytes', async () => {
    const s = await tcp();
    s.write('plain words\n');
    expect(await readLine(s)).toBe('plain words');
    s.destroy();
    expect(seen.at(-1)?.sniff.kind).toBe('other');
  });

  it('garbage that starts like TLS is refused by the handshake, never thrown', async () => {
    const s = await tcp();
    s.on('error', () => {});
    s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xff, 0xff, 0xff, 0xff]));
    await closed(s);
    expect(await lastAccept()).toMatchObject({ ok: false, reason: 'tls_handshake' });
  });

  it('a silent peer is reported as silent after the sniff timeout', async () => {
    const s = await tcp();
    s.on('error', () => {});
    await closed(s);
    expect(seen.at(-1)?.sniff.kind).toBe('silent');
  });
});
