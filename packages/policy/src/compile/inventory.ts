// Namespaces, waypoints, workloads and services: the address book of the mesh.
import { spiffeId } from '../identity.ts';
import { selectorMatches } from '../labels.ts';
import { normalizeIp, parseIp } from '../net/ip.ts';
import type { NamespaceResource, PodResource, ServiceResource } from '../schemas/core.ts';
import { type GatewayResource, WAYPOINT_GATEWAY_CLASS } from '../schemas/gateway.ts';
import {
  type ContainerPort,
  DATAPLANE_MODES,
  type DataplaneMode,
  type Endpoint,
  type Labels,
  type Service,
  type ServicePort,
  type Waypoint,
  type WaypointBinding,
  type WaypointTrafficType,
  type Workload,
} from '../snapshot.ts';
import {
  byString,
  type CompileContext,
  keyOf,
  LABEL_DATAPLANE_MODE,
  LABEL_GATEWAY_NAME,
  LABEL_USE_WAYPOINT,
  LABEL_USE_WAYPOINT_NAMESPACE,
  LABEL_WAYPOINT_FOR,
  nsOf,
} from './context.ts';
import { inferAppProtocol } from './protocol.ts';

type Draft<T> = { -readonly [K in keyof Omit<T, 'hash' | 'authorizationPolicies'>]: T[K] };
export type WorkloadDraft = Omit<Draft<Workload>, 'services'> & {
  services: string[];
  readonly hostNetwork: boolean;
};
export type ServiceDraft = Draft<Service>;
export type WaypointDraft = Draft<Waypoint>;

export interface Inventory {
  readonly namespaceLabels: ReadonlyMap<string, Labels>;
  readonly workloads: readonly WorkloadDraft[];
  readonly services: readonly ServiceDraft[];
  readonly waypoints: readonly WaypointDraft[];
  /** "namespace/name" -> service. */
  readonly servicesByName: ReadonlyMap<string, ServiceDraft>;
  readonly servicesByHost: ReadonlyMap<string, ServiceDraft>;
  readonly workloadsByNamespace: ReadonlyMap<string, readonly WorkloadDraft[]>;
  readonly workloadsByUid: ReadonlyMap<string, WorkloadDraft>;
}

const WAYPOINT_FOR: readonly WaypointTrafficType[] = ['service', 'workload', 'all', 'none'];

function canonicalIps(ctx: CompileContext, pod: PodResource): string[] {
  const raw = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter(
    (ip): ip is string => ip !== undefined && ip !== '',
  );
  const out: string[] = [];
  for (const ip of raw) {
    const n = normalizeIp(ip);
    if (n === undefined) {
      ctx.warn('invalid', pod, 'status.podIP', `${JSON.stringify(ip)} is not an IP address; ignored`);
    } else if (!out.includes(n)) out.push(n);
  }
  return out;
}

function isHealthy(pod: PodResource): boolean {
  const conditions = pod.status?.conditions;
  if (conditions && conditions.length > 0)
    return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  return (pod.status?.phase ?? 'Running') === 'Running';
}

function containerPorts(pod: PodResource): ContainerPort[] {
  const out: ContainerPort[] = [];
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) {
      out.push({ ...(p.name ? { name: p.name } : {}), port: p.containerPort, protocol: p.protocol ?? 'TCP' });
    }
  }
  return out;
}

function modeFrom(ctx: CompileContext, pod: PodResource, podLabels: Labels, nsLabels: Labels): DataplaneMode {
  const pick = (value: string | undefined, where: string): DataplaneMode | undefined => {
    if (value === undefined) return undefined;
    if ((DATAPLANE_MODES as readonly string[]).includes(value)) return value as DataplaneMode;
    ctx.warn(
      'invalid',
      pod,
      where,
      `unknown ${LABEL_DATAPLANE_MODE} ${JSON.stringify(value)}; expected ${DATAPLANE_MODES.join(', ')}`,
    );
    return undefined;
  };
  return (
    pick(podLabels[LABEL_DATAPLANE_MODE], `metadata.labels["${LABEL_DATAPLANE_MODE}"]`) ??
    pick(nsLabels[LABEL_DATAPLANE_MODE], `namespace ${nsOf(pod)} label ${LABEL_DATAPLANE_MODE}`) ??
    'none'
  );
}

/** `use-waypoint` on the object, then on its namespace; "none" on the object opts out. */
function waypointRequest(
  objLabels: Labels,
  nsLabels: Labels,
  namespace: string,
): { key: string } | undefined {
  const own = objLabels[LABEL_USE_WAYPOINT];
  if (own === 'none') return undefined;
  if (own !== undefined && own !== '') {
    return { key: `${objLabels[LABEL_USE_WAYPOINT_NAMESPACE] ?? namespace}/${own}` };
  }
  const fromNs = nsLabels[LABEL_USE_WAYPOINT];
  if (fromNs !== undefined && fromNs !== '' && fromNs !== 'none') {
    return { key: `${nsLabels[LABEL_USE_WAYPOINT_NAMESPACE] ?? namespace}/${fromNs}` };
  }
  return undefined;
}

