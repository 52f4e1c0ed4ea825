// The compiled authorization model: plain data (no functions, no RegExp), so it can travel
// over xDS and be evaluated by `authorize` identically in every data plane.

export type AuthzAction = 'ALLOW' | 'DENY' | 'AUDIT';

/**
 * Where a policy applies.
 * - `mesh`: root namespace, no selector: every workload in the mesh.
 * - `namespace`: no selector: every workload in the policy's namespace.
 * - `workload`: selector.matchLabels: matching workloads of the policy's namespace (of every
 *   namespace when the policy lives in the root namespace).
 * - `targets`: targetRefs: the named waypoint Gateways and/or Services (enforced by waypoints).
 */
export type AuthzScope = 'mesh' | 'namespace' | 'workload' | 'targets';

export interface AuthzTarget {
  readonly kind: 'Gateway' | 'Service';
  readonly namespace: string;
  readonly name: string;
}

/** One `from` entry. Set lists must match (any value); `not*` lists must not match (no value). */
export interface AuthzSource {
  /** SPIFFE ids without "spiffe://": "cluster.local/ns/a/sa/b"; wildcards "x*", "*x", "*". */
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  /** JWT "iss/sub" (L7 only). */
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  /** Canonical CIDR blocks ("10.0.0.0/8", "2001:db8::/32") matched against the peer address. */
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  /** Matched against the original client address (X-Forwarded-For; L7 only). */
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}

/** One `to` entry. */
export interface AuthzOperation {
  /** Lower-cased; matched case-insensitively against the normalized Host (L7 only). */
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  readonly ports?: readonly number[];
  readonly notPorts?: readonly number[];
  /** L7 only. */
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  /** Case-sensitive, against the normalized path (L7 only). */
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

export interface AuthzCondition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

/** A rule matches when some `from` matches (or none is given), some `to` matches (or none is
 * given) and every `when` holds. */
export interface AuthzRule {
  readonly from: readonly AuthzSource[];
  readonly to: readonly AuthzOperation[];
  readonly when: readonly AuthzCondition[];
}

export interface AuthzPolicy {
  /** "namespace/name". */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly action: AuthzAction;
  readonly scope: AuthzScope;
  /** For scope `workload`. */
  readonly selector?: Readonly<Record<string, string>>;
  /** For scope `targets`. */
  readonly targets?: readonly AuthzTarget[];
  /** Empty rules: an ALLOW policy allows nothing, a DENY/AUDIT policy matches nothing. */
  readonly rules: readonly AuthzRule[];
  readonly hash: string;
}

/** Everything `authorize` may look at. Absent fields never satisfy a positive match. */
export interface AuthzRequest {
  /** Peer identity from mTLS, with or without "spiffe://". Absent for plaintext. */
  readonly sourcePrincipal?: string;
  /** Defaults to the namespace inside sourcePrincipal. */
  readonly sourceNamespace?: string;
  /** Address of the direct peer. */
  readonly sourceIp?: string;
  /** Original client address (from X-Forwarded-For); defaults to sourceIp. */
  readonly remoteIp?: string;
  readonly destinationIp?: string;
  readonly destinationPort?: number;
  readonly sni?: string;
  /** Host / :authority as received; normalized before matching. */
  readonly host?: string;
  readonly method?: string;
  /** Request target as received (:path); normalized before matching. */
  readonly path?: string;
  /** Header names in any case; repeated headers as arrays. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Validated JWT "iss/sub". */
  readonly requestPrincipal?: string;
  readonly requestAudiences?: readonly string[];
  readonly requestPresenter?: string;
  /** Validated JWT claims; nested objects are reached with request.auth.claims[a][b]. */
  readonly requestClaims?: Readonly<Record<string, unknown>>;
}

export type AuthzDecisionCode =
  /** No ALLOW/DENY policy applies: allowed. */
  | 'no-policy'
  /** A DENY rule matched. */
  | 'denied'
  /** An ALLOW rule matched. */
  | 'allowed'
  /** ALLOW policies exist but none matched. */
  | 'no-allow-match'
  /** The request could not be normalized (path/host); the proxy answers 400. */
  | 'invalid-request';

export interface AuthzMatch {
  readonly policy: string;
  readonly rule: number;
}

export interface AuthzDecision {
  readonly action: 'ALLOW' | 'DENY';
  readonly code: AuthzDecisionCode;
  /** The deciding policy key ("ns/name") and rule index, when one decided. */
  readonly policy?: string;
  readonly rule?: number;
  readonly reason: string;
  /** AUDIT rules that matched (they never decide). */
  readonly audit?: readonly AuthzMatch[];
  /** L4 mode only: true when a rule was skipped or widened because it had L7-only fields. */
  readonly l4Degraded?: boolean;
}
