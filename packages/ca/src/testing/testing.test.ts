import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, type TestCa } from './index.ts';

describe('createTestCa', () => {
  let ca: TestCa;
  beforeAll(async () => {
    ca = await createTestCa();
  });

  it('issues a leaf -> intermediate -> root chain for the SPIFFE ID', async () => {
    const cert = await ca.issue('spiffe://cluster.local/ns/default/sa/web');
    expect(cert.certChainPem).toHaveLength(3);
    expect(cert.rootCertPem).toBe(ca.rootCertPem);
    expect(cert.certChainPem[2]).toBe(ca.rootCertPem);
    const [leaf, inter, root] = cert.certChainPem.map((p) => new X509Certificate(p));
    expect(leaf?.subjectAltName).toBe('URI:spiffe://cluster.local/ns/default/sa/web');
    expect(leaf?.ca).toBe(false);
    expect(leaf?.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(leaf?.checkIssued(inter as X509Certificate)).toBe(true);
    expect(leaf?.verify((inter as X509Certificate).publicKey)).toBe(true);
    expect(inter?.verify((root as X509Certificate).publicKey)).toBe(true);
    expect(inter?.ca).toBe(true);
    const lifetime = Date.parse(leaf?.validTo ?? '') - Date.parse(leaf?.validFrom ?? '');
    // 24 h plus the 5-minute backdating for clock skew.
    expect(lifetime).toBe((86_400 + 300) * 1000);
  });

  it('honours ttlSeconds and notBefore (expired certificates for tests)', async () => {
    const notBefore = new Date(Date.now() - 2 * 3600_000);
    const cert = await ca.issue('spiffe://cluster.local/ns/a/sa/b', { ttlSeconds: 3600, notBefore });
    const leaf = new X509Certificate(cert.certChainPem[0] as string);
    expect(Date.parse(leaf.validFrom)).toBe(Math.floor(notBefore.getTime() / 1000) * 1000);
    expect(Date.parse(leaf.validTo)).toBeLessThan(Date.now());
  });

  it('rejects a foreign trust domain or a malformed ID', async () => {
    await expect(ca.issue('spiffe://other.domain/ns/a/sa/b')).rejects.toThrow(/trust domain/);
    await expect(ca.issue('spiffe://cluster.local/a/b')).rejects.toThrow(/not of the form/);
  });

  it('uses its own trust domain', async () => {
    const other = await createTestCa({ trustDomain: 'example.org' });
    expect(other.trustBundlePem).toContain('BEGIN CERTIFICATE');
    const cert = await other.issue('spiffe://example.org/ns/x/sa/y');
    expect(new X509Certificate(cert.certChainPem[0] as string).subjectAltName).toBe(
      'URI:spiffe://example.org/ns/x/sa/y',
    );
    expect(other.rootCertPem).not.toBe(ca.rootCertPem);
  });

  it('certificates work for mutual TLS 1.3 with the trust bundle', async () => {
    const server = await ca.issue('spiffe://cluster.local/ns/default/sa/server');
    const client = await ca.issue('spiffe://cluster.local/ns/default/sa/client');
    const srv = tls.createServer({
      key: server.keyPem,
      cert: server.certChainPem.join(''),
      ca: ca.trustBundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    const peers: string[] = [];
    srv.on('secureConnection', (s) => {
      peers.push(s.getPeerX509Certificate()?.subjectAltName ?? '');
      s.end('ok');
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address() as AddressInfo;
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      key: client.keyPem,
      cert: client.certChainPem.join(''),
      ca: ca.trustBundlePem,
      // SPIFFE peers are checked by URI SAN, not host name.
      checkServerIdentity: () => undefined,
    });
    await once(sock, 'secureConnect');
    expect(sock.authorized).toBe(true);
    expect(sock.getPeerX509Certificate()?.subjectAltName).toBe(
      'URI:spiffe://cluster.local/ns/default/sa/server',
    );
    let body = '';
    sock.on('data', (d) => {
      body += d;
    });
    await once(sock, 'end');
    sock.destroy();
    srv.close();
    expect(body).toBe('ok');
    expect(peers).toEqual(['URI:spiffe://cluster.local/ns/default/sa/client']);
  });
});
