// SPIFFE identities of workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export interface SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Parses "spiffe://td/ns/x/sa/y" (or "td/ns/x/sa/y", Istio's principal form). */
export function parseSpiffeId(id: string): SpiffeId | undefined {
  const body = id.startsWith('spiffe://') ? id.slice('spiffe://'.length) : id;
  const m = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(body);
  if (!m) return undefined;
  return { trustDomain: m[1] as string, namespace: m[2] as string, serviceAccount: m[3] as string };
}
