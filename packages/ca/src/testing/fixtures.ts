// CSR variants for bad-input tests (here and in hosts of the CA service).
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { derToPem, encodeTlv, pemBlocks } from '../der.ts';

/** A CSR whose signature no longer matches (one bit flipped in the signature). */
export function tamperedCsr(csrPem: string): string {
  const der = pemBlocks(csrPem, 'CERTIFICATE REQUEST')[0];
  if (!der) throw new Error('tamperedCsr: no CSR');
  const copy = Buffer.from(der);
  copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x01;
  return derToPem(copy, 'CERTIFICATE REQUEST');
}

const SEQ = 0x30;
const OIDS = {
  sha1WithRSA: '06092a864886f70d010105',
  sha256WithRSA: '06092a864886f70d01010b',
  ecdsaWithSha256: '06082a8648ce3d040302',
};

/**
 * Builds a CSR from raw parts with node:crypto only (no forge), for key types and signature
 * algorithms forge cannot produce: `ec` keys, `sha1` signatures, small RSA keys.
 */
export function rawCsr(opts: { key: 'rsa' | 'ec'; bits?: number; hash?: 'sha1' | 'sha256' }): string {
  const pair =
    opts.key === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: opts.bits ?? 2048 });
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const cri = encodeTlv(
    SEQ,
    Buffer.concat([
      Buffer.from('020100', 'hex'),
      encodeTlv(SEQ, Buffer.alloc(0)),
      spki,
      Buffer.from('a000', 'hex'),
    ]),
  );
  const hash = opts.hash ?? 'sha256';
  const algOid =
    opts.key === 'ec' ? OIDS.ecdsaWithSha256 : hash === 'sha1' ? OIDS.sha1WithRSA : OIDS.sha256WithRSA;
  const alg = encodeTlv(SEQ, Buffer.from(opts.key === 'ec' ? algOid : `${algOid}0500`, 'hex'));
  const signature = sign(
    hash,
    cri,
    createPrivateKey(pair.privateKey.export({ type: 'pkcs8', format: 'pem' })),
  );
  const csr = encodeTlv(
    SEQ,
    Buffer.concat([cri, alg, encodeTlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]),
  );
  return derToPem(csr, 'CERTIFICATE REQUEST');
}
