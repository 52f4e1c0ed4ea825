export { type Authenticator, bearerToken, chainAuthenticators, MAX_TOKEN_BYTES } from './authenticator.ts';
export {
  type CaServer,
  type CaServerOptions,
  createCaServer,
  DEFAULT_MAX_MESSAGE_BYTES,
} from './server.ts';
export {
  addCertificateService,
  type CertificateRequestHandler,
  type CertificateServiceOptions,
  type CreateCertificateInput,
  createCertificateRequestHandler,
  DEFAULT_TRUSTED_NODE_AGENTS,
  grpcStatus,
  type NodeWorkloadLookup,
} from './service.ts';
export {
  createStaticTokenAuthenticator,
  parseTokenFile,
  type StaticTokenAuthenticator,
  type StaticTokenOptions,
  type TokenFileError,
} from './static-tokens.ts';
