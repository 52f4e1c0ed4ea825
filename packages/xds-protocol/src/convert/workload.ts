// Workload (+ its resolved peer authentication) <-> weft.v1.Workload.

import type {
  ContainerPort,
  DataplaneMode,
  MtlsMode,
  Workload,
  WorkloadPeerAuthentication,
} from '@weft/policy';
import { DEFAULT_MTLS_MODE, parseSpiffeId, parseWorkloadId } from '@weft/policy/runtime';
import {
  DataPlaneMode,
  MtlsMode as ProtoMtlsMode,
  type Workload as ProtoWorkload,
  TunnelProtocol,
  WorkloadStatus,
} from '../gen/weft/v1/workload.ts';
import {
  at,
  type ConvertResult,
  checkedEnum,
  convert,
  distinctStrings,
  Invalid,
  ipBytes,
  ipText,
  labels,
  optionalString,
  port,
  requireString,
  withHash,
} from './common.ts';
import { fromWaypointRef, type SnapshotContext, toWaypointRef } from './waypoint.ts';

const MODE_TO_PROTO: Readonly<Record<DataplaneMode, DataPlaneMode>> = {
  ambient: DataPlaneMode.DATA_PLANE_MODE_AMBIENT,
  sidecar: DataPlaneMode.DATA_PLANE_MODE_SIDECAR,
  proxyless: DataPlaneMode.DATA_PLANE_MODE_PROXYLESS,
  none: DataPlaneMode.DATA_PLANE_MODE_NONE,
};
const MODE_FROM_PROTO = new Map<number, DataplaneMode>(
  Object.entries(MODE_TO_PROTO).map(([k, v]) => [v, k as DataplaneMode]),
);

const MTLS_TO_PROTO: Readonly<Record<MtlsMode, ProtoMtlsMode>> = {
  STRICT: ProtoMtlsMode.MTLS_MODE_STRICT,
  PERMISSIVE: ProtoMtlsMode.MTLS_MODE_PERMISSIVE,
  DISABLE: ProtoMtlsMode.MTLS_MODE_DISABLE,
};
const MTLS_FROM_PROTO = new Map<number, MtlsMode>(
  Object.entries(MTLS_TO_PROTO).map(([k, v]) => [v, k as MtlsMode]),
);

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/** Label keys read for telemetry names, as Istio: canonical name, then app, else the pod name. */
const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'];
const CANONICAL_REVISION_LABELS = [
  'service.istio.io/canonical-revision',
  'app.kubernetes.io/version',
  'version',
];

function firstLabel(labelsIn: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = labelsIn[k];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/**
 * The wire form of a workload. `context` (usually the whole MeshSnapshot) supplies the resolved
 * peer authentication (`peerAuthentication[uid]`, PERMISSIVE when absent) and the waypoint's
 * address and identity.
 */
export function toProtoWorkload(workload: Workload, context: SnapshotContext = {}): ProtoWorkload {
  const pa = context.peerAuthentication?.[workload.uid];
  const portModes: { [port: number]: ProtoMtlsMode } = {};
  for (const [p, mode] of Object.entries(pa?.ports ?? {})) portModes[Number(p)] = MTLS_TO_PROTO[mode];
  const id = parseSpiffeId(workload.identity);
  return {
    uid: workload.uid,
    name: workload.name,
    namespace: workload.namespace,
    node: workload.node ?? '',
    addresses: workload.ips.map(ipBytes),
    network: '',
    serviceAccount: workload.serviceAccount,
    trustDomain: id?.trustDomain ?? context.trustDomain ?? '',
    identity: workload.identity,
    dataPlaneMode: MODE_TO_PROTO[workload.mode],
    // Ambient and sidecar workloads terminate HBONE; the others take plain TCP.
    tunnelProtocol:
      workload.mode === 'ambient' || workload.mode === 'sidecar'
        ? TunnelProtocol.TUNNEL_PROTOCOL_HBONE
        : TunnelProtocol.TUNNEL_PROTOCOL_TCP,
    ...(workload.waypoint === undefined ? {} : { waypoint: toWaypointRef(workload.waypoint, context) }),
    labels: { ...workload.labels },
    workloadName: workload.name,
    canonicalName: firstLabel(workload.labels, CANONICAL_NAME_LABELS) ?? workload.name,
    canonicalRevision: firstLabel(workload.labels, CANONICAL_REVISION_LABELS) ?? 'latest',
    clusterId: '',
    status: workload.healthy
      ? WorkloadStatus.WORKLOAD_STATUS_HEALTHY
      : WorkloadStatus.WORKLOAD_STATUS_UNHEALTHY,
    containerPorts: workload.ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol })),
    services: [...workload.services],
    authorizationPolicies: [...workload.authorizationPolicies],
    mtlsMode: MTLS_TO_PROTO[pa?.mode ?? DEFAULT_MTLS_MODE],
    portMtlsModes: portModes,
  };
}

