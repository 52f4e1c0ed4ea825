// SPIFFE identities of workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
import { isValidTrustDomain as isPolicyTrustDomain, parseWorkloadId } from '@weft/policy/runtime';

/** The identity a certificate is issued for. */
export interface WorkloadIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Who called the CA, as established by an authenticator. `node` is set for node agents (ztunnel). */
export interface CallerIdentity extends WorkloadIdentity {
  readonly node?: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

// Kubernetes namespace and service-account names: DNS subdomain characters. This is the CA's
// issuance rule on top of the SPIFFE grammar, which is @weft/policy's alone.
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** Trust domains as the SPIFFE grammar (@weft/policy) defines them. */
export function isValidTrustDomain(td: string): boolean {
  return isPolicyTrustDomain(td);
}

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function formatSpiffeId(trustDomain: string, id: WorkloadIdentity): string {
  return `spiffe://${trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export interface ParsedSpiffeId extends WorkloadIdentity {
  readonly trustDomain: string;
}

/**
 * Parses a workload SPIFFE ID the CA would issue: @weft/policy's workload grammar, with the
 * namespace and service account also Kubernetes names. The message names what is wrong.
 */
export function parseSpiffeId(
  uri: string,
): { ok: true; value: ParsedSpiffeId } | { ok: false; message: string } {
  const parsed = parseWorkloadId(uri);
  if (!parsed.ok) return { ok: false, message: parsed.message };
  const { trustDomain, namespace, serviceAccount } = parsed.value;
  if (!isValidName(namespace)) return { ok: false, message: `namespace "${clip(namespace)}" is not valid` };
  if (!isValidName(serviceAccount)) {
    return { ok: false, message: `service account "${clip(serviceAccount)}" is not valid` };
  }
  return { ok: true, value: { trustDomain, namespace, serviceAccount } };
}

/** Shortens untrusted text before it goes into an error message. */
export function clip(text: string, max = 80): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}...` : printable;
}
