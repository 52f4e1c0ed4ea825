// An in-memory CA for tests of other packages. It runs the real CA code (CSR, forge-built
// certificates, native signatures); only authentication is skipped.
import { type CertificateAuthority, createCertificateAuthority } from '../authority.ts';
import { createCsr } from '../csr.ts';
import { parseSpiffeId } from '../identity.ts';
import { generateRsaKeyPair } from '../keys.ts';

export interface TestCaIssueOptions {
  /** Default 24 h; any positive value is accepted (no min/max). */
  readonly ttlSeconds?: number;
  /** Start of validity; default now minus the CA's clock-skew allowance. A past date plus a short TTL gives an expired certificate. */
  readonly notBefore?: Date;
}

export interface TestCertificate {
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** Leaf first, then the intermediate, the root last. */
  readonly certChainPem: string[];
  readonly rootCertPem: string;
}

export interface TestCa {
  readonly trustDomain: string;
  readonly rootCertPem: string;
  /** PEM of every root to trust (here: the one root). */
  readonly trustBundlePem: string;
  /** The CA itself, e.g. to serve it with `addCertificateService`. */
  readonly authority: CertificateAuthority;
  /** Issues a key and certificate chain for `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`; throws on bad input. */
  issue(spiffeId: string, opts?: TestCaIssueOptions): Promise<TestCertificate>;
}

export async function createTestCa(opts: { trustDomain?: string } = {}): Promise<TestCa> {
  const authority = await createCertificateAuthority({
    ...(opts.trustDomain !== undefined ? { trustDomain: opts.trustDomain } : {}),
  });
  return {
    trustDomain: authority.trustDomain,
    rootCertPem: authority.rootCertPem,
    trustBundlePem: authority.trustBundlePem,
    authority,
    async issue(spiffeId, issueOpts = {}) {
      const id = parseSpiffeId(spiffeId);
      if (!id.ok) throw new Error(`createTestCa.issue: ${id.message}`);
      if (id.value.trustDomain !== authority.trustDomain) {
        throw new Error(
          `createTestCa.issue: trust domain ${id.value.trustDomain} is not this CA's (${authority.trustDomain})`,
        );
      }
      const keys = await generateRsaKeyPair(2048);
      const result = await authority.issue({
        csrPem: createCsr(keys, { spiffeId }),
        identity: id.value,
        unboundedTtl: true,
        ...(issueOpts.ttlSeconds !== undefined ? { validitySeconds: issueOpts.ttlSeconds } : {}),
        ...(issueOpts.notBefore !== undefined ? { notBefore: issueOpts.notBefore } : {}),
      });
      if (!result.ok) throw new Error(`createTestCa.issue: ${result.error.message}`);
      return {
        keyPem: keys.privateKeyPem,
        certChainPem: [...result.value.certChainPem],
        rootCertPem: authority.rootCertPem,
      };
    },
  };
}

export { rawCsr, tamperedCsr } from './fixtures.ts';
