// Who is on the other end of an ADS stream: the proxy kind and, for node agents, the node. One
// format/parse pair for the ADS node id: the proxies build it with `formatProxyId`, weftd reads it
// with `parseProxyId`, so the two sides cannot drift.
//
// Node id format (DESIGN: "node id / metadata identify the proxy kind and node"):
//   ztunnel~<node name>                 e.g. ztunnel~node-a
//   waypoint~<namespace>/<name>         the waypoint Gateway it serves
//   sidecar~<namespace>/<pod name>
//   proxyless~<namespace>/<pod name>   a gRPC app's own xDS client (@grpc/grpc-js-xds) or its SDK
// `node.metadata.NODE_NAME`, when present, must agree with the node in the id.

export type ProxyKind = 'ztunnel' | 'waypoint' | 'sidecar' | 'proxyless';
export const PROXY_KINDS: readonly ProxyKind[] = ['ztunnel', 'waypoint', 'sidecar', 'proxyless'];

export type ProxyId =
  | { readonly kind: 'ztunnel'; readonly node: string }
  | {
      readonly kind: 'waypoint' | 'sidecar' | 'proxyless';
      readonly namespace: string;
      readonly name: string;
    };

export type ProxyIdResult = { ok: true; value: ProxyId } | { ok: false; error: string };

// Kubernetes object names (DNS subdomain characters).
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function clip(s: string): string {
  const json = JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);
  return json;
}

export function parseProxyId(id: string, metadata?: Readonly<Record<string, unknown>>): ProxyIdResult {
  const sep = id.indexOf('~');
  if (sep < 0) return { ok: false, error: `node id ${clip(id)} is not "<kind>~<name>"` };
  const kind = id.slice(0, sep);
  const rest = id.slice(sep + 1);
  if (!(PROXY_KINDS as readonly string[]).includes(kind)) {
    return {
      ok: false,
      error: `node id ${clip(id)}: kind ${clip(kind)} is not one of ${PROXY_KINDS.join(', ')}`,
    };
  }
  if (kind === 'ztunnel') {
    if (!NAME.test(rest))
      return { ok: false, error: `node id ${clip(id)}: node name ${clip(rest)} is not valid` };
    const declared = metadata?.NODE_NAME;
    if (declared !== undefined && declared !== rest) {
      return {
        ok: false,
        error: `node id ${clip(id)}: metadata NODE_NAME ${clip(String(declared))} disagrees`,
      };
    }
    return { ok: true, value: { kind, node: rest } };
  }
  const [namespace = '', name = '', ...extra] = rest.split('/');
  if (extra.length > 0 || !NAME.test(namespace) || !NAME.test(name)) {
    return { ok: false, error: `node id ${clip(id)}: expected ${kind}~<namespace>/<name>` };
  }
  return { ok: true, value: { kind: kind as 'waypoint' | 'sidecar' | 'proxyless', namespace, name } };
}

export function formatProxyId(p: ProxyId): string {
  return p.kind === 'ztunnel' ? `ztunnel~${p.node}` : `${p.kind}~${p.namespace}/${p.name}`;
}
