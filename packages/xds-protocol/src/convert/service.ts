// Service <-> weft.v1.Service. The domain lists one endpoint per (workload, service port); the
// wire groups them per workload (address, health, service port -> target port).
import type { AppProtocol, Endpoint, Service, ServicePort } from '@weft/policy';
import type { Endpoint as ProtoEndpoint, Service as ProtoService } from '../gen/weft/v1/service.ts';
import { WorkloadStatus } from '../gen/weft/v1/workload.ts';
import {
  at,
  type ConvertResult,
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

const APP_PROTOCOLS: ReadonlySet<string> = new Set<AppProtocol>([
  'http',
  'http2',
  'grpc',
  'grpc-web',
  'https',
  'tls',
  'tcp',
  'udp',
  'sctp',
]);
const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/**
 * The wire form of a service. Limitation of the grouped endpoint form: when two service ports
 * share a number (TCP and UDP 53), they share one target port per workload.
 */
export function toProtoService(service: Service, context: SnapshotContext = {}): ProtoService {
  const endpoints: ProtoEndpoint[] = [];
  let current: ProtoEndpoint | undefined;
  for (const e of service.endpoints) {
    if (current === undefined || current.workloadUid !== e.workloadUid) {
      current = {
        workloadUid: e.workloadUid,
        ports: {},
        address: ipBytes(e.ip),
        status: e.healthy ? WorkloadStatus.WORKLOAD_STATUS_HEALTHY : WorkloadStatus.WORKLOAD_STATUS_UNHEALTHY,
      };
      endpoints.push(current);
    }
    current.ports[e.port] = e.targetPort;
  }
  return {
    name: service.name,
    namespace: service.namespace,
    hostname: service.hostname,
    vips: service.vips.map((v) => ({ network: '', address: ipBytes(v) })),
    ports: service.ports.map((p) => ({
      port: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : 0,
      targetPortName: typeof p.targetPort === 'string' ? p.targetPort : '',
      appProtocol: p.appProtocol,
      name: p.name ?? '',
      protocol: p.protocol,
    })),
    endpoints,
    ...(service.waypoint === undefined ? {} : { waypoint: toWaypointRef(service.waypoint, context) }),
    headless: service.headless,
    labels: { ...service.labels },
    ...(service.selector === undefined ? {} : { selector: { matchLabels: { ...service.selector } } }),
    authorizationPolicies: [...service.authorizationPolicies],
  };
}

export function fromProtoService(proto: ProtoService): ConvertResult<Service> {
  return convert(() => {
    const hostname = requireString('hostname', proto.hostname);
    const ports: ServicePort[] = proto.ports.map((p, i) => {
      const path = at('ports', i);
      const protocol = p.protocol === '' ? 'TCP' : p.protocol;
      if (!PROTOCOLS.has(protocol))
        throw new Invalid(at(path, 'protocol'), `${JSON.stringify(protocol)} is not TCP, UDP or SCTP`);
      if (!APP_PROTOCOLS.has(p.appProtocol)) {
        throw new Invalid(
          at(path, 'app_protocol'),
          `${JSON.stringify(p.appProtocol)} is not a known protocol`,
        );
      }
      let targetPort: number | string;
      if (p.targetPortName !== '') {
        if (p.targetPort !== 0)
          throw new Invalid(at(path, 'target_port'), 'set together with target_port_name');
        targetPort = p.targetPortName;
      } else targetPort = port(at(path, 'target_port'), p.targetPort);
      const name = optionalString(p.name);
      return {
        ...(name === undefined ? {} : { name }),
        port: port(at(path, 'port'), p.port),
        targetPort,
        protocol: protocol as ServicePort['protocol'],
        appProtocol: p.appProtocol as AppProtocol,
      };
    });
    const servicePorts = new Set(ports.map((p) => p.port));
    const endpoints: Endpoint[] = [];
    const seen = new Set<string>();
    proto.endpoints.forEach((e, i) => {
      const path = at('endpoints', i);
      const uid = requireString(at(path, 'workload_uid'), e.workloadUid);
      if (seen.has(uid)) throw new Invalid(at(path, 'workload_uid'), `${uid} listed twice`);
      seen.add(uid);
      const ip = ipText(at(path, 'address'), e.address);
      const healthy = e.status !== WorkloadStatus.WORKLOAD_STATUS_UNHEALTHY;
      for (const key of Object.keys(e.ports)) {
        const p = Number(key);
        if (!servicePorts.has(p))
          throw new Invalid(`${path}.ports[${key}]`, `${key} is not a port of the service`);
        port(`${path}.ports[${key}]`, e.ports[p] as number);
      }
      // Service port order, as the compiler lists them (a TCP and a UDP port may share a number).
      for (const p of ports) {
        const target = e.ports[p.port];
        if (target !== undefined)
          endpoints.push({ workloadUid: uid, ip, port: p.port, targetPort: target, healthy });
      }
    });
    endpoints.sort((a, b) =>
      a.workloadUid < b.workloadUid ? -1 : a.workloadUid > b.workloadUid ? 1 : a.port - b.port,
    );
    const vips = proto.vips.map((v, i) => ipText(at(at('vips', i), 'address'), v.address));
    const service: Omit<Service, 'hash'> = {
      key: hostname,
      name: requireString('name', proto.name),
      namespace: requireString('namespace', proto.namespace),
      hostname,
      vips,
      headless: proto.headless,
      ports,
      endpoints,
      ...(proto.waypoint === undefined ? {} : { waypoint: fromWaypointRef('waypoint', proto.waypoint) }),
      labels: labels(proto.labels),
      ...(proto.selector === undefined ? {} : { selector: labels(proto.selector.matchLabels) }),
      authorizationPolicies: distinctStrings('authorization_policies', proto.authorizationPolicies),
    };
    return withHash(service);
  });
}
