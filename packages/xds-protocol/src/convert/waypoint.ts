// Waypoint <-> weft.v1.Waypoint (the resource), and WaypointBinding <-> WaypointRef (how a Workload
// or Service names its waypoint). The binding names the waypoint Gateway and says where it
// listens; its wire form also carries the identity the waypoint must present, resolved from the
// snapshot when given. The resource is the compiled waypoint itself: who runs it (its pods), what
// traffic it serves and which policies name its Gateway.
import type { MeshSnapshot, Waypoint, WaypointBinding, WaypointTrafficType } from '@weft/policy';
import type { WaypointRef } from '../gen/weft/v1/common.ts';
import {
  WaypointTrafficType as ProtoTrafficType,
  type Waypoint as ProtoWaypoint,
} from '../gen/weft/v1/waypoint.ts';
import {
  at,
  type ConvertResult,
  checkedEnum,
  convert,
  distinctStrings,
  Invalid,
  ipBytes,
  ipText,
  optionalString,
  port,
  requireString,
  splitKey,
  withHash,
} from './common.ts';

export const WAYPOINT_HBONE_PORT = 15008;

/** The parts of a snapshot conversions read to resolve references (all optional). */
export type SnapshotContext = Partial<
  Pick<MeshSnapshot, 'waypoints' | 'workloads' | 'peerAuthentication' | 'trustDomain'>
>;

export function toWaypointRef(binding: WaypointBinding, context: SnapshotContext): WaypointRef {
  const addresses = binding.addresses.map((a) => ({ network: '', address: ipBytes(a) }));
  const ref: WaypointRef = {
    hbonePort: WAYPOINT_HBONE_PORT,
    identity: '',
    gateway: binding.key,
    addresses: { addresses },
  };
  if (binding.service !== undefined) ref.hostname = `${binding.namespace}/${binding.service}`;
  else if (addresses[0] !== undefined) ref.address = addresses[0];
  const wp = context.waypoints?.[binding.key];
  const pod = wp?.workloads[0] === undefined ? undefined : context.workloads?.[wp.workloads[0]];
  if (pod !== undefined) ref.identity = pod.identity;
  return ref;
}

export function fromWaypointRef(path: string, ref: WaypointRef): WaypointBinding {
  const { namespace, name } = splitKey(at(path, 'gateway'), ref.gateway);
  if (ref.address !== undefined) ipText(at(at(path, 'address'), 'address'), ref.address.address);
  let service: string | undefined;
  if (ref.hostname !== undefined) {
    const prefix = `${namespace}/`;
    if (!ref.hostname.startsWith(prefix) || ref.hostname.length === prefix.length) {
      throw new Invalid(at(path, 'hostname'), `${JSON.stringify(ref.hostname)} is not "${prefix}<hostname>"`);
    }
    service = ref.hostname.slice(prefix.length);
  }
  const addresses = (ref.addresses?.addresses ?? []).map((a, i) =>
    ipText(`${path}.addresses.addresses[${i}].address`, a.address),
  );
  return { key: ref.gateway, namespace, name, ...(service === undefined ? {} : { service }), addresses };
}

const TRAFFIC_TYPES: ReadonlyMap<WaypointTrafficType, ProtoTrafficType> = new Map<
  WaypointTrafficType,
  ProtoTrafficType
>([
  ['service', ProtoTrafficType.WAYPOINT_TRAFFIC_TYPE_SERVICE],
  ['workload', ProtoTrafficType.WAYPOINT_TRAFFIC_TYPE_WORKLOAD],
  ['all', ProtoTrafficType.WAYPOINT_TRAFFIC_TYPE_ALL],
  ['none', ProtoTrafficType.WAYPOINT_TRAFFIC_TYPE_NONE],
]);
const TRAFFIC_TYPE_OF: ReadonlyMap<number, WaypointTrafficType> = new Map(
  [...TRAFFIC_TYPES].map(([domain, wire]) => [wire, domain]),
);

export function toProtoWaypoint(waypoint: Waypoint): ProtoWaypoint {
  return {
    name: waypoint.name,
    namespace: waypoint.namespace,
    trafficType:
      TRAFFIC_TYPES.get(waypoint.trafficType) ?? ProtoTrafficType.WAYPOINT_TRAFFIC_TYPE_UNSPECIFIED,
    listeners: waypoint.listeners.map((l) => ({ name: l.name, port: l.port, protocol: l.protocol })),
    service: waypoint.service ?? '',
    addresses: waypoint.addresses.map((a) => ({ network: '', address: ipBytes(a) })),
    workloads: [...waypoint.workloads],
    authorizationPolicies: [...waypoint.authorizationPolicies],
  };
}

export function fromProtoWaypoint(proto: ProtoWaypoint): ConvertResult<Waypoint> {
  return convert(() => {
    const name = requireString('name', proto.name);
    const namespace = requireString('namespace', proto.namespace);
    const key = `${namespace}/${name}`;
    splitKey('name', key);
    const trafficType = checkedEnum('traffic_type', proto.trafficType, TRAFFIC_TYPE_OF, 'traffic type');
    const listeners = proto.listeners.map((l, i) => ({
      name: requireString(at(at('listeners', i), 'name'), l.name),
      port: port(at(at('listeners', i), 'port'), l.port),
      protocol: requireString(at(at('listeners', i), 'protocol'), l.protocol),
    }));
    const service = optionalString(proto.service);
    const addresses = proto.addresses.map((a, i) => ipText(at(at('addresses', i), 'address'), a.address));
    const waypoint: Omit<Waypoint, 'hash'> = {
      key,
      name,
      namespace,
      trafficType,
      listeners,
      ...(service === undefined ? {} : { service }),
      addresses,
      workloads: distinctStrings('workloads', proto.workloads),
      authorizationPolicies: distinctStrings('authorization_policies', proto.authorizationPolicies),
    };
    return withHash(waypoint);
  });
}
