// SPIFFE identities of workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export interface SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

// The SPIFFE grammar: a lower-case trust domain, path segments of letters, digits, ".", "-" and
// "_" (never "." or ".."), the same rules the HBONE peer check applies to certificates.
const WORKLOAD_ID = /^([a-z0-9._-]{1,255})\/ns\/([A-Za-z0-9._-]+)\/sa\/([A-Za-z0-9._-]+)$/;

/** Parses "spiffe://td/ns/x/sa/y" (or "td/ns/x/sa/y", Istio's principal form). */
export function parseSpiffeId(id: string): SpiffeId | undefined {
  if (id.length > 2048) return undefined;
  const body = id.startsWith('spiffe://') ? id.slice('spiffe://'.length) : id;
  const m = WORKLOAD_ID.exec(body);
  if (!m) return undefined;
  const [, trustDomain, namespace, serviceAccount] = m as unknown as [string, string, string, string];
  if ([namespace, serviceAccount].some((s) => s === '.' || s === '..')) return undefined;
  return { trustDomain, namespace, serviceAccount };
}
