// The inbound decision of a proxyless server, as a pure function: the same `authorize()` every
// other data plane runs, on the same request shape as the sidecar's L7 RBAC filter (peer
// SPIFFE identity from mTLS, method POST, the gRPC path, the metadata as headers, the
// destination port). Socket code (the interceptor) only gathers the facts and executes this.
import { status } from '@grpc/grpc-js';
import { type AuthzDecision, type AuthzPolicy, type AuthzRequest, authorize } from '@weft/policy';

/** What the interceptor knows about one call. */
export interface InboundCallFacts {
  /** The verified peer's SPIFFE ID; absent for a TLS peer without a client certificate. */
  readonly peerPrincipal?: string;
  /** Set when the peer presented a verified certificate whose identity is unusable. */
  readonly peerIdentityError?: string;
  readonly sourceIp?: string;
  readonly destinationIp?: string;
  readonly destinationPort?: number;
  /** `:authority` as received. */
  readonly host?: string;
  /** `/pkg.Service/Method`. */
  readonly path: string;
  /** Metadata as received; repeated keys as arrays, binary values base64. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
}

export type InboundCallDecision =
  | { readonly allow: true; readonly decision: AuthzDecision }
  | {
      readonly allow: false;
      readonly code: status;
      /** Sent to the caller. */
      readonly message: string;
      /** For logs: why. */
      readonly reason: string;
      readonly decision?: AuthzDecision;
    };

/** The message a denied caller sees, as from a sidecar's RBAC filter. */
export const DENIED_MESSAGE = 'RBAC: access denied';

export function buildAuthzRequest(facts: InboundCallFacts): AuthzRequest {
  return {
    ...(facts.peerPrincipal !== undefined ? { sourcePrincipal: facts.peerPrincipal } : {}),
    ...(facts.sourceIp !== undefined ? { sourceIp: facts.sourceIp } : {}),
    ...(facts.destinationIp !== undefined ? { destinationIp: facts.destinationIp } : {}),
    ...(facts.destinationPort !== undefined ? { destinationPort: facts.destinationPort } : {}),
    ...(facts.host !== undefined ? { host: facts.host } : {}),
    method: 'POST',
    path: facts.path,
    headers: facts.headers,
  };
}

export function decideInbound(
  policies: readonly AuthzPolicy[] | undefined,
  facts: InboundCallFacts,
): InboundCallDecision {
  if (facts.peerIdentityError !== undefined) {
    return {
      allow: false,
      code: status.UNAUTHENTICATED,
      message: 'peer identity refused',
      reason: facts.peerIdentityError,
    };
  }
  if (policies === undefined) {
    return {
      allow: false,
      code: status.UNAVAILABLE,
      message: 'authorization policies not received yet',
      reason: 'no policy snapshot',
    };
  }
  const decision = authorize(policies, buildAuthzRequest(facts), { mode: 'L7' });
  if (decision.code === 'invalid-request') {
    return {
      allow: false,
      code: status.INVALID_ARGUMENT,
      message: `invalid request: ${decision.reason}`,
      reason: decision.reason,
      decision,
    };
  }
  if (decision.action === 'DENY') {
    return {
      allow: false,
      code: status.PERMISSION_DENIED,
      message: DENIED_MESSAGE,
      reason: decision.reason,
      decision,
    };
  }
  return { allow: true, decision };
}
