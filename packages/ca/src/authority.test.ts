import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createManualClock } from '@weft/telemetry/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  generateIntermediateCa,
  generateRootCa,
  type SignerPem,
} from './authority.ts';
import { createCsr } from './csr.ts';
import { CaConfigError } from './errors.ts';
import { generateRsaKeyPair, type KeyPairPem } from './keys.ts';

const web = { namespace: 'default', serviceAccount: 'web' };

describe('certificate authority', () => {
  let key: KeyPairPem;
  let csr: string;
  let root: SignerPem;
  let ca: CertificateAuthority;
  beforeAll(async () => {
    key = await generateRsaKeyPair();
    csr = createCsr(key);
    root = await generateRootCa({ trustDomain: 'example.org' });
    ca = await createCertificateAuthority({ trustDomain: 'example.org', signer: root });
  });

  it('generates a 10-year RSA-2048 root with CA extensions', () => {
    const cert = new X509Certificate(root.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toContain('O=example.org');
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 86_400_000);
    expect(Math.round(years)).toBe(10);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('mints an intermediate under a loaded root and chains leaf -> intermediate -> root', async () => {
    expect(ca.rootCertPem).toBe(new X509Certificate(root.certPem).toString());
    const r = await ca.issue({ csrPem: csr, identity: web });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [leaf, inter, top] = r.value.certChainPem.map((p) => new X509Certificate(p));
    expect(top?.raw.equals(new X509Certificate(root.certPem).raw)).toBe(true);
    expect(inter?.verify((top as X509Certificate).publicKey)).toBe(true);
    expect(leaf?.verify((inter as X509Certificate).publicKey)).toBe(true);
    expect(leaf?.subjectAltName).toBe('URI:spiffe://example.org/ns/default/sa/web');
    expect(r.value.spiffeId).toBe('spiffe://example.org/ns/default/sa/web');
    // Random 16-byte positive serials.
    const r2 = await ca.issue({ csrPem: csr, identity: web });
    expect(r2.ok && r2.value.serialHex).not.toBe(r.value.serialHex);
    expect(r.value.serialHex).toMatch(/^[4-7][0-9a-f]{31}$/);
  });

  it('adds DNS names beside the SPIFFE ID for in-process callers, and refuses what is not a DNS name', async () => {
    const names = ['weftd.weft-system.svc', 'weftd.weft-system.svc.cluster.local'];
    const r = await ca.issue({ csrPem: csr, identity: web, dnsNames: names });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const leaf = new X509Certificate(r.value.certChainPem[0] as string);
    expect(leaf.subjectAltName).toBe(
      'URI:spiffe://example.org/ns/default/sa/web, DNS:weftd.weft-system.svc, DNS:weftd.weft-system.svc.cluster.local',
    );
    expect(leaf.checkHost('weftd.weft-system.svc')).toBe('weftd.weft-system.svc');
    expect(leaf.checkHost('other.weft-system.svc')).toBeUndefined();
    for (const bad of ['', 'Weftd.svc', 'a..b', '*.svc', 'x'.repeat(64), 'a b', 'spiffe://x']) {
      const refused = await ca.issue({ csrPem: csr, identity: web, dnsNames: [bad] });
      expect(refused.ok, bad).toBe(false);
      if (!refused.ok) expect(refused.error.message).toContain('dnsNames');
    }
  });

  it('signs with a loaded intermediate and its chain', async () => {
    const inter = await generateIntermediateCa(root, { trustDomain: 'example.org' });
    const ca2 = await createCertificateAuthority({ trustDomain: 'example.org', signer: inter });
    expect(ca2.caChainPem).toHaveLength(2);
    const r = await ca2.issue({ csrPem: csr, identity: web });
    expect(r.ok && r.value.certChainPem[1]).toBe(new X509Certificate(inter.certPem).toString());
    expect(
      r.ok &&
        new X509Certificate(r.value.certChainPem[0] as string).verify(
          new X509Certificate(inter.certPem).publicKey,
        ),
    ).toBe(true);
  });

  it('signs identically valid certificates with the forge backend', async () => {
    const slow = await createCertificateAuthority({ signer: root, signatureBackend: 'forge' });
    const r = await slow.issue({ csrPem: csr, identity: web });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const [leaf, inter] = r.value.certChainPem.map((p) => new X509Certificate(p));
    expect(leaf?.verify((inter as X509Certificate).publicKey)).toBe(true);
  });

  it.each([
    [0, 86_400],
    [60, 60],
    [3600, 3600],
    [86_400, 86_400],
  ])('validity_seconds %i gives a %i s certificate (plus backdating)', async (asked, ttl) => {
    const clock = createManualClock();
    const c = await createCertificateAuthority({ signer: root, clock });
    const r = await c.issue({ csrPem: csr, identity: web, validitySeconds: asked });
    expect(r.ok && r.value.notAfter.getTime() - clock.now()).toBe(ttl * 1000);
    expect(r.ok && clock.now() - r.value.notBefore.getTime()).toBe(300_000);
  });

  it.each([59, 86_401, -1, 1.5, Number.NaN])('rejects validity_seconds %d', async (asked) => {
    const r = await ca.issue({ csrPem: csr, identity: web, validitySeconds: asked });
    expect(r.ok ? '' : r.error.reason).toBe('validity-out-of-range');
  });

  it('caps the leaf at the signing certificate’s expiry', async () => {
    const clock = createManualClock();
    const shortRoot = await generateRootCa({ validityDays: 1, clock });
    const c = await createCertificateAuthority({ signer: shortRoot, clock, maxTtlSeconds: 7 * 86_400 });
    clock.advance(23 * 3600_000);
    const r = await c.issue({ csrPem: csr, identity: web, validitySeconds: 7 * 86_400 });
    expect(r.ok && r.value.notAfter.getTime()).toBe(
      Date.parse(new X509Certificate(shortRoot.certPem).validTo),
    );
  });

  it('rejects invalid identities and counts outcomes', async () => {
    const c = await createCertificateAuthority({ signer: root });
    await c.issue({ csrPem: csr, identity: web });
    const r = await c.issue({ csrPem: csr, identity: { namespace: 'Bad/ns', serviceAccount: 'x' } });
    expect(r.ok ? '' : r.error.message).toMatch(/namespace "Bad\/ns"/);
    await c.issue({ csrPem: 'nope', identity: web });
    expect(c.metrics.snapshot()).toMatchObject({
      issued: 1,
      rejected: { 'identity-invalid': 1, 'csr-malformed': 1 },
    });
    expect(c.metrics.rejectedTotal).toBe(2);
  });

  describe('refuses unusable signer configuration', () => {
    it.each<[string, () => Promise<SignerPem>, string, RegExp]>([
      [
        'a key that does not match',
        async () => ({ ...root, keyPem: key.privateKeyPem }),
        'signer.keyPem',
        /does not match/,
      ],
      ['garbage certificate', async () => ({ ...root, certPem: 'xx' }), 'signer.certPem', /no CERTIFICATE/],
      [
        'an EC key',
        async () => ({
          ...root,
          keyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
            type: 'pkcs8',
            format: 'pem',
          }) as string,
        }),
        'signer.keyPem',
        /RSA only/,
      ],
      [
        'an intermediate without its chain',
        async () => {
          const inter = await generateIntermediateCa(root);
          return { certPem: inter.certPem, keyPem: inter.keyPem };
        },
        'signer.chainPem',
        /must end with the self-signed root/,
      ],
      [
        'a chain that does not link',
        async () => {
          const inter = await generateIntermediateCa(root);
          const other = await generateRootCa();
          return { ...inter, chainPem: other.certPem };
        },
        'signer.chainPem',
        /not signed by the next one/,
      ],
      [
        'an expired root',
        async () => generateRootCa({ validityDays: 1, clock: { now: () => Date.now() - 3 * 86_400_000 } }),
        'signer.certPem',
        /expired/,
      ],
    ])('%s', async (_name, make, field, message) => {
      const err = await createCertificateAuthority({ signer: await make() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CaConfigError);
      expect((err as CaConfigError).field).toBe(field);
      expect((err as CaConfigError).message).toMatch(message);
    });

    it('a leaf certificate as signer', async () => {
      const r = await ca.issue({ csrPem: csr, identity: web });
      const leafPem = r.ok ? (r.value.certChainPem[0] as string) : '';
      const err = await createCertificateAuthority({
        signer: { certPem: leafPem, keyPem: key.privateKeyPem },
      }).catch((e: unknown) => e);
      expect((err as CaConfigError).message).toMatch(/not a CA certificate/);
    });
  });
});
