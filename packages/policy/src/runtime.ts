// @weft/policy/runtime: what a data plane needs to act on resources that are already compiled and
// validated: the pure evaluators, the SPIFFE/IP/path parsers, hashes, constants and the snapshot
// types. It loads neither zod nor yaml (schemas, compile and manifest parsing stay in the package
// root), which keeps a proxy's resident set smaller; the root re-exports everything here.

export {
  type AuthorizeOptions,
  authorize,
  type EnforcementMode,
  isL7ConditionKey,
  ruleNeedsL7,
} from './authz/authorize.ts';
export { type PolicyTarget, policiesFor } from './authz/select.ts';
export type * from './authz/types.ts';
export type { CompileResult, CompileStats } from './compile/compile.ts';
export {
  type CompileOptions,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_ROOT_NAMESPACE,
  DEFAULT_TRUST_DOMAIN,
  LABEL_DATAPLANE_MODE,
  LABEL_GATEWAY_NAME,
  LABEL_USE_WAYPOINT,
  LABEL_USE_WAYPOINT_NAMESPACE,
  LABEL_WAYPOINT_FOR,
} from './compile/context.ts';
export { inferAppProtocol } from './compile/protocol.ts';
export { DEFAULT_RETRY_POLICY } from './compile/routes.ts';
export { durationMs, parseDuration } from './duration.ts';
export {
  formatValidationError,
  type ValidationError,
  type ValidationErrorCode,
  type ValidationIssue,
} from './errors.ts';
export { canonicalJson, contentHash, fnv1a64 } from './hash.ts';
export {
  isValidTrustDomain,
  parseSpiffeId,
  parseSpiffeUri,
  parseWorkloadId,
  SPIFFE_ID_MAX_LENGTH,
  type SpiffeId,
  type SpiffeParseResult,
  type SpiffeUri,
  spiffeId,
} from './identity.ts';
export { selectorMatches } from './labels.ts';
export type {
  ManifestError,
  ManifestMeta,
  ManifestObject,
  ParsedManifest,
  ParseManifestOptions,
} from './manifests/parse.ts';
export {
  bytesToIp,
  cidrContains,
  formatIp,
  type IpBytes,
  ipToBytes,
  isIp,
  normalizeIp,
  parseCidr,
  parseIp,
} from './net/ip.ts';
export {
  type NormalizedHost,
  type NormalizedPath,
  type NormalizePathFailure,
  type NormalizePathOptions,
  normalizeHost,
  normalizePath,
} from './path/normalize.ts';
export {
  applicablePeerAuthentication,
  DEFAULT_MTLS_MODE,
  type PeerAuthenticationSet,
  type PeerAuthenticationSubject,
  resolvePeerAuthentication,
} from './peerauthn/resolve.ts';
export { matchRoute, type RouteMatchResult, type RouteRequest } from './routes/match.ts';
export { rewritePath } from './routes/rewrite.ts';
export type * from './routes/types.ts';
export { chooseWeighted, rollPercent } from './routes/weighted.ts';
export type {
  NamespaceResource,
  PodResource,
  ServiceAccountResource,
  ServiceResource,
} from './schemas/core.ts';
export type {
  GatewayResource,
  GRPCRouteResource,
  HTTPRouteResource,
  TCPRouteResource,
} from './schemas/gateway.ts';
export type { DestinationRuleResource, VirtualServiceResource } from './schemas/networking.ts';
export type { JsonSchemaTarget, MeshKind, MeshObject, ValidateResult } from './schemas/registry.ts';
export type { AuthorizationPolicyResource, PeerAuthenticationResource } from './schemas/security.ts';
export * from './snapshot.ts';
