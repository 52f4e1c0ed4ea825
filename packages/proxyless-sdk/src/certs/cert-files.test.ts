import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '@weft/ca';
import type { CertificateSource } from '@weft/ca/client';
import { createTestCa, type TestCertificate } from '@weft/ca/testing';
import { createManualClock } from '@weft/telemetry/testing';
import { describe, expect, it } from 'vitest';
import { createProxylessClient } from '../proxyless.ts';
import { certFilePaths, writeCertFiles } from './cert-files.ts';

const material = (c: TestCertificate) => ({
  certChainPem: c.certChainPem,
  keyPem: c.keyPem,
  rootCertPem: c.rootCertPem,
});

async function readTrio(dir: string): Promise<{ cert: string; key: string; root: string }> {
  const p = certFilePaths(dir);
  const [cert, key, root] = await Promise.all([
    readFile(p.certificateFile, 'utf8'),
    readFile(p.privateKeyFile, 'utf8'),
    readFile(p.caCertificateFile, 'utf8'),
  ]);
  return { cert, key, root };
}

describe('certificate files', () => {
  it('never shows a partial file, and a generation never changes once current', async () => {
    const ca = await createTestCa();
    const pairs = await Promise.all([
      ca.issue('spiffe://cluster.local/ns/demo/sa/echo'),
      ca.issue('spiffe://cluster.local/ns/demo/sa/echo'),
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'certfiles-'));
    await writeCertFiles(dir, material(pairs[0] as TestCertificate));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 40; i++) await writeCertFiles(dir, material(pairs[i % 2] as TestCertificate));
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      // What the file_watcher provider does: three independent reads through the link. Each
      // file is whole (it only ever appears by rename).
      const t = await readTrio(dir);
      expect(() => new X509Certificate(t.cert)).not.toThrow();
      expect(() => createPrivateKey(t.key)).not.toThrow();
      expect(t.root).toBe(`${ca.rootCertPem.trimEnd()}\n`);
      // Resolving the link once gives one generation: key and certificate always match.
      const gen = join(dir, await readlink(join(dir, 'current')).catch(() => 'current'));
      const [cert, key] = await Promise.all([
        readFile(join(gen, 'cert-chain.pem'), 'utf8').catch(() => undefined),
        readFile(join(gen, 'key.pem'), 'utf8').catch(() => undefined),
      ]);
      // (A generation two swaps old may be removed under the reader: then neither is read.)
      if (cert !== undefined && key !== undefined) {
        expect(new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))).toBe(true);
      }
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
    const t = await readTrio(dir);
    expect(new X509Certificate(t.cert).checkPrivateKey(createPrivateKey(t.key))).toBe(true);
    // The current and the previous generation remain, nothing older.
    expect((await readdir(dir)).filter((n) => n.startsWith('certs-')).length).toBeLessThanOrEqual(2);
    expect((await stat(certFilePaths(dir).privateKeyFile)).mode & 0o077).toBe(0);
  });

  it('rotates the files before expiry (manual clock, CA API capability)', async () => {
    const clock = createManualClock(Date.parse('2026-06-01T00:00:00Z'));
    const authority = await createCertificateAuthority({ clock });
    const source: CertificateSource = {
      async createCertificate(req) {
        const r = await authority.issue({
          csrPem: req.csr,
          identity: { namespace: 'demo', serviceAccount: 'client' },
          validitySeconds: 3600,
        });
        return r.ok
          ? { ok: true, value: { certChain: r.value.certChainPem, trustBundle: authority.trustBundle } }
          : { ok: false, error: { code: 3, codeName: 'INVALID_ARGUMENT', message: r.error.message } };
      },
    };
    const dir = await mkdtemp(join(tmpdir(), 'rotate-'));
    // The manual scheduler runs the first fetch once time moves.
    const tick = setInterval(() => clock.advance(0), 5);
    const client = await createProxylessClient(
      {
        pod: 'demo/client-1',
        serviceAccount: 'client',
        xdsAddress: '127.0.0.1:1',
        token: 'unused-token-0123456789',
        bootstrap: 'per-channel',
        dir,
      },
      { certificateSource: source, clock, scheduler: clock },
    ).finally(() => clearInterval(tick));
    try {
      const first = new X509Certificate((await readTrio(dir)).cert);
      expect(first.subjectAltName).toBe('URI:spiffe://cluster.local/ns/demo/sa/client');
      expect(JSON.parse(client.bootstrap).certificate_providers.weft.config.certificate_file).toBe(
        certFilePaths(dir).certificateFile,
      );
      // Half-life of a 1 h certificate (±5 % jitter), plus a margin.
      clock.advance(35 * 60_000);
      let next = first;
      for (let i = 0; i < 500 && next.serialNumber === first.serialNumber; i++) {
        await new Promise((r) => setTimeout(r, 10));
        next = new X509Certificate((await readTrio(dir)).cert);
      }
      expect(next.serialNumber).not.toBe(first.serialNumber);
      const t = await readTrio(dir);
      expect(new X509Certificate(t.cert).checkPrivateKey(createPrivateKey(t.key))).toBe(true);
      expect(client.certificate()?.notAfter.getTime()).toBe(new Date(next.validTo).getTime());
    } finally {
      await client.close();
    }
  });
});
