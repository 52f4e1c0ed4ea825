// A node proxy's own ports (DESIGN.md "Ports"). Shared by the composition root, which listens on
// them, and the inbound decisions, which refuse to dial them on a caller's behalf: a tunnel or a
// plaintext connection to a proxy-owned port would land back in this proxy, as a connection from
// the proxy itself, around the checks it already passed (the waypoint binding, the caller's
// identity and address).

export interface ProxyPorts {
  readonly hbone: number;
  readonly inboundPlaintext: number;
  readonly outboundCapture: number;
  readonly socks5: number;
  readonly admin: number;
  readonly metrics: number;
  readonly readiness: number;
}

export const DEFAULT_PORTS: ProxyPorts = {
  hbone: 15008,
  inboundPlaintext: 15006,
  outboundCapture: 15001,
  socks5: 15080,
  admin: 15000,
  metrics: 15020,
  readiness: 15021,
};

/**
 * Ports no inbound connection may be forwarded to: the defaults (what every node proxy and
 * sidecar of the mesh listens on) and any other port this proxy was configured with.
 */
export function proxyOwnedPorts(ports: Partial<ProxyPorts> = {}): ReadonlySet<number> {
  const set = new Set<number>(Object.values(DEFAULT_PORTS));
  for (const p of Object.values(ports)) if (typeof p === 'number' && p > 0) set.add(p);
  return set;
}

export const DEFAULT_PROXY_PORTS: ReadonlySet<number> = proxyOwnedPorts();
