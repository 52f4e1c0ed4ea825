// SPIFFE identities of workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

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

// Trust domains are lowercase DNS-like names (SPIFFE spec: letters, digits, '.', '-', '_').
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
// Kubernetes namespace and service-account names: DNS subdomain characters.
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export function isValidTrustDomain(td: string): boolean {
  return TRUST_DOMAIN.test(td);
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

/** Parses a workload SPIFFE ID; returns a message naming what is wrong when it is not one. */
export function parseSpiffeId(
  uri: string,
): { ok: true; value: ParsedSpiffeId } | { ok: false; message: string } {
  if (uri.length > 2048) return { ok: false, message: 'SPIFFE ID longer than 2048 characters' };
  if (!uri.startsWith('spiffe://'))
    return { ok: false, message: `"${clip(uri)}" does not start with spiffe://` };
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (!isValidTrustDomain(trustDomain)) {
    return { ok: false, message: `trust domain "${clip(trustDomain)}" is not valid` };
  }
  const parts = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (parts.length !== 4 || parts[0] !== 'ns' || parts[2] !== 'sa') {
    return { ok: false, message: `"${clip(uri)}" is not of the form spiffe://<td>/ns/<ns>/sa/<sa>` };
  }
  const namespace = parts[1] ?? '';
  const serviceAccount = parts[3] ?? '';
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
