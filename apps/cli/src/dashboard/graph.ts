// The dashboard's graph, decided from plain values: weftd's MeshSnapshot (workloads, services)
// and the samples scraped from every proxy's metrics port. No sockets here; the server polls and
// calls `buildGraph`, tests call it with tables.

export type NodeMode = 'ambient' | 'waypoint' | 'sidecar' | 'proxyless' | 'none';
export type MtlsState = 'mutual_tls' | 'none' | 'mixed' | 'unknown';

export interface GraphNode {
  /** `wl:<ns>/<name>` or `svc:<hostname>`. */
  readonly id: string;
  readonly kind: 'workload' | 'service';
  readonly name: string;
  readonly namespace: string;
  /** A workload's data-plane mode; a service has none. */
  readonly mode?: NodeMode;
}

export interface GraphEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  /** `traffic` from metrics; `backend` links a service to the workloads it selects. */
  readonly kind: 'traffic' | 'backend';
  /** Requests (HTTP/gRPC) per second over the last poll interval. */
  readonly rps: number;
  /** TCP connections opened per second over the last poll interval. */
  readonly cps: number;
  /** Share of requests that were neither 5xx nor 403 (last interval, else all time); null without requests. */
  readonly successRate: number | null;
  readonly requestsTotal: number;
  readonly connectionsTotal: number;
  readonly deniedTotal: number;
  /** Denied requests or connections in the last interval or within the hold time. */
  readonly denied: boolean;
  readonly mtls: MtlsState;
}

/** A proxy's own refusals (`weft_rejected_total`), which carry no source or destination. */
export interface ProxyStatus {
  readonly name: string;
  readonly url: string;
  readonly ok: boolean;
  readonly error?: string;
  /** Refusals that are policy decisions (reason denied, strict_mtls, waypoint_bypass). */
  readonly policyRejects: number;
}

export interface Graph {
  readonly generatedAt: number;
  readonly snapshotVersion: string | null;
  readonly error: string | null;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly proxies: readonly ProxyStatus[];
}

/** The parts of weftd's `/debug/config_dump` the graph reads. */
export interface SnapshotView {
  readonly version?: string;
  readonly workloads?: Readonly<
    Record<
      string,
      {
        readonly uid?: string;
        readonly name: string;
        readonly namespace: string;
        readonly mode?: string;
        readonly labels?: Readonly<Record<string, string>>;
      }
    >
  >;
  readonly services?: Readonly<
    Record<
      string,
      {
        readonly hostname: string;
        readonly name: string;
        readonly namespace: string;
        readonly endpoints?: readonly { readonly workloadUid?: string }[];
      }
    >
  >;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly name: string;
  readonly url: string;
  readonly samples: readonly Sample[] | null;
  readonly error?: string;
}

/** Cumulative counters per edge from the previous poll, to turn counters into rates. */
export interface RateState {
  readonly at: number;
  readonly counters: ReadonlyMap<string, EdgeCounters>;
  /** When each edge last saw a deny, for the hold time. */
  readonly lastDenyAt: ReadonlyMap<string, number>;
}

export interface EdgeCounters {
  readonly requests: number;
  readonly ok: number;
  readonly denied: number;
  readonly connections: number;
}

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
const POLICY_REJECT_REASONS = new Set(['denied', 'strict_mtls', 'waypoint_bypass']);
const ZERO: EdgeCounters = { requests: 0, ok: 0, denied: 0, connections: 0 };
export const EMPTY_RATE_STATE: RateState = { at: 0, counters: new Map(), lastDenyAt: new Map() };

export function workloadMode(w: { mode?: string; labels?: Readonly<Record<string, string>> }): NodeMode {
  if ((w.labels?.[GATEWAY_NAME_LABEL] ?? '') !== '') return 'waypoint';
  switch (w.mode) {
    case 'ambient':
    case 'sidecar':
    case 'proxyless':
      return w.mode;
    default:
      return 'none';
  }
}

const known = (v: string | undefined): v is string => v !== undefined && v !== '' && v !== 'unknown';

/**
 * The per-edge cumulative counters in a set of scrapes. One request is counted by up to three
 * reporters (source, waypoint, destination); each edge takes the reporter that counted most, so
 * a call is counted once and a deny seen by only one reporter still shows.
 */
