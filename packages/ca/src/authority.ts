// The certificate authority core: holds the signing key and chain, signs workload certificates
// from checked CSRs. It does not authenticate: callers pass an identity they have established.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { type Clock, systemClock } from '@weft/telemetry';
import forge from 'node-forge';
import { DEFAULT_MAX_CSR_BYTES, parseCsr } from './csr.ts';
import { splitPemCertificates } from './der.ts';
import { CaConfigError, fail, ok, type Result } from './errors.ts';
import {
  clip,
  DEFAULT_TRUST_DOMAIN,
  formatSpiffeId,
  isValidName,
  isValidTrustDomain,
  type WorkloadIdentity,
} from './identity.ts';
import { generateRsaKeyPair } from './keys.ts';
import { CaMetrics } from './metrics.ts';
import type { SignatureBackend } from './signing.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  buildTbs,
  certificateParts,
  certificatePem,
  type Extension,
  extKeyUsageServerClient,
  keyIdentifier,
  keyUsage,
  randomSerialHex,
  type SigningKey,
  signTbs,
  subjectAltNameUri,
  subjectKeyIdentifier,
} from './x509.ts';

const DAY = 86_400;

/** A CA certificate and key (PEM). `chainPem` holds the certificates above `certPem`, root last. */
export interface SignerPem {
  readonly certPem: string;
  readonly keyPem: string;
  readonly chainPem?: string;
}

export interface CertificateAuthorityOptions {
  /** Default `cluster.local`. */
  readonly trustDomain?: string;
  /**
   * The CA's own key and certificate. A self-signed (root) certificate gets an in-memory
   * intermediate minted on start; an intermediate needs `chainPem` up to its root. Absent: a
   * new root (RSA 2048, 10 years) is generated in memory.
   */
  readonly signer?: SignerPem;
  /** More roots to publish in the trust bundle (root rotation). */
  readonly extraTrustBundlePem?: string;
  /** TTL when the request asks for 0. Default 24 h. */
  readonly defaultTtlSeconds?: number;
  /** Largest TTL a request may ask for. Default 24 h. */
  readonly maxTtlSeconds?: number;
  /** Smallest TTL a request may ask for. Default 60 s. */
  readonly minTtlSeconds?: number;
  /** notBefore is set this far in the past, for clock skew between peers. Default 300 s. */
  readonly clockSkewSeconds?: number;
  /** Default 16 KiB. */
  readonly maxCsrBytes?: number;
  readonly clock?: Clock;
  /** How TBSCertificates are signed; `native` (node:crypto) is the default and the faster. */
  readonly signatureBackend?: SignatureBackend;
  readonly metrics?: CaMetrics;
}

export interface IssueRequest {
  readonly csrPem: string;
  readonly identity: WorkloadIdentity;
  /** 0 or absent: the default TTL. */
  readonly validitySeconds?: number;
  /** Overrides the start of validity (tools and tests); the gRPC service never sets it. */
  readonly notBefore?: Date;
  /** Skips the min/max TTL check (tests that need expired or long-lived certificates). */
  readonly unboundedTtl?: boolean;
  /**
   * DNS names added beside the SPIFFE ID, for servers that clients outside the mesh verify by
   * name (weftd's injection webhook, called by the Kubernetes API server). In-process callers
   * only: the CertificateService never sets it, so no workload can ask for a name.
   */
  readonly dnsNames?: readonly string[];
}

// RFC 1123 host names, lower case, as Kubernetes service names are.
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export interface IssuedCertificate {
  readonly spiffeId: string;
  /** Leaf first, then intermediates, the root last. */
  readonly certChainPem: readonly string[];
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface CertificateAuthority {
  readonly trustDomain: string;
  /** The root this CA chains to. */
  readonly rootCertPem: string;
  /** Roots to trust (this CA's root first), one PEM each. */
  readonly trustBundle: readonly string[];
  /** `trustBundle` concatenated. */
  readonly trustBundlePem: string;
  /** The signing certificate and the ones above it, root last. */
  readonly caChainPem: readonly string[];
  readonly metrics: CaMetrics;
  issue(req: IssueRequest): Promise<Result<IssuedCertificate>>;
}

export interface RootCaOptions {
  readonly trustDomain?: string;
  readonly validityDays?: number;
  readonly clock?: Clock;
}

/** Generates a self-signed root (RSA 2048, 10 years by default), e.g. to persist for local mode. */
export async function generateRootCa(opts: RootCaOptions = {}): Promise<SignerPem> {
  const td = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const now = (opts.clock ?? systemClock).now();
  const keys = await generateRsaKeyPair(2048);
  const key = signingKey(keys.privateKeyPem);
  const spki = spkiOf(keys.publicKeyPem);
  const tbs = buildTbs({
    serialHex: randomSerialHex(),
    subject: [
      { shortName: 'O', value: td },
      { shortName: 'CN', value: 'Weft Root CA' },
    ],
    spkiDer: spki,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + (opts.validityDays ?? 3650) * DAY * 1000),
    extensions: [basicConstraints(true), keyUsage('ca'), subjectKeyIdentifier(keyIdentifier(spki))],
  });
  const der = await signTbs(tbs, key, 'native');
  return { certPem: certificatePem(der), keyPem: keys.privateKeyPem };
}

