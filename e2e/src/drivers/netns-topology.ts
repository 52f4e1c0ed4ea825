// The netns driver's network: nodes and pods are Linux network namespaces, wired as a cluster
// would be. Pure planning (addresses, names, CNI configuration, the address rewrite of the
// manifests) lives here with no I/O, so it is tested with tables; netns.ts executes it.
//
//   root netns            bridge <prefix>-ul0  10.250.0.1/24  fd00:250:0::1/64   (weftd listens here)
//     | veth per node
//   node netns <prefix>-node-a   eth0 10.250.0.10   bridge cni0 10.200.1.1/24 fd00:200:1::1/64
//     | veth per pod (made by Debian's `bridge` CNI plugin, addresses from `host-local`)
//   pod netns <prefix>-p-<ns>-<name>   eth0 10.200.1.x / fd00:200:1::x
//
// (for network 0; network k uses 10.250.k.0/24 and 10.(200+k).n.0/24, so two clusters with
// different prefixes and networks, such as a test run and a benchmark, can exist side by side.)
//
// Nodes route each other's pod ranges over the underlay; the root netns routes every pod range to
// its node, so the driver (in the root netns) reaches proxies' metrics and calls pods as a client
// from outside the mesh.

export interface NetnsNode {
  readonly name: string;
  /** The node's netns. */
  readonly netns: string;
  /** The node's address on the underlay (v4, v6). */
  readonly ip4: string;
  readonly ip6: string;
  /** The root-side veth of the node's underlay link. */
  readonly hostVeth: string;
  /** Pod ranges of this node. */
  readonly podCidr4: string;
  readonly podCidr6: string;
  /** The pods' gateway (the node's cni0 bridge). */
  readonly gateway4: string;
  readonly gateway6: string;
}

export interface Underlay {
  readonly host4: string;
  readonly host6: string;
  readonly prefix4: 24;
  readonly prefix6: 64;
}

function checkNetwork(network: number): void {
  if (!Number.isInteger(network) || network < 0 || network > 9)
    throw new Error(`netns network ${network}: an integer 0-9`);
}

/** The host's side of the underlay of cluster network `network` (0-9). */
export function underlay(network = 0): Underlay {
  checkNetwork(network);
  return { host4: `10.250.${network}.1`, host6: `fd00:250:${network}::1`, prefix4: 24, prefix6: 64 };
}

/** Interface names are at most 15 bytes: the prefix is kept short. */
export function planNodes(prefix: string, names: readonly string[], network = 0): NetnsNode[] {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix))
    throw new Error(`netns prefix ${JSON.stringify(prefix)}: 1-6 of [a-z0-9]`);
  checkNetwork(network);
  const pods = 200 + network;
  return names.map((name, i) => {
    const n = i + 1;
    return {
      name,
      netns: `${prefix}-${name}`,
      ip4: `10.250.${network}.${10 + i}`,
      ip6: `fd00:250:${network}::${10 + i}`,
      hostVeth: `${prefix}-ul${n}`,
      podCidr4: `10.${pods}.${n}.0/24`,
      podCidr6: `fd00:${pods}:${n}::/64`,
      gateway4: `10.${pods}.${n}.1`,
      gateway6: `fd00:${pods}:${n}::1`,
    };
  });
}

/** The pod's netns name: stable, unique per namespace/name. */
export function podNetns(prefix: string, namespace: string, name: string): string {
  return `${prefix}-p-${namespace}-${name}`;
}

/** The underlay bridge in the root netns. */
export const underlayBridge = (prefix: string): string => `${prefix}-ul0`;

export interface CniConflist {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Record<string, unknown>[];
}

/**
 * The network configuration list of a node, as a container runtime reads it from
 * /etc/cni/net.d: the node's own pod network (bridge + host-local, dual stack), then Weft's
 * plugin chained after it.
 */
export function nodeConflist(node: NetnsNode, opts: { ipamDir: string; agentSocket: string }): CniConflist {
  return {
    cniVersion: '1.0.0',
    name: 'weft-pods',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: opts.ipamDir,
          ranges: [
            [{ subnet: node.podCidr4, gateway: node.gateway4 }],
            [{ subnet: node.podCidr6, gateway: node.gateway6 }],
          ],
          routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
        },
      },
      {
        type: 'weft-cni',
        agent_socket: opts.agentSocket,
        log_level: 'info',
      },
    ],
  };
}

/** The configuration one plugin of a list gets on stdin (CNI spec: name, cniVersion, prevResult). */
export function pluginConfig(list: CniConflist, index: number, prevResult: unknown): Record<string, unknown> {
  const plugin = list.plugins[index];
  if (plugin === undefined) throw new Error(`no plugin ${index} in ${list.name}`);
  return {
    ...plugin,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(prevResult !== undefined ? { prevResult } : {}),
  };
}

/** The first IPv4 and IPv6 addresses of a CNI result. */
export function resultIps(result: unknown): { ip4: string | undefined; ip6: string | undefined } {
  const ips = (result as { ips?: { address?: string }[] } | null)?.ips ?? [];
  const addrs = ips.map((i) => (i.address ?? '').split('/')[0] ?? '').filter((a) => a !== '');
  return { ip4: addrs.find((a) => !a.includes(':')), ip6: addrs.find((a) => a.includes(':')) };
}

/** The service VIPs of the netns cluster: the manifests' 127.0.x.y becomes 10.96.x.y and fd00:96::x:y. */
export function serviceVips(logical: string): { ip4: string; ip6: string } {
  const m = /^127\.0\.(\d+)\.(\d+)$/.exec(logical);
  if (m === null) throw new Error(`service address ${logical} is not a local-mode 127.0.x.y VIP`);
  return {
    ip4: `10.96.${m[1]}.${m[2]}`,
    ip6: `fd00:96::${Number(m[1]).toString(16)}:${Number(m[2]).toString(16)}`,
  };
}

type Doc = Record<string, unknown>;
const isObj = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface AddressPlan {
  /** "namespace/name" of a pod -> its addresses in the netns cluster. */
  readonly pods: ReadonlyMap<string, { readonly ip4: string; readonly ip6: string | undefined }>;
}

/**
 * One manifest document with its local-mode addresses replaced by the netns cluster's: a Pod's
 * status.podIP/podIPs by the addresses CNI gave it (a pod CNI has not set up yet keeps no
 * address), a Service's clusterIP by its dual-stack VIPs. Other documents are returned as they are.
 */
export function rewriteDocument(doc: unknown, plan: AddressPlan): unknown {
  if (!isObj(doc)) return doc;
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  if (doc.kind === 'Pod') {
    const key = `${typeof meta.namespace === 'string' ? meta.namespace : 'default'}/${String(meta.name)}`;
    const ips = plan.pods.get(key);
    const status: Doc = { ...(isObj(doc.status) ? doc.status : {}) };
    delete status.podIP;
    delete status.podIPs;
    if (ips !== undefined) {
      status.podIP = ips.ip4;
      status.podIPs = [{ ip: ips.ip4 }, ...(ips.ip6 !== undefined ? [{ ip: ips.ip6 }] : [])];
    }
    return { ...doc, status };
  }
  if (doc.kind === 'Service' && isObj(doc.spec) && typeof doc.spec.clusterIP === 'string') {
    const ip = doc.spec.clusterIP;
    if (ip === 'None' || !ip.startsWith('127.')) return doc;
    const v = serviceVips(ip);
    return {
      ...doc,
      spec: { ...doc.spec, clusterIP: v.ip4, clusterIPs: [v.ip4, v.ip6], ipFamilyPolicy: 'RequireDualStack' },
    };
  }
  return doc;
}
