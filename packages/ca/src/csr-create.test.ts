import { createPrivateKey } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsr } from './csr.ts';
import { createCsr } from './csr-create.ts';
import { pemBlocks } from './der.ts';
import { generateRsaKeyPair, type KeyPairPem } from './keys.ts';

// The request node-forge builds for the same key and SAN (how CSRs were made before the client
// dropped forge). RSA PKCS#1 v1.5 signatures are deterministic, so both must agree byte for byte.
function forgeCsrDer(key: KeyPairPem, spiffeId?: string): Buffer {
  const pki = forge.pki as typeof forge.pki & {
    getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
  };
  const csr = pki.createCertificationRequest();
  csr.publicKey = pki.publicKeyFromPem(key.publicKeyPem);
  csr.setSubject([]);
  if (spiffeId) {
    csr.setAttributes([
      {
        name: 'extensionRequest',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: spiffeId }] }],
      },
    ]);
  }
  csr.signatureOid = csr.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption as string;
  const cri = pki.getCertificationRequestInfo(csr);
  csr.certificationRequestInfo = cri;
  const criDer = Buffer.from(forge.asn1.toDer(cri).getBytes(), 'binary');
  const pkcs1 = createPrivateKey(key.privateKeyPem).export({ type: 'pkcs1', format: 'pem' });
  const forgeKey = pki.privateKeyFromPem(pkcs1.toString());
  const md = forge.md.sha256.create();
  md.update(criDer.toString('binary'));
  csr.signature = forgeKey.sign(md);
  return pemBlocks(pki.certificationRequestToPem(csr), 'CERTIFICATE REQUEST')[0] as Buffer;
}

describe('createCsr', () => {
  let key: KeyPairPem;
  beforeAll(async () => {
    key = await generateRsaKeyPair();
  });

  const sans: ReadonlyArray<[string, string | undefined]> = [
    ['no SAN', undefined],
    ['a short SAN URI', 'spiffe://cluster.local/ns/a/sa/b'],
    [
      'a SAN URI longer than 127 bytes (long-form DER lengths)',
      `spiffe://cluster.local/ns/${'n'.repeat(63)}/sa/${'s'.repeat(200)}`,
    ],
  ];
  for (const [name, spiffeId] of sans) {
    it(`encodes the same request as node-forge: ${name}`, () => {
      const pem = createCsr(key, spiffeId ? { spiffeId } : {});
      const der = pemBlocks(pem, 'CERTIFICATE REQUEST')[0] as Buffer;
      expect(der.toString('hex')).toBe(forgeCsrDer(key, spiffeId).toString('hex'));
    });
  }

  it('passes the CA checks (structure, key size, proof of possession)', () => {
    const r = parseCsr(createCsr(key, { spiffeId: 'spiffe://cluster.local/ns/a/sa/b' }));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.modulusBits).toBe(2048);
  });

  it('is signed by the key it carries: a request signed by another key fails the CA check', async () => {
    const other = await generateRsaKeyPair();
    const pem = createCsr({ privateKeyPem: other.privateKeyPem, publicKeyPem: key.publicKeyPem });
    const r = parseCsr(pem);
    expect(r.ok).toBe(false);
  });
});
