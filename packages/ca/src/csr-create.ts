// Builds PKCS#10 certificate signing requests with the runtime's native crypto and a few fixed
// DER encodings. A workload's cert manager only ever makes this one shape of request (empty
// subject, RSA key, optional SAN URI, sha256WithRSAEncryption), so the client side needs no ASN.1
// library: node-forge stays on the CA side, out of every proxy's memory.
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { derToPem, encodeTlv } from './der.ts';

export interface CreateCsrOptions {
  /** Informational SAN URI; the CA ignores it and uses the authenticated identity. */
  readonly spiffeId?: string;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
const CONTEXT_0 = 0xa0;
const SAN_URI = 0x86; // GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String
// version INTEGER 0, then subject: an empty Name.
const VERSION_0_EMPTY_SUBJECT = Buffer.from('020100' + '3000', 'hex');
// OID 1.2.840.113549.1.9.14 (PKCS#9 extensionRequest).
const EXTENSION_REQUEST = Buffer.from('06092a864886f70d01090e', 'hex');
// OID 2.5.29.17 (subjectAltName).
const SUBJECT_ALT_NAME = Buffer.from('0603551d11', 'hex');
// AlgorithmIdentifier sha256WithRSAEncryption, parameters NULL.
const SHA256_WITH_RSA = Buffer.from('300d06092a864886f70d01010b0500', 'hex');

function sanAttribute(uri: string): Buffer {
  const names = encodeTlv(SEQUENCE, encodeTlv(SAN_URI, Buffer.from(uri, 'latin1')));
  const extension = encodeTlv(SEQUENCE, Buffer.concat([SUBJECT_ALT_NAME, encodeTlv(OCTET_STRING, names)]));
  const extensions = encodeTlv(SEQUENCE, extension);
  return encodeTlv(SEQUENCE, Buffer.concat([EXTENSION_REQUEST, encodeTlv(SET, extensions)]));
}

/** Builds a PEM CSR for an RSA key pair (PKCS#8/SPKI PEM), signed with SHA-256. */
export function createCsr(
  key: { readonly privateKeyPem: string; readonly publicKeyPem: string },
  opts: CreateCsrOptions = {},
): string {
  const spki = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
  const attributes = encodeTlv(CONTEXT_0, opts.spiffeId ? sanAttribute(opts.spiffeId) : Buffer.alloc(0));
  const cri = encodeTlv(SEQUENCE, Buffer.concat([VERSION_0_EMPTY_SUBJECT, spki, attributes]));
  const signature = sign('sha256', cri, createPrivateKey(key.privateKeyPem));
  const bits = encodeTlv(BIT_STRING, Buffer.concat([Buffer.from([0]), signature]));
  return derToPem(encodeTlv(SEQUENCE, Buffer.concat([cri, SHA256_WITH_RSA, bits])), 'CERTIFICATE REQUEST');
}
