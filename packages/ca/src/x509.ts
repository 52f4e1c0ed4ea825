// Certificate construction: node-forge builds the TBSCertificate, the signature comes from
// node:crypto (default, measured faster) or from forge itself (kept for comparison).
import { createHash, type KeyObject, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import { children, derToPem, encodeTlv, readTlv, slice } from './der.ts';
import type { SignatureBackend } from './signing.ts';

const { asn1 } = forge;
// forge functions its type definitions leave out.
const pki = forge.pki as typeof forge.pki & {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};
const C = asn1.Class;
const T = asn1.Type;

/** The key that signs certificates, in both forms the two backends need. */
export interface SigningKey {
  readonly keyObject: KeyObject;
  /** Parsed lazily: only the forge backend needs it. */
  forgeKey?: forge.pki.rsa.PrivateKey;
  readonly privateKeyPem: string;
}

export interface Extension {
  readonly id: string;
  readonly critical: boolean;
  /** DER of the extension value (binary string, forge's representation). */
  readonly value: string;
}

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
} as const;

function der(node: forge.asn1.Asn1): string {
  return asn1.toDer(node).getBytes();
}

export function basicConstraints(ca: boolean, pathLen?: number): Extension {
  const value: forge.asn1.Asn1[] = [];
  if (ca) value.push(asn1.create(C.UNIVERSAL, T.BOOLEAN, false, '\xff'));
  if (ca && pathLen !== undefined) {
    value.push(asn1.create(C.UNIVERSAL, T.INTEGER, false, asn1.integerToDer(pathLen).getBytes()));
  }
  return {
    id: OID.basicConstraints,
    critical: true,
    value: der(asn1.create(C.UNIVERSAL, T.SEQUENCE, true, value)),
  };
}

/** keyUsage for leaves (digitalSignature, keyEncipherment) or CAs (keyCertSign, cRLSign). */
export function keyUsage(kind: 'leaf' | 'ca'): Extension {
  // BIT STRING: first octet is the count of unused bits.
  const bits = kind === 'leaf' ? '\x05\xa0' : '\x01\x06';
  return { id: OID.keyUsage, critical: true, value: der(asn1.create(C.UNIVERSAL, T.BITSTRING, false, bits)) };
}

export function extKeyUsageServerClient(): Extension {
  const oids = [OID.serverAuth, OID.clientAuth].map((o) =>
    asn1.create(C.UNIVERSAL, T.OID, false, asn1.oidToDer(o).getBytes()),
  );
  return {
    id: OID.extKeyUsage,
    critical: false,
    value: der(asn1.create(C.UNIVERSAL, T.SEQUENCE, true, oids)),
  };
}

/** SAN with one URI. Critical because workload certificates have an empty subject (RFC 5280 4.2.1.6). */
/** subjectAltName: the URI (the SPIFFE ID), then any DNS names (`dNSName`, tag 2). */
export function subjectAltNameUri(
  uri: string,
  critical: boolean,
  dnsNames: readonly string[] = [],
): Extension {
  const names = [
    asn1.create(C.CONTEXT_SPECIFIC, 6, false, uri),
    ...dnsNames.map((n) => asn1.create(C.CONTEXT_SPECIFIC, 2, false, n)),
  ];
  return {
    id: OID.subjectAltName,
    critical,
    value: der(asn1.create(C.UNIVERSAL, T.SEQUENCE, true, names)),
  };
}

export function subjectKeyIdentifier(keyId: Buffer): Extension {
  return {
    id: OID.subjectKeyIdentifier,
    critical: false,
    value: der(asn1.create(C.UNIVERSAL, T.OCTETSTRING, false, keyId.toString('binary'))),
  };
}

export function authorityKeyIdentifier(keyId: Buffer): Extension {
  const id = asn1.create(C.CONTEXT_SPECIFIC, 0, false, keyId.toString('binary'));
  return {
    id: OID.authorityKeyIdentifier,
    critical: false,
    value: der(asn1.create(C.UNIVERSAL, T.SEQUENCE, true, [id])),
  };
}

