import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaClient } from '../client/client.ts';
import { createCsr } from '../csr.ts';
import { generateRsaKeyPair, type KeyPairPem } from '../keys.ts';
import { rawCsr, tamperedCsr } from '../testing/fixtures.ts';
import { type CaServer, createCaServer } from './server.ts';
import { createStaticTokenAuthenticator } from './static-tokens.ts';

const WEB = 'tok-web-0123456789abcdef';
const ZTUNNEL = 'tok-ztunnel-0123456789abcdef';
const ROGUE = 'tok-rogue-node-0123456789abcdef';

describe('CertificateService over gRPC', () => {
  let server: CaServer;
  let key: KeyPairPem;
  let csr: string;
  const client = (token?: string) =>
    createCaClient({ address: server.address, ...(token !== undefined ? { token: () => token } : {}) });

  beforeAll(async () => {
    const tokens = await createStaticTokenAuthenticator({
      text: [
        `${WEB} default web`,
        `${ZTUNNEL} weft-system ztunnel node-1`,
        `${ROGUE} default rogue node-1`,
      ].join('\n'),
    });
    server = await createCaServer({
      ca: { trustDomain: 'cluster.local' },
      authenticators: [tokens],
      nodeWorkloads: (node, id) =>
        node === 'node-1' && id.namespace === 'default' && id.serviceAccount === 'db',
    });
    key = await generateRsaKeyPair();
    csr = createCsr(key, { spiffeId: 'spiffe://cluster.local/ns/kube-system/sa/admin' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('issues for the authenticated caller, ignoring the identity the CSR asks for', async () => {
    const c = client(WEB);
    const r = await c.createCertificate({ csr });
    c.close();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.certChain).toHaveLength(3);
    expect(r.value.trustBundle).toEqual([server.ca.rootCertPem]);
    const leaf = new X509Certificate(r.value.certChain[0] as string);
    expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/default/sa/web');
    expect(leaf.publicKey.export({ type: 'spki', format: 'pem' })).toBe(key.publicKeyPem);
    expect(server.metrics.issued).toBeGreaterThan(0);
  });

  it('lets a trusted node agent impersonate a workload of its node', async () => {
    const c = client(ZTUNNEL);
    const r = await c.createCertificate({
      csr,
      impersonatedIdentity: 'spiffe://cluster.local/ns/default/sa/db',
    });
    c.close();
    expect(r.ok && new X509Certificate(r.value.certChain[0] as string).subjectAltName).toBe(
      'URI:spiffe://cluster.local/ns/default/sa/db',
    );
  });

  const bad: {
    name: string;
    token?: string;
    req: () => { csr: string; validitySeconds?: number; impersonatedIdentity?: string };
    code: status;
    reason: string;
    message: RegExp;
  }[] = [
    {
      name: 'no token',
      req: () => ({ csr }),
      code: status.UNAUTHENTICATED,
      reason: 'no-token',
      message: /authorization/,
    },
    {
      name: 'unknown (forged) token',
      token: 'tok-forged-0123456789abcdef',
      req: () => ({ csr }),
      code: status.UNAUTHENTICATED,
      reason: 'bad-token',
      message: /not in the token file/,
    },
    {
      name: 'garbage CSR',
      token: WEB,
      req: () => ({ csr: 'hello' }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-malformed',
      message: /^csr: /,
    },
    {
      name: 'PEM with garbage DER',
      token: WEB,
      req: () => ({
        csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----\n',
      }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-malformed',
      message: /csr: .*DER/,
    },
    {
      name: 'oversized CSR',
      token: WEB,
      req: () => ({ csr: `${csr}${' '.repeat(17 * 1024)}` }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-too-large',
      message: /16384-byte limit/,
    },
    {
      name: 'forged CSR signature (no proof of possession)',
      token: WEB,
      req: () => ({ csr: tamperedCsr(csr) }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-signature',
      message: /signature does not verify/,
    },
    {
      name: 'ECDSA key',
      token: WEB,
      req: () => ({ csr: rawCsr({ key: 'ec' }) }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-key',
      message: /RSA only/,
    },
    {
      name: 'RSA 1024 key',
      token: WEB,
      req: () => ({ csr: rawCsr({ key: 'rsa', bits: 1024 }) }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-key',
      message: /1024 bits/,
    },
    {
      name: 'SHA-1 signature',
      token: WEB,
      req: () => ({ csr: rawCsr({ key: 'rsa', hash: 'sha1' }) }),
      code: status.INVALID_ARGUMENT,
      reason: 'csr-signature',
      message: /sha1WithRSAEncryption is not accepted/,
    },
    {
      name: 'validity too long',
      token: WEB,
      req: () => ({ csr, validitySeconds: 10 * 86_400 }),
      code: status.INVALID_ARGUMENT,
      reason: 'validity-out-of-range',
      message: /validity_seconds: 864000 is outside 60\.\.86400/,
    },
    {
      name: 'negative validity',
      token: WEB,
      req: () => ({ csr, validitySeconds: -5 }),
      code: status.INVALID_ARGUMENT,
      reason: 'validity-out-of-range',
      message: /validity_seconds: -5/,
    },
    {
      name: 'workload asking for another identity',
      token: WEB,
      req: () => ({ csr, impersonatedIdentity: 'spiffe://cluster.local/ns/default/sa/db' }),
      code: status.PERMISSION_DENIED,
      reason: 'impersonation-denied',
      message: /default\/web is not a trusted node agent/,
    },
    {
      name: 'non-agent with a node asking for another identity',
      token: ROGUE,
      req: () => ({ csr, impersonatedIdentity: 'spiffe://cluster.local/ns/default/sa/db' }),
      code: status.PERMISSION_DENIED,
      reason: 'impersonation-denied',
      message: /default\/rogue is not a trusted node agent/,
    },
    {
      name: 'node agent asking for a workload not on its node',
      token: ZTUNNEL,
      req: () => ({ csr, impersonatedIdentity: 'spiffe://cluster.local/ns/default/sa/web' }),
      code: status.PERMISSION_DENIED,
      reason: 'impersonation-denied',
      message: /no workload of default\/web runs on node node-1/,
    },
    {
      name: 'foreign trust domain',
      token: ZTUNNEL,
      req: () => ({ csr, impersonatedIdentity: 'spiffe://evil.org/ns/default/sa/db' }),
      code: status.PERMISSION_DENIED,
      reason: 'foreign-trust-domain',
      message: /evil\.org is not cluster\.local/,
    },
    {
      name: 'malformed impersonated identity',
      token: ZTUNNEL,
      req: () => ({ csr, impersonatedIdentity: 'spiffe://cluster.local/ns/default' }),
      code: status.INVALID_ARGUMENT,
      reason: 'identity-invalid',
      message: /impersonated_identity: .*not of the form/,
    },
  ];

  it.each(bad)('$name -> status $code', async ({ token, req, code, reason, message }) => {
    const before = server.metrics.rejected[reason as keyof typeof server.metrics.rejected];
    const c = client(token);
    const r = await c.createCertificate(req());
    c.close();
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.message).toMatch(message);
    expect(server.metrics.rejected[reason as keyof typeof server.metrics.rejected]).toBe(before + 1);
  });

  it('refuses messages above the transport cap with RESOURCE_EXHAUSTED', async () => {
    const c = client(WEB);
    const r = await c.createCertificate({ csr: 'x'.repeat(100 * 1024) });
    c.close();
    expect(r.ok ? 0 : r.error.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('answers a malformed protobuf with an error status', async () => {
    const raw = new Client(server.address, credentials.createInsecure());
    const code = await new Promise<number>((resolve) => {
      raw.makeUnaryRequest(
        '/weft.ca.v1.CertificateService/CreateCertificate',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        new Metadata(),
        (err) => resolve(err?.code ?? status.OK),
      );
    });
    raw.close();
    expect(code).not.toBe(status.OK);
  });

  it('registers next to other services on a caller-provided server', async () => {
    const { Server, ServerCredentials } = await import('@grpc/grpc-js');
    const { addCertificateService } = await import('./service.ts');
    const shared = new Server();
    shared.addService(
      {
        ping: {
          path: '/test.Other/Ping',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      { ping: (_call: unknown, cb: (e: null, r: Buffer) => void) => cb(null, Buffer.from('pong')) },
    );
    addCertificateService(shared, {
      ca: server.ca,
      authenticators: [await createStaticTokenAuthenticator({ text: `${WEB} default web` })],
    });
    const port = await new Promise<number>((resolve, reject) =>
      shared.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const c = createCaClient({ address: `127.0.0.1:${port}`, token: () => WEB });
    const r = await c.createCertificate({ csr });
    c.close();
    shared.forceShutdown();
    expect(r.ok).toBe(true);
  });

  it('survives garbage bytes and an HTTP/1.1 peer on its port', async () => {
    for (const payload of [
      Buffer.from([0, 1, 2, 3, 255, 254, 253, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]),
      Buffer.from('GET / HTTP/1.1\r\nHost: ca\r\n\r\n'),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\x04\x00\x00\x00\x00\x00garbage'),
    ]) {
      await new Promise<void>((resolve) => {
        const sock = net.connect(server.port, '127.0.0.1', () => sock.write(payload));
        sock.on('data', () => {});
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
        sock.setTimeout(1000, () => sock.destroy());
      });
    }
    const c = client(WEB);
    const r = await c.createCertificate({ csr });
    c.close();
    expect(r.ok).toBe(true);
  });
});
