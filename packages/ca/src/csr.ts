// PKCS#10 certificate signing requests: built natively on the client (csr-create.ts, re-exported
// here); parsed and checked (size, structure, RSA key size, proof of possession) on the CA.
import { createPublicKey, verify } from 'node:crypto';
import forge from 'node-forge';
import { children, encodeTlv, isMinimalDer, readTlv, slice, type Tlv } from './der.ts';
import { type CaError, fail, ok, type Result } from './errors.ts';

export { type CreateCsrOptions, createCsr } from './csr-create.ts';

const { asn1, pki } = forge;

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

export interface ParsedCsr {
  /** SubjectPublicKeyInfo DER, re-encoded canonically from the CSR's modulus and exponent. */
  readonly spkiDer: Buffer;
  readonly modulusBits: number;
}

function bad(message: string): { ok: false; error: CaError } {
  return fail('invalid-argument', 'csr-malformed', `csr: ${message}`);
}

const PEM_CSR =
  /^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----\s*$/;

/** INTEGER contents -> unsigned big-endian bytes without leading zeros; undefined if negative or zero. */
/** Undefined also for a non-minimal encoding (a leading 0x00 the sign bit does not need). */
function unsignedInteger(buf: Buffer, tlv: Tlv): Buffer | undefined {
  let bytes = buf.subarray(tlv.contentStart, tlv.end);
  if (bytes.length === 0 || ((bytes[0] as number) & 0x80) !== 0) return undefined;
  if (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] as number) & 0x80) === 0) return undefined;
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  if (bytes.length === 1 && bytes[0] === 0) return undefined;
  return bytes;
}

function derInteger(unsigned: Buffer): Buffer {
  const body =
    ((unsigned[0] as number) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), unsigned]) : unsigned;
  return encodeTlv(0x02, body);
}

// AlgorithmIdentifier rsaEncryption, parameters NULL.
const RSA_ALG = Buffer.from('300d06092a864886f70d0101010500', 'hex');

function oidOf(buf: Buffer, tlv: Tlv | undefined): string {
  if (tlv?.tag !== 0x06) return '';
  try {
    return asn1.derToOid(buf.subarray(tlv.contentStart, tlv.end).toString('binary'));
  } catch {
    return '';
  }
}