function spkiOf(publicKeyPem: string): Buffer {
  return createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
}

function signingKey(pem: string): SigningKey {
  return { keyObject: createPrivateKey(pem), privateKeyPem: pem };
}

function parseCert(pem: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new CaConfigError(field, `not a PEM certificate (${(err as Error).message})`);
  }
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** The subjectKeyIdentifier a certificate carries, else the RFC 5280 method-1 value. */
function skiOf(certPem: string): Buffer {
  const der = new X509Certificate(certPem).raw;
  const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(der.toString('binary')), false);
  const ext = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  if (ext?.subjectKeyIdentifier) return Buffer.from(ext.subjectKeyIdentifier, 'hex');
  return keyIdentifier(certificateParts(der).spkiDer);
}

interface LoadedSigner {
  readonly key: SigningKey;
  readonly certPem: string;
  /** Signing cert first, root last. */
  readonly chain: string[];
}

/**
 * Issues an intermediate CA (RSA 2048) from a root, valid until the root expires; the result has
 * `chainPem` set to the root, ready to be a `signer`.
 */
export async function generateIntermediateCa(
  root: SignerPem,
  opts: { trustDomain?: string; clock?: Clock } = {},
): Promise<SignerPem> {
  const minted = await mintIntermediate(
    root,
    opts.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    (opts.clock ?? systemClock).now(),
  );
  return {
    certPem: minted.certPem,
    keyPem: minted.key.privateKeyPem,
    chainPem: minted.chain.slice(1).join(''),
  };
}

async function mintIntermediate(root: SignerPem, td: string, now: number): Promise<LoadedSigner> {
  const rootCert = parseCert(root.certPem, 'signer.certPem');
  const keys = await generateRsaKeyPair(2048);
  const spki = spkiOf(keys.publicKeyPem);
  const tbs = buildTbs({
    serialHex: randomSerialHex(),
    issuerNameDer: certificateParts(rootCert.raw).subjectDer,
    subject: [
      { shortName: 'O', value: td },
      { shortName: 'CN', value: 'Weft Intermediate CA' },
    ],
    spkiDer: spki,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(Date.parse(rootCert.validTo)),
    extensions: [
      basicConstraints(true, 0),
      keyUsage('ca'),
      subjectKeyIdentifier(keyIdentifier(spki)),
      authorityKeyIdentifier(skiOf(root.certPem)),
    ],
  });
  const der = await signTbs(tbs, signingKey(root.keyPem), 'native');
  const certPem = certificatePem(der);
  return {
    key: signingKey(keys.privateKeyPem),
    certPem,
    chain: [certPem, ...splitPemCertificates(root.certPem)],
  };
}