export function edgeCounters(
  scrapes: readonly Scrape[],
): Map<string, EdgeCounters & { source: string; target: string; mtls: Set<string> }> {
  type Acc = { requests: number; ok: number; denied: number; connections: number };
  const perReporter = new Map<string, Map<string, Acc>>();
  const meta = new Map<
    string,
    { source: string; target: string; mtls: Set<string>; sourceMtls: Set<string> }
  >();
  for (const scrape of scrapes) {
    for (const s of scrape.samples ?? []) {
      const isRequest = s.name === 'istio_requests_total';
      const isConnection = s.name === 'istio_tcp_connections_opened_total';
      if (!isRequest && !isConnection) continue;
      const l = s.labels;
      const srcName = l.source_workload;
      if (!known(srcName)) continue;
      const source = `wl:${l.source_workload_namespace ?? 'unknown'}/${srcName}`;
      const target = known(l.destination_workload)
        ? `wl:${l.destination_workload_namespace ?? 'unknown'}/${l.destination_workload}`
        : known(l.destination_service)
          ? `svc:${l.destination_service}`
          : undefined;
      if (target === undefined) continue;
      const key = `${source}->${target}`;
      let m = meta.get(key);
      if (m === undefined) {
        m = { source, target, mtls: new Set(), sourceMtls: new Set() };
        meta.set(key, m);
      }
      // The receiving side (destination, waypoint) saw the peer's TLS; a source reporter's view
      // counts only when no receiver reported.
      if (l.connection_security_policy !== undefined)
        (l.reporter === 'source' ? m.sourceMtls : m.mtls).add(l.connection_security_policy);
      const reporter = `${scrape.name}|${l.reporter ?? ''}|${isRequest ? 'r' : 'c'}`;
      let byReporter = perReporter.get(key);
      if (byReporter === undefined) {
        byReporter = new Map();
        perReporter.set(key, byReporter);
      }
      const acc = byReporter.get(reporter) ?? { requests: 0, ok: 0, denied: 0, connections: 0 };
      const code = Number(l.response_code ?? '0');
      const rbac = (l.response_flags ?? '').split(',').includes('RBAC');
      if (isRequest) {
        acc.requests += s.value;
        if (code === 403 || rbac) acc.denied += s.value;
        if (!(code >= 500 || code === 403)) acc.ok += s.value;
      } else {
        acc.connections += s.value;
        if (rbac) acc.denied += s.value;
      }
      byReporter.set(reporter, acc);
    }
  }
  const out = new Map<string, EdgeCounters & { source: string; target: string; mtls: Set<string> }>();
  for (const [key, byReporter] of perReporter) {
    const accs = [...byReporter.values()];
    const req = accs.reduce((best, a) => (a.requests > best.requests ? a : best), accs[0] as Acc);
    const con = Math.max(...accs.map((a) => a.connections));
    const denied = Math.max(...accs.map((a) => a.denied));
    const m = meta.get(key) as { source: string; target: string; mtls: Set<string>; sourceMtls: Set<string> };
    const mtls = mtlsState(m.mtls) === 'unknown' ? m.sourceMtls : m.mtls;
    out.set(key, {
      source: m.source,
      target: m.target,
      mtls,
      requests: req.requests,
      ok: req.ok,
      denied,
      connections: con,
    });
  }
  return out;
}

export function mtlsState(policies: ReadonlySet<string>): MtlsState {
  const seen = [...policies].filter((p) => p !== 'unknown' && p !== '');
  if (seen.length === 0) return 'unknown';
  if (seen.every((p) => p === 'mutual_tls')) return 'mutual_tls';
  if (seen.every((p) => p === 'none')) return 'none';
  return 'mixed';
}

/** Increase of a counter between polls; a counter that went down was reset (a proxy restarted). */
export function counterDelta(previous: number | undefined, current: number): number {
  if (previous === undefined) return 0;
  return current >= previous ? current - previous : current;
}

export interface BuildOptions {
  /** How long an edge stays red after its last deny (default 30 s). */
  readonly denyHoldMs?: number;
}

