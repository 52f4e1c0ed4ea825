export {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  createCertificateAuthority,
  generateIntermediateCa,
  generateRootCa,
  type IssuedCertificate,
  type IssueRequest,
  type RootCaOptions,
  type SignerPem,
} from './authority.ts';
export { type CreateCsrOptions, createCsr, DEFAULT_MAX_CSR_BYTES, type ParsedCsr, parseCsr } from './csr.ts';
export { splitPemCertificates } from './der.ts';
export {
  CaConfigError,
  type CaError,
  type CaErrorCode,
  REJECT_REASONS,
  type RejectReason,
  type Result,
} from './errors.ts';
export {
  type CallerIdentity,
  DEFAULT_TRUST_DOMAIN,
  formatSpiffeId,
  type ParsedSpiffeId,
  parseSpiffeId,
  type WorkloadIdentity,
} from './identity.ts';
export { generateRsaKeyPair, type KeyPairPem } from './keys.ts';
export { CaMetrics, type CaMetricsSnapshot } from './metrics.ts';
export type { SignatureBackend } from './signing.ts';