/** A workload as a proxy holds it: the workload and its resolved peer authentication. */
export interface WorkloadWithPeerAuthentication {
  readonly workload: Workload;
  readonly peerAuthentication: WorkloadPeerAuthentication;
}

export function fromProtoWorkload(proto: ProtoWorkload): ConvertResult<WorkloadWithPeerAuthentication> {
  return convert(() => {
    const uid = requireString('uid', proto.uid);
    const namespace = requireString('namespace', proto.namespace);
    const identity = requireString('identity', proto.identity);
    const parsed = parseWorkloadId(identity);
    if (!parsed.ok) throw new Invalid('identity', parsed.message);
    const id = parsed.value;
    const serviceAccount = requireString('service_account', proto.serviceAccount);
    if (id.namespace !== namespace || id.serviceAccount !== serviceAccount) {
      throw new Invalid(
        'identity',
        `${identity} does not match namespace ${namespace} and service_account ${serviceAccount}`,
      );
    }
    const mode = checkedEnum('data_plane_mode', proto.dataPlaneMode, MODE_FROM_PROTO, 'data plane mode');
    const ports: ContainerPort[] = proto.containerPorts.map((p, i) => {
      const path = at('container_ports', i);
      const protocol = p.protocol === '' ? 'TCP' : p.protocol;
      if (!PROTOCOLS.has(protocol))
        throw new Invalid(at(path, 'protocol'), `${JSON.stringify(protocol)} is not TCP, UDP or SCTP`);
      const name = optionalString(p.name);
      return {
        ...(name === undefined ? {} : { name }),
        port: port(at(path, 'port'), p.port),
        protocol: protocol as ContainerPort['protocol'],
      };
    });
    const node = optionalString(proto.node);
    const workload: Omit<Workload, 'hash'> = {
      key: uid,
      uid,
      name: requireString('name', proto.name),
      namespace,
      ...(node === undefined ? {} : { node }),
      ips: proto.addresses.map((a, i) => ipText(at('addresses', i), a)),
      serviceAccount,
      identity,
      mode,
      ...(proto.waypoint === undefined ? {} : { waypoint: fromWaypointRef('waypoint', proto.waypoint) }),
      labels: labels(proto.labels),
      healthy: proto.status !== WorkloadStatus.WORKLOAD_STATUS_UNHEALTHY,
      ports,
      services: distinctStrings('services', proto.services),
      authorizationPolicies: distinctStrings('authorization_policies', proto.authorizationPolicies),
    };
    const statusOk = [
      WorkloadStatus.WORKLOAD_STATUS_UNSPECIFIED,
      WorkloadStatus.WORKLOAD_STATUS_HEALTHY,
      WorkloadStatus.WORKLOAD_STATUS_UNHEALTHY,
    ] as number[];
    if (!statusOk.includes(proto.status))
      throw new Invalid('status', `${proto.status} is not a known status`);
    const modeOf = (path: string, m: number): MtlsMode =>
      m === ProtoMtlsMode.MTLS_MODE_UNSPECIFIED
        ? DEFAULT_MTLS_MODE
        : checkedEnum(path, m as ProtoMtlsMode, MTLS_FROM_PROTO, 'mTLS mode');
    const portModes: Record<string, MtlsMode> = {};
    for (const p of Object.keys(proto.portMtlsModes)
      .map(Number)
      .sort((a, b) => a - b)) {
      const path = `port_mtls_modes[${p}]`;
      port(path, p);
      const m = proto.portMtlsModes[p] as number;
      if (m === ProtoMtlsMode.MTLS_MODE_UNSPECIFIED) throw new Invalid(path, 'unset mode');
      portModes[String(p)] = modeOf(path, m);
    }
    return {
      workload: withHash(workload),
      peerAuthentication: withHash({ key: uid, mode: modeOf('mtls_mode', proto.mtlsMode), ports: portModes }),
    };
  });
}
