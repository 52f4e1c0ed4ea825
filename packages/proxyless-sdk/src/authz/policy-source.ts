import type { AuthzPolicy } from '@weft/policy';

/**
 * Where the server interceptor reads the policies that apply to this pod's inbound calls: the
 * pod's own xDS view from weftd (`xdsPolicySource`), or a fixed set (`staticPolicies`).
 */
export interface PolicySource {
  /** The policies now, or undefined before the first config arrived (calls then fail UNAVAILABLE). */
  current(): readonly AuthzPolicy[] | undefined;
  close?(): void;
}

/** A fixed policy set (tests, or an app that manages policies itself). */
export function staticPolicies(policies: readonly AuthzPolicy[]): PolicySource {
  const frozen = [...policies];
  return { current: () => frozen };
}

/** A policy set the caller replaces at will (tests, file-driven config). */
export function mutablePolicies(initial?: readonly AuthzPolicy[]): PolicySource & {
  set(policies: readonly AuthzPolicy[] | undefined): void;
} {
  let value = initial === undefined ? undefined : [...initial];
  return {
    current: () => value,
    set(policies) {
      value = policies === undefined ? undefined : [...policies];
    },
  };
}
