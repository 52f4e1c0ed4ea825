// PKCS#10 certificate signing requests: built with forge and signed natively on the client;
// parsed and checked (size, structure, RSA key size, proof of possession) on the CA.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import forge from 'node-forge';
import { children, readTlv, slice } from './der.ts';
import { type CaError, fail, ok, type Result } from './errors.ts';

const { asn1 } = forge;
// forge functions its type definitions leave out.
const pki = forge.pki as typeof forge.pki & {
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
};
type FromDerOptions = { strict: boolean };

/** CSRs larger than this (PEM characters) are rejected before parsing. */
export const DEFAULT_MAX_CSR_BYTES = 16 * 1024;
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

export interface CreateCsrOptions {
  /** Informational SAN URI; the CA ignores it and uses the authenticated identity. */
  readonly spiffeId?: string;
}

/** Builds a PEM CSR for an RSA key pair (PKCS#8/SPKI PEM). */
export function createCsr(
  key: { readonly privateKeyPem: string; readonly publicKeyPem: string },
  opts: CreateCsrOptions = {},
): string {
  const csr = pki.createCertificationRequest();
  csr.publicKey = pki.publicKeyFromPem(key.publicKeyPem);
  csr.setSubject([]);
  if (opts.spiffeId) {
    csr.setAttributes([
      {
        name: 'extensionRequest',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: opts.spiffeId }] }],
      },
    ]);
  }
  csr.signatureOid = csr.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption as string;
  const cri = pki.getCertificationRequestInfo(csr);
  csr.certificationRequestInfo = cri;
  const criDer = Buffer.from(asn1.toDer(cri).getBytes(), 'binary');
  const signature = sign('sha256', criDer, privateKeyObject(key.privateKeyPem));
  csr.signature = signature.toString('binary');
  return pki.certificationRequestToPem(csr);
}

function privateKeyObject(pem: string): KeyObject {
  return createPrivateKey(pem);
}

export interface ParsedCsr {
  readonly publicKey: forge.pki.rsa.PublicKey;
  /** SubjectPublicKeyInfo DER exactly as in the CSR. */
  readonly spkiDer: Buffer;
  readonly modulusBits: number;
}

function bad(message: string): { ok: false; error: CaError } {
  return fail('invalid-argument', 'csr-malformed', `csr: ${message}`);
}

/**
 * Parses a PEM CSR and checks it: size cap, one CERTIFICATE REQUEST block, strict DER, an RSA key
 * of 2048..8192 bits, and a valid signature by that key (proof of possession). Subject and
 * requested extensions are ignored: the identity comes from the authenticated caller.
 */
export function parseCsr(pem: string, maxBytes = DEFAULT_MAX_CSR_BYTES): Result<ParsedCsr> {
  if (typeof pem !== 'string' || pem.length === 0) return bad('empty');
  if (pem.length > maxBytes) {
    return fail(
      'invalid-argument',
      'csr-too-large',
      `csr: ${pem.length} bytes exceeds the ${maxBytes}-byte limit`,
    );
  }
  const m =
    /^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----\s*$/.exec(
      pem,
    );
  if (!m) return bad('not a single PEM "CERTIFICATE REQUEST" block');
  const body = Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64');
  if (body.length === 0) return bad('empty PEM body');

  // Exact byte ranges: CertificationRequest ::= SEQ { CertificationRequestInfo, AlgorithmIdentifier, BIT STRING }
  let criDer: Buffer;
  let spkiDer: Buffer;
  try {
    const outer = readTlv(body, 0);
    if (outer.tag !== 0x30 || outer.end !== body.length) return bad('not a DER SEQUENCE (or trailing bytes)');
    const parts = children(body, outer);
    const cri = parts[0];
    if (parts.length !== 3 || !cri || cri.tag !== 0x30) return bad('CertificationRequest must have 3 parts');
    criDer = slice(body, cri);
    const criParts = children(body, cri);
    const spki = criParts[2];
    if (spki?.tag !== 0x30) return bad('missing SubjectPublicKeyInfo');
    spkiDer = slice(body, spki);
  } catch (err) {
    return bad(`invalid DER (${(err as Error).message})`);
  }

  // Structure and values through forge (strict DER).
  let parsed: forge.asn1.Asn1;
  try {
    parsed = (asn1.fromDer as unknown as (der: string, opts: FromDerOptions) => forge.asn1.Asn1)(
      body.toString('binary'),
      { strict: true },
    );
  } catch (err) {
    return bad(`invalid DER (${(err as Error).message})`);
  }
  const spkiNode = ((parsed.value as forge.asn1.Asn1[])[0]?.value as forge.asn1.Asn1[] | undefined)?.[2];
  const algOidNode = (
    (spkiNode?.value as forge.asn1.Asn1[] | undefined)?.[0]?.value as forge.asn1.Asn1[] | undefined
  )?.[0];
  const keyAlg = typeof algOidNode?.value === 'string' ? asn1.derToOid(algOidNode.value) : '';
  if (keyAlg !== RSA_ENCRYPTION) {
    return fail(
      'invalid-argument',
      'csr-key',
      `csr: public key algorithm ${pki.oids[keyAlg] ?? (keyAlg || 'unknown')} is not supported (RSA only)`,
    );
  }
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromAsn1(parsed, false);
  } catch (err) {
    return bad(`not a PKCS#10 request (${(err as Error).message})`);
  }
  const hash = SIGNATURE_HASHES[csr.signatureOid ?? ''];
  if (!hash) {
    const name = pki.oids[csr.signatureOid ?? ''] ?? csr.signatureOid ?? 'unknown';
    return fail(
      'invalid-argument',
      'csr-signature',
      `csr: signature algorithm ${name} is not accepted (RSA with SHA-2 only)`,
    );
  }
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) return bad('missing public key');
  const modulusBits = publicKey.n.bitLength();
  if (modulusBits < MIN_RSA_BITS || modulusBits > MAX_RSA_BITS) {
    return fail(
      'invalid-argument',
      'csr-key',
      `csr: RSA key of ${modulusBits} bits is outside ${MIN_RSA_BITS}..${MAX_RSA_BITS}`,
    );
  }
  let valid = false;
  try {
    const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    valid = verify(hash, criDer, key, Buffer.from(csr.signature as string, 'binary'));
  } catch {
    valid = false;
  }
  if (!valid) {
    return fail('invalid-argument', 'csr-signature', 'csr: signature does not verify with its public key');
  }
  return ok({ publicKey, spkiDer, modulusBits });
}
