export {
  type CertManager,
  type CertManagerError,
  type CertManagerEvents,
  type CertManagerOptions,
  createCertManager,
  type WorkloadCertificate,
} from './cert-manager.ts';
export {
  type CaCallError,
  type CaCallResult,
  type CaClient,
  type CaClientOptions,
  type CertificateRequest,
  type CertificateResponse,
  type CertificateSource,
  createCaClient,
} from './client.ts';
