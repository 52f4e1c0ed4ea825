// WaypointBinding (domain) <-> WaypointRef (wire). The binding names the waypoint Gateway and
// says where it listens; the wire form also carries the identity the waypoint must present,
// resolved from the snapshot when given, so a proxy needs no Waypoint resource to reach it.
import type { MeshSnapshot, WaypointBinding } from '@weft/policy';
import type { WaypointRef } from '../gen/weft/v1/common.ts';
import { at, Invalid, ipBytes, ipText, splitKey } from './common.ts';

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