export function buildGraph(
  snapshot: SnapshotView | null,
  scrapes: readonly Scrape[],
  previous: RateState,
  now: number,
  opts: BuildOptions = {},
): { graph: Graph; state: RateState } {
  const holdMs = opts.denyHoldMs ?? 30_000;
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const byUid = new Map<string, string>();
  for (const [key, w] of Object.entries(snapshot?.workloads ?? {})) {
    const id = `wl:${w.namespace}/${w.name}`;
    nodes.set(id, { id, kind: 'workload', name: w.name, namespace: w.namespace, mode: workloadMode(w) });
    byUid.set(w.uid ?? key, id);
  }
  for (const svc of Object.values(snapshot?.services ?? {})) {
    const id = `svc:${svc.hostname}`;
    nodes.set(id, { id, kind: 'service', name: svc.name, namespace: svc.namespace });
    const members = new Set((svc.endpoints ?? []).map((e) => byUid.get(e.workloadUid ?? '')));
    for (const member of members) {
      if (member === undefined) continue;
      edges.push(backendEdge(id, member));
    }
  }

  const dt = previous.at > 0 ? (now - previous.at) / 1000 : 0;
  const counters = edgeCounters(scrapes);
  const nextCounters = new Map<string, EdgeCounters>();
  const lastDenyAt = new Map<string, number>();
  for (const [key, c] of counters) {
    for (const id of [c.source, c.target]) if (!nodes.has(id)) nodes.set(id, placeholder(id));
    // After a first poll, an edge not seen before is all new: its first denies must show.
    const prev = previous.counters.get(key) ?? (previous.at > 0 ? ZERO : undefined);
    const dReq = counterDelta(prev?.requests, c.requests);
    const dOk = counterDelta(prev?.ok, c.ok);
    const dCon = counterDelta(prev?.connections, c.connections);
    const dDenied = counterDelta(prev?.denied, c.denied);
    const deniedAt = dDenied > 0 ? now : previous.lastDenyAt.get(key);
    if (deniedAt !== undefined && now - deniedAt <= holdMs) lastDenyAt.set(key, deniedAt);
    nextCounters.set(key, { requests: c.requests, ok: c.ok, denied: c.denied, connections: c.connections });
    edges.push({
      id: key,
      source: c.source,
      target: c.target,
      kind: 'traffic',
      rps: dt > 0 ? dReq / dt : 0,
      cps: dt > 0 ? dCon / dt : 0,
      successRate: dReq > 0 ? dOk / dReq : c.requests > 0 ? c.ok / c.requests : null,
      requestsTotal: c.requests,
      connectionsTotal: c.connections,
      deniedTotal: c.denied,
      denied: lastDenyAt.has(key),
      mtls: mtlsState(c.mtls),
    });
  }

  const proxies: ProxyStatus[] = scrapes.map((s) => ({
    name: s.name,
    url: s.url,
    ok: s.samples !== null,
    ...(s.error !== undefined ? { error: s.error } : {}),
    policyRejects: (s.samples ?? [])
      .filter((x) => x.name === 'weft_rejected_total' && POLICY_REJECT_REASONS.has(x.labels.reason ?? ''))
      .reduce((sum, x) => sum + x.value, 0),
  }));

  const sorted = [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  return {
    graph: {
      generatedAt: now,
      snapshotVersion: snapshot?.version ?? null,
      error: null,
      nodes: sorted,
      edges: edges.sort((a, b) => a.id.localeCompare(b.id)),
      proxies,
    },
    state: { at: now, counters: nextCounters, lastDenyAt },
  };
}

function backendEdge(service: string, workload: string): GraphEdge {
  return {
    id: `${service}=>${workload}`,
    source: service,
    target: workload,
    kind: 'backend',
    rps: 0,
    cps: 0,
    successRate: null,
    requestsTotal: 0,
    connectionsTotal: 0,
    deniedTotal: 0,
    denied: false,
    mtls: 'unknown',
  };
}

/** A node metrics name that the snapshot does not hold (a workload gone, another cluster). */
function placeholder(id: string): GraphNode {
  const [kind, rest = ''] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
  if (kind === 'svc') {
    const [name = rest, namespace = ''] = rest.split('.');
    return { id, kind: 'service', name, namespace };
  }
  const [namespace = '', name = rest] = rest.split('/');
  return { id, kind: 'workload', name, namespace, mode: 'none' };
}