async function loadSigner(signer: SignerPem, td: string, now: number): Promise<LoadedSigner> {
  const certs = splitPemCertificates(signer.certPem);
  const first = certs[0];
  if (!first) throw new CaConfigError('signer.certPem', 'no CERTIFICATE block');
  const cert = parseCert(first, 'signer.certPem');
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(signer.keyPem);
  } catch (err) {
    throw new CaConfigError('signer.keyPem', `not a PEM private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CaConfigError('signer.keyPem', `key type ${key.asymmetricKeyType} is not supported (RSA only)`);
  }
  if (!cert.checkPrivateKey(key)) throw new CaConfigError('signer.keyPem', 'does not match signer.certPem');
  if (!cert.ca) throw new CaConfigError('signer.certPem', 'is not a CA certificate (basicConstraints cA)');
  if (Date.parse(cert.validTo) <= now)
    throw new CaConfigError('signer.certPem', `expired on ${cert.validTo}`);
  if (isSelfSigned(cert)) return mintIntermediate({ certPem: first, keyPem: signer.keyPem }, td, now);

  const chain = [first, ...certs.slice(1), ...splitPemCertificates(signer.chainPem ?? '')];
  const parsed = chain.map((pem, i) => parseCert(pem, i === 0 ? 'signer.certPem' : 'signer.chainPem'));
  for (let i = 0; i + 1 < parsed.length; i++) {
    const child = parsed[i] as X509Certificate;
    const parent = parsed[i + 1] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new CaConfigError(
        'signer.chainPem',
        `certificate ${i} (${child.subject}) is not signed by the next one`,
      );
    }
  }
  const last = parsed[parsed.length - 1] as X509Certificate;
  if (!isSelfSigned(last)) throw new CaConfigError('signer.chainPem', 'must end with the self-signed root');
  return { key: { keyObject: key, privateKeyPem: signer.keyPem }, certPem: first, chain };
}

export async function createCertificateAuthority(
  opts: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!isValidTrustDomain(trustDomain))
    throw new CaConfigError('trustDomain', `"${trustDomain}" is not valid`);
  const clock = opts.clock ?? systemClock;
  const defaultTtl = opts.defaultTtlSeconds ?? DAY;
  const maxTtl = opts.maxTtlSeconds ?? DAY;
  const minTtl = opts.minTtlSeconds ?? 60;
  if (!(minTtl > 0 && minTtl <= defaultTtl && defaultTtl <= maxTtl)) {
    throw new CaConfigError(
      'defaultTtlSeconds',
      `need 0 < min (${minTtl}) <= default (${defaultTtl}) <= max (${maxTtl})`,
    );
  }
  const skewMs = (opts.clockSkewSeconds ?? 300) * 1000;
  const maxCsrBytes = opts.maxCsrBytes ?? DEFAULT_MAX_CSR_BYTES;
  const backend = opts.signatureBackend ?? 'native';
  const metrics = opts.metrics ?? new CaMetrics();

  const signerPem = opts.signer ?? (await generateRootCa({ trustDomain, clock }));
  const signer = await loadSigner(signerPem, trustDomain, clock.now());
  const signerCert = new X509Certificate(signer.certPem);
  const signerNotAfter = Date.parse(signerCert.validTo);
  const issuerNameDer = certificateParts(signerCert.raw).subjectDer;
  const rootCertPem = signer.chain[signer.chain.length - 1] as string;
  const trustBundle = [rootCertPem, ...splitPemCertificates(opts.extraTrustBundlePem ?? '')];
  // Extensions every leaf carries, encoded once.
  const fixedExtensions: Extension[] = [
    basicConstraints(false),
    keyUsage('leaf'),
    extKeyUsageServerClient(),
    authorityKeyIdentifier(skiOf(signer.certPem)),
  ];

  async function issue(req: IssueRequest): Promise<Result<IssuedCertificate>> {
    const result = await issueUncounted(req);
    if (result.ok) metrics.recordIssued();
    else metrics.recordRejected(result.error.reason);
    return result;
  }

  async function issueUncounted(req: IssueRequest): Promise<Result<IssuedCertificate>> {
    const requested = req.validitySeconds ?? 0;
    const ttl = requested === 0 ? defaultTtl : requested;
    if (!Number.isInteger(ttl) || (!req.unboundedTtl && (ttl < minTtl || ttl > maxTtl)) || ttl <= 0) {
      return fail(
        'invalid-argument',
        'validity-out-of-range',
        `validity_seconds: ${requested} is outside ${minTtl}..${maxTtl} (0 means the default ${defaultTtl})`,
      );
    }
    const { namespace, serviceAccount } = req.identity;
    if (!isValidName(namespace) || !isValidName(serviceAccount)) {
      return fail(
        'invalid-argument',
        'identity-invalid',
        `identity: namespace "${clip(namespace)}" / service account "${clip(serviceAccount)}" is not a valid name`,
      );
    }
    const badName = (req.dnsNames ?? []).find((n) => !DNS_NAME.test(n));
    if (badName !== undefined) {
      return fail('invalid-argument', 'identity-invalid', `dnsNames: "${clip(badName)}" is not a DNS name`);
    }
    const csr = parseCsr(req.csrPem, maxCsrBytes);
    if (!csr.ok) return csr;
    const spiffeId = formatSpiffeId(trustDomain, req.identity);
    const now = clock.now();
    const start = req.notBefore ? req.notBefore.getTime() : now;
    const notBefore = new Date(req.notBefore ? start : start - skewMs);
    const notAfter = new Date(Math.min(start + ttl * 1000, signerNotAfter));
    const serialHex = randomSerialHex();
    try {
      const tbs = buildTbs({
        serialHex,
        issuerNameDer,
        subject: [],
        spkiDer: csr.value.spkiDer,
        notBefore,
        notAfter,
        extensions: [
          ...fixedExtensions,
          subjectKeyIdentifier(keyIdentifier(csr.value.spkiDer)),
          subjectAltNameUri(spiffeId, true, req.dnsNames),
        ],
      });
      const der = await signTbs(tbs, signer.key, backend);
      return ok({
        spiffeId,
        certChainPem: [certificatePem(der), ...signer.chain],
        serialHex,
        notBefore,
        notAfter,
      });
    } catch (err) {
      return fail('internal', 'internal', `signing failed: ${(err as Error).message}`);
    }
  }

  return {
    trustDomain,
    rootCertPem,
    trustBundle,
    trustBundlePem: trustBundle.join(''),
    caChainPem: signer.chain,
    metrics,
    issue,
  };
}