/**
 * Parses a PEM CSR and checks it: size cap, one CERTIFICATE REQUEST block, DER structure, an RSA
 * key of 2048..8192 bits, and a valid signature by that key over the exact request bytes (proof
 * of possession). Subject and requested extensions are ignored: the identity comes from the
 * authenticated caller. Parsing reads the DER directly (no big-number arithmetic) because it is
 * on the hot path of every request.
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
  const m = PEM_CSR.exec(pem);
  if (!m) return bad('not a single PEM "CERTIFICATE REQUEST" block');
  const body = Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64');
  if (body.length === 0) return bad('empty PEM body');

  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
  // CertificationRequestInfo ::= SEQUENCE { version INTEGER, subject Name, subjectPKInfo, [0] attributes }
  let criDer: Buffer;
  let keyAlg: string;
  let sigAlg: string;
  let signature: Buffer;
  let n: Buffer | undefined;
  let e: Buffer | undefined;
  try {
    const outer = readTlv(body, 0);
    if (outer.tag !== 0x30 || outer.end !== body.length) return bad('invalid DER: not one SEQUENCE');
    // DER is a distinguished encoding: a request whose bytes are not the one encoding of what
    // they say (long-form short lengths, padded integers, junk in the algorithm parameters) is
    // refused, so the bytes the CA accepts are exactly the bytes that were signed and parsed.
    if (!isMinimalDer(body)) return bad('invalid DER: non-minimal length encoding');
    const [cri, alg, sig, ...extra] = children(body, outer);
    if (cri?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03 || extra.length > 0) {
      return bad('invalid DER: CertificationRequest must be SEQUENCE { info, algorithm, BIT STRING }');
    }
    criDer = slice(body, cri);
    const [version, subject, spki, attrs, ...rest] = children(body, cri);
    if (version?.tag !== 0x02 || subject?.tag !== 0x30 || spki?.tag !== 0x30 || rest.length > 0) {
      return bad('invalid DER: malformed CertificationRequestInfo');
    }
    if (attrs !== undefined && attrs.tag !== 0xa0) return bad('invalid DER: malformed attributes');
    const [keyAlgId, keyBits] = children(body, spki);
    if (keyAlgId?.tag !== 0x30 || keyBits?.tag !== 0x03)
      return bad('invalid DER: malformed SubjectPublicKeyInfo');
    keyAlg = oidOf(body, children(body, keyAlgId)[0]);
    if (keyAlg === RSA_ENCRYPTION) {
      if (body[keyBits.contentStart] !== 0) return bad('invalid DER: public key BIT STRING has unused bits');
      if (!isMinimalDer(body.subarray(keyBits.contentStart + 1, keyBits.end)))
        return bad('invalid DER: non-minimal RSAPublicKey');
      const rsaKey = readTlv(body, keyBits.contentStart + 1, keyBits.end);
      const [modulus, exponent, ...more] = rsaKey.tag === 0x30 ? children(body, rsaKey) : [];
      if (modulus?.tag !== 0x02 || exponent?.tag !== 0x02 || more.length > 0 || rsaKey.end !== keyBits.end) {
        return bad('invalid DER: malformed RSAPublicKey');
      }
      n = unsignedInteger(body, modulus);
      e = unsignedInteger(body, exponent);
    }
    const [sigAlgId, sigParams, ...sigMore] = children(body, alg);
    sigAlg = oidOf(body, sigAlgId);
    // RSA signature algorithms take NULL parameters (RFC 4055 also allows them absent), nothing else.
    if (
      sigMore.length > 0 ||
      (sigParams !== undefined && (sigParams.tag !== 0x05 || sigParams.end !== sigParams.contentStart))
    )
      return bad('invalid DER: signature algorithm parameters must be NULL or absent');
    if (sig.end - sig.contentStart < 2 || body[sig.contentStart] !== 0)
      return bad('invalid DER: malformed signature');
    signature = body.subarray(sig.contentStart + 1, sig.end);
  } catch (err) {
    return bad(`invalid DER (${(err as Error).message})`);
  }

  if (keyAlg !== RSA_ENCRYPTION) {
    const name = (pki.oids[keyAlg] as string | undefined) ?? (keyAlg || 'unknown');
    return fail(
      'invalid-argument',
      'csr-key',
      `csr: public key algorithm ${name} is not supported (RSA only)`,
    );
  }
  if (!n || !e) return bad('RSA modulus or exponent is not a positive integer');
  const modulusBits = (n.length - 1) * 8 + (32 - Math.clz32(n[0] as number));
  if (modulusBits < MIN_RSA_BITS || modulusBits > MAX_RSA_BITS) {
    return fail(
      'invalid-argument',
      'csr-key',
      `csr: RSA key of ${modulusBits} bits is outside ${MIN_RSA_BITS}..${MAX_RSA_BITS}`,
    );
  }
  const hash = SIGNATURE_HASHES[sigAlg];
  if (!hash) {
    const name = (pki.oids[sigAlg] as string | undefined) ?? (sigAlg || 'unknown');
    return fail(
      'invalid-argument',
      'csr-signature',
      `csr: signature algorithm ${name} is not accepted (RSA with SHA-2 only)`,
    );
  }
  let valid = false;
  try {
    // A JWK key import is ~20x cheaper than decoding SPKI DER with OpenSSL 3.
    const key = createPublicKey({
      key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') },
      format: 'jwk',
    });
    valid = verify(hash, criDer, key, signature);
  } catch {
    valid = false;
  }
  if (!valid) {
    return fail('invalid-argument', 'csr-signature', 'csr: signature does not verify with its public key');
  }
  const rsaPublicKey = encodeTlv(0x30, Buffer.concat([derInteger(n), derInteger(e)]));
  const spkiDer = encodeTlv(
    0x30,
    Buffer.concat([RSA_ALG, encodeTlv(0x03, Buffer.concat([Buffer.from([0]), rsaPublicKey]))]),
  );
  return ok({ spkiDer, modulusBits });
}