function binding(w: WaypointDraft): WaypointBinding {
  return {
    key: w.key,
    namespace: w.namespace,
    name: w.name,
    ...(w.service ? { service: w.service } : {}),
    addresses: w.addresses,
  };
}

function serviceVips(ctx: CompileContext, svc: ServiceResource): string[] {
  const raw = [svc.spec?.clusterIP, ...(svc.spec?.clusterIPs ?? [])].filter(
    (ip): ip is string => ip !== undefined && ip !== '' && ip !== 'None',
  );
  const out: string[] = [];
  for (const ip of raw) {
    const n = normalizeIp(ip);
    if (n === undefined)
      ctx.warn('invalid', svc, 'spec.clusterIP', `${JSON.stringify(ip)} is not an IP address; ignored`);
    else if (!out.includes(n)) out.push(n);
  }
  return out;
}

export function buildInventory(
  ctx: CompileContext,
  input: {
    readonly namespaces: readonly NamespaceResource[];
    readonly pods: readonly PodResource[];
    readonly services: readonly ServiceResource[];
    readonly gateways: readonly GatewayResource[];
  },
): Inventory {
  const namespaceLabels = new Map<string, Labels>();
  for (const ns of input.namespaces) namespaceLabels.set(ns.metadata.name, ns.metadata.labels ?? {});
  const nsLabels = (name: string): Labels => namespaceLabels.get(name) ?? {};

  // Workloads (without waypoint and services yet).
  const workloads: WorkloadDraft[] = [];
  const seenUid = new Set<string>();
  for (const pod of input.pods) {
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const namespace = nsOf(pod);
    const uid = pod.metadata.uid ?? keyOf(pod);
    if (seenUid.has(uid)) {
      ctx.warn('duplicate', pod, 'metadata.uid', `uid ${uid} is used by another pod; ignored`);
      continue;
    }
    seenUid.add(uid);
    const labels = pod.metadata.labels ?? {};
    const serviceAccount = pod.spec?.serviceAccountName ?? 'default';
    const hostNetwork = pod.spec?.hostNetwork === true;
    let mode = modeFrom(ctx, pod, labels, nsLabels(namespace));
    if (hostNetwork && mode !== 'none') {
      ctx.warn(
        'ignored',
        pod,
        'spec.hostNetwork',
        `host-network pods cannot join the mesh; mode ${mode} ignored`,
      );
      mode = 'none';
    }
    workloads.push({
      key: uid,
      uid,
      name: pod.metadata.name,
      namespace,
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      ips: canonicalIps(ctx, pod),
      serviceAccount,
      identity: spiffeId(ctx.trustDomain, namespace, serviceAccount),
      mode,
      labels,
      healthy: isHealthy(pod),
      ports: containerPorts(pod),
      services: [],
      hostNetwork,
    });
  }
  workloads.sort((a, b) => byString(a.key, b.key));
  const workloadsByNamespace = new Map<string, WorkloadDraft[]>();
  for (const w of workloads) {
    const list = workloadsByNamespace.get(w.namespace);
    if (list) list.push(w);
    else workloadsByNamespace.set(w.namespace, [w]);
  }

  // Services (without endpoints and waypoint yet).
  const services: ServiceDraft[] = [];
  const servicesByName = new Map<string, ServiceDraft>();
  const serviceObjects = new Map<ServiceDraft, ServiceResource>();
  for (const svc of input.services) {
    if (svc.spec?.type === 'ExternalName') continue;
    const namespace = nsOf(svc);
    const hostname = ctx.serviceHostname(namespace, svc.metadata.name);
    const vips = serviceVips(ctx, svc);
    const ports: ServicePort[] = (svc.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      protocol: p.protocol ?? 'TCP',
      appProtocol: inferAppProtocol(p),
    }));
    const selector = svc.spec?.selector;
    const draft: ServiceDraft = {
      key: hostname,
      name: svc.metadata.name,
      namespace,
      hostname,
      vips,
      headless: svc.spec?.clusterIP === 'None' || vips.length === 0,
      ports,
      endpoints: [],
      labels: svc.metadata.labels ?? {},
      ...(selector && Object.keys(selector).length > 0 ? { selector } : {}),
    };
    services.push(draft);
    servicesByName.set(`${namespace}/${svc.metadata.name}`, draft);
    serviceObjects.set(draft, svc);
  }
  services.sort((a, b) => byString(a.key, b.key));

  // Endpoints: workloads with an address, selected by the service.
  for (const svc of services) {
    const selector = svc.selector;
    if (!selector) continue;
    const vipIsV6 = svc.vips[0]?.includes(':') ?? false;
    const endpoints: Endpoint[] = [];
    for (const w of workloads) {
      if (w.namespace !== svc.namespace || w.ips.length === 0 || !selectorMatches(selector, w.labels))
        continue;
      w.services.push(svc.hostname);
      const ip = w.ips.find((a) => a.includes(':') === vipIsV6) ?? (w.ips[0] as string);
      for (const p of svc.ports) {
        let targetPort: number | undefined;
        if (typeof p.targetPort === 'number') targetPort = p.targetPort;
        else targetPort = w.ports.find((c) => c.name === p.targetPort && c.protocol === p.protocol)?.port;
        if (targetPort === undefined) continue; // named port not exposed by this pod: not an endpoint
        endpoints.push({ workloadUid: w.uid, ip, port: p.port, targetPort, healthy: w.healthy });
      }
    }
    endpoints.sort((a, b) => byString(a.workloadUid, b.workloadUid) || a.port - b.port);
    svc.endpoints = endpoints;
  }
  for (const w of workloads) w.services.sort(byString);

  // Waypoints: Gateways of class weft-waypoint.
  const waypoints: WaypointDraft[] = [];
  const waypointByKey = new Map<string, WaypointDraft>();
  for (const gw of input.gateways) {
    if (gw.spec.gatewayClassName !== WAYPOINT_GATEWAY_CLASS) continue;
    const namespace = nsOf(gw);
    const name = gw.metadata.name;
    const forLabel = gw.metadata.labels?.[LABEL_WAYPOINT_FOR];
    let trafficType: WaypointTrafficType = 'service';
    if (forLabel !== undefined) {
      if ((WAYPOINT_FOR as readonly string[]).includes(forLabel))
        trafficType = forLabel as WaypointTrafficType;
      else
        ctx.warn(
          'invalid',
          gw,
          `metadata.labels["${LABEL_WAYPOINT_FOR}"]`,
          `expected one of ${WAYPOINT_FOR.join(', ')}`,
        );
    }
    const service =
      services.find((s) => s.namespace === namespace && s.labels[LABEL_GATEWAY_NAME] === name) ??
      servicesByName.get(`${namespace}/${name}`);
    const addresses = new Set<string>();
    for (const a of [...(gw.spec.addresses ?? []), ...(gw.status?.addresses ?? [])]) {
      const ip = normalizeIp(a.value);
      if (ip !== undefined) addresses.add(ip);
    }
    for (const vip of service?.vips ?? []) addresses.add(vip);
    const pods = workloads
      .filter((w) => w.namespace === namespace && w.labels[LABEL_GATEWAY_NAME] === name)
      .map((w) => w.uid)
      .sort(byString);
    const draft: WaypointDraft = {
      key: `${namespace}/${name}`,
      name,
      namespace,
      trafficType,
      listeners: (gw.spec.listeners ?? []).map((l) => ({ name: l.name, port: l.port, protocol: l.protocol })),
      ...(service ? { service: service.hostname } : {}),
      addresses: [...addresses].sort(byAddress),
      workloads: pods,
    };
    waypoints.push(draft);
    waypointByKey.set(draft.key, draft);
  }
  waypoints.sort((a, b) => byString(a.key, b.key));

  // Bind waypoints. A waypoint's own pods and service never use a waypoint.
  const podObjects = new Map(input.pods.map((p) => [p.metadata.uid ?? keyOf(p), p]));
  for (const w of workloads) {
    if (w.mode !== 'ambient' || w.labels[LABEL_GATEWAY_NAME] !== undefined) continue;
    const req = waypointRequest(w.labels, nsLabels(w.namespace), w.namespace);
    if (!req) continue;
    const pod = podObjects.get(w.uid) as PodResource;
    const wp = waypointByKey.get(req.key);
    if (!wp) {
      ctx.warn(
        'unresolved-reference',
        pod,
        `metadata.labels["${LABEL_USE_WAYPOINT}"]`,
        `waypoint ${req.key} not found`,
      );
    } else if (wp.trafficType === 'workload' || wp.trafficType === 'all') {
      w.waypoint = binding(wp);
    }
  }
  for (const s of services) {
    if (s.labels[LABEL_GATEWAY_NAME] !== undefined || waypoints.some((wp) => wp.service === s.hostname))
      continue;
    const req = waypointRequest(s.labels, nsLabels(s.namespace), s.namespace);
    if (!req) continue;
    const wp = waypointByKey.get(req.key);
    if (!wp) {
      ctx.warn(
        'unresolved-reference',
        serviceObjects.get(s) as ServiceResource,
        `metadata.labels["${LABEL_USE_WAYPOINT}"]`,
        `waypoint ${req.key} not found`,
      );
    } else if (wp.trafficType === 'service' || wp.trafficType === 'all') {
      s.waypoint = binding(wp);
    }
  }

  return {
    namespaceLabels,
    workloads,
    services,
    waypoints,
    servicesByName,
    servicesByHost: new Map(services.map((svc) => [svc.hostname, svc])),
    workloadsByNamespace,
    workloadsByUid: new Map(workloads.map((w) => [w.uid, w])),
  };
}

function byAddress(a: string, b: string): number {
  const pa = parseIp(a);
  const pb = parseIp(b);
  if (pa && pb && pa.length !== pb.length) return pa.length - pb.length;
  return byString(a, b);
}
