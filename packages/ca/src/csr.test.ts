import { createPublicKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCsr, parseCsr } from './csr.ts';
import { derToPem, pemBlocks } from './der.ts';
import { generateRsaKeyPair, type KeyPairPem } from './keys.ts';
import { rawCsr, tamperedCsr } from './testing/fixtures.ts';

describe('parseCsr', () => {
  let key: KeyPairPem;
  let csr: string;
  let der: Buffer;
  beforeAll(async () => {
    key = await generateRsaKeyPair();
    csr = createCsr(key, { spiffeId: 'spiffe://cluster.local/ns/a/sa/b' });
    der = pemBlocks(csr, 'CERTIFICATE REQUEST')[0] as Buffer;
  });

  it('returns the canonical SubjectPublicKeyInfo of the requester', () => {
    const r = parseCsr(csr);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.modulusBits).toBe(2048);
    expect(
      r.value.spkiDer.equals(createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' })),
    ).toBe(true);
  });

  it('accepts CSRs from other tools (no extension request, NEW label, CRLF)', () => {
    const plain = rawCsr({ key: 'rsa' });
    expect(parseCsr(plain).ok).toBe(true);
    expect(parseCsr(plain.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST')).ok).toBe(true);
    expect(parseCsr(plain.replace(/\n/g, '\r\n')).ok).toBe(true);
  });

  const cases: [string, () => string, string, RegExp][] = [
    ['empty', () => '', 'csr-malformed', /empty/],
    ['not PEM', () => 'hello', 'csr-malformed', /PEM/],
    [
      'a certificate instead',
      () => csr.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'),
      'csr-malformed',
      /PEM/,
    ],
    ['two CSRs', () => csr + csr, 'csr-malformed', /single PEM/],
    [
      'truncated DER',
      () => derToPem(der.subarray(0, der.length - 10), 'CERTIFICATE REQUEST'),
      'csr-malformed',
      /DER/,
    ],
    [
      'trailing bytes',
      () => derToPem(Buffer.concat([der, Buffer.from([0, 0])]), 'CERTIFICATE REQUEST'),
      'csr-malformed',
      /DER/,
    ],
    [
      'a lone INTEGER',
      () => derToPem(Buffer.from('020101', 'hex'), 'CERTIFICATE REQUEST'),
      'csr-malformed',
      /DER/,
    ],
    [
      'huge length',
      () => derToPem(Buffer.from('3084ffffffff00', 'hex'), 'CERTIFICATE REQUEST'),
      'csr-malformed',
      /DER/,
    ],
    ['tampered signature', () => tamperedCsr(csr), 'csr-signature', /does not verify/],
    ['ECDSA', () => rawCsr({ key: 'ec' }), 'csr-key', /ecdsa|1\.2\.840\.10045\.2\.1|RSA only/],
    ['RSA 1024', () => rawCsr({ key: 'rsa', bits: 1024 }), 'csr-key', /1024 bits/],
    ['SHA-1', () => rawCsr({ key: 'rsa', hash: 'sha1' }), 'csr-signature', /sha1WithRSAEncryption/],
    ['over the size cap', () => csr + ' '.repeat(16 * 1024), 'csr-too-large', /limit/],
  ];
  it.each(cases)('rejects %s', (_name, make, reason, message) => {
    const r = parseCsr(make());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('invalid-argument');
    expect(r.error.reason).toBe(reason);
    expect(r.error.message).toMatch(message);
    expect(r.error.message).toMatch(/^csr: /);
  });

  it('survives random corruption without throwing', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 300; i++) {
      const copy = Buffer.from(der);
      for (let j = 0; j < 1 + (i % 4); j++) copy[rand() % copy.length] = rand() & 0xff;
      const r = parseCsr(derToPem(copy, 'CERTIFICATE REQUEST'));
      if (!r.ok) expect(r.error.code).toBe('invalid-argument');
    }
  });
});