/** RFC 5280 key identifier (method 1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = readTlv(spkiDer, 0);
  const bitString = children(spkiDer, spki)[1];
  if (bitString?.tag !== 0x03) throw new RangeError('SubjectPublicKeyInfo without BIT STRING');
  return createHash('sha1')
    .update(spkiDer.subarray(bitString.contentStart + 1, bitString.end))
    .digest();
}

/** A positive 127-bit random serial number, hex. */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

const PLACEHOLDER_KEY = pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));

export interface TbsParams {
  readonly serialHex: string;
  /** DER of the issuer's subject Name, copied byte for byte; undefined for self-signed. */
  readonly issuerNameDer?: Buffer;
  readonly subject: forge.pki.CertificateField[];
  /** SubjectPublicKeyInfo DER, copied byte for byte. */
  readonly spkiDer: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Extension[];
}

/** Builds the TBSCertificate DER with forge. */
export function buildTbs(params: TbsParams): Buffer {
  const cert = pki.createCertificate();
  cert.serialNumber = params.serialHex;
  cert.siginfo.algorithmOid = OID.sha256WithRSAEncryption;
  // forge encodes a placeholder key; the real SubjectPublicKeyInfo is spliced in below.
  cert.publicKey = PLACEHOLDER_KEY;
  cert.validity.notBefore = params.notBefore;
  cert.validity.notAfter = params.notAfter;
  cert.setSubject(params.subject);
  cert.setIssuer(params.subject);
  // Pre-encoded extensions: forge only needs id, critical and the DER value.
  (cert as unknown as { extensions: Extension[] }).extensions = [...params.extensions];
  const tbs = pki.getTBSCertificate(cert);
  // TBSCertificate: [version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...]
  const fields = tbs.value as forge.asn1.Asn1[];
  if (params.issuerNameDer) {
    // Keep the issuer's Name exactly as encoded in the issuer certificate.
    fields[3] = asn1.fromDer(params.issuerNameDer.toString('binary'));
  }
  fields[6] = asn1.fromDer(params.spkiDer.toString('binary'));
  return Buffer.from(der(tbs), 'binary');
}

// AlgorithmIdentifier sha256WithRSAEncryption, parameters NULL.
const SHA256_RSA_ALG = Buffer.from('300d06092a864886f70d01010b0500', 'hex');

/** Signs a TBSCertificate and returns the certificate DER. */
export function signTbs(tbsDer: Buffer, key: SigningKey, backend: SignatureBackend): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const finish = (signature: Buffer) =>
      resolve(
        encodeTlv(
          0x30,
          Buffer.concat([
            tbsDer,
            SHA256_RSA_ALG,
            encodeTlv(0x03, Buffer.concat([Buffer.from([0]), signature])),
          ]),
        ),
      );
    if (backend === 'native') {
      // The callback form runs in the libuv thread pool: signing overlaps with JS work.
      sign('sha256', tbsDer, key.keyObject, (err, signature) => {
        if (err) reject(err);
        else finish(signature);
      });
      return;
    }
    try {
      key.forgeKey ??= pki.privateKeyFromPem(key.privateKeyPem) as forge.pki.rsa.PrivateKey;
      const md = forge.md.sha256.create();
      md.update(tbsDer.toString('binary'));
      finish(Buffer.from(key.forgeKey.sign(md), 'binary'));
    } catch (err) {
      reject(err);
    }
  });
}

export function certificatePem(certDer: Buffer): string {
  return derToPem(certDer, 'CERTIFICATE');
}

/** The subject Name DER and SubjectPublicKeyInfo DER of a certificate. */
export function certificateParts(certDer: Buffer): { subjectDer: Buffer; spkiDer: Buffer } {
  const cert = readTlv(certDer, 0);
  const tbsTlv = children(certDer, cert)[0];
  if (!tbsTlv) throw new RangeError('certificate without TBSCertificate');
  const fields = children(certDer, tbsTlv);
  // Skip the optional [0] version.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!subject || !spki) throw new RangeError('TBSCertificate too short');
  return { subjectDer: slice(certDer, subject), spkiDer: slice(certDer, spki) };
}
