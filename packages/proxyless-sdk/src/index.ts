// @weft/proxyless-sdk: proxyless gRPC for Weft (see README.md). In `process` bootstrap mode, set up
// the client or server before anything else loads @grpc/grpc-js-xds.

export {
  buildAuthzRequest,
  DENIED_MESSAGE,
  decideInbound,
  type InboundCallDecision,
  type InboundCallFacts,
} from './authz/decide.ts';
export {
  type AuthorizationInterceptorOptions,
  authorizationInterceptor,
  callFacts,
  metadataHeaders,
  peerIdentity,
} from './authz/interceptor.ts';
export { mutablePolicies, type PolicySource, staticPolicies } from './authz/policy-source.ts';
export { podPolicies, type XdsPolicySource, xdsPolicySource } from './authz/xds-policy-source.ts';
export {
  buildBootstrap,
  CERT_PROVIDER_INSTANCE,
  proxylessNodeId,
  SERVER_LISTENER_TEMPLATE,
} from './bootstrap/bootstrap.ts';
export { type CertFilePaths, type CertMaterial, certFilePaths, writeCertFiles } from './certs/cert-files.ts';
export type { Logger } from './logger.ts';
export {
  type AuthorizationStats,
  type CertificateStats,
  createProxylessClient,
  createProxylessServer,
  type ProxylessClient,
  type ProxylessDeps,
  type ProxylessFiles,
  type ProxylessOptions,
  type ProxylessServer,
  type ProxylessServerOptions,
  type ProxylessStats,
} from './proxyless.ts';
export { startXdsRelay, type XdsRelay, type XdsRelayOptions, type XdsRelayStats } from './relay/relay.ts';
export { SDK_VERSION } from './version.ts';
