// @weft/xds-protocol/convert: @weft/policy's compiled domain <-> the weft.v1 wire messages, one
// module per resource. `toProto*` is the control plane's half (total: the domain is already
// valid); `fromProto*` is the proxies' half and returns a value or an error naming the field, so a
// malformed resource is rejected alone (NACK) and never reaches a proxy's state.
import type { AuthzPolicy, BackendPolicy, RouteTable, Service, Waypoint } from '@weft/policy';
import type { DecodeResult, ResourceTypeConfig } from '../client/delta-client.ts';
import { WEFT_TYPE_URL } from '../type-urls.ts';
import { decodeWeftAt, type WeftKind, type WeftMessages } from '../weft-resources.ts';
import { StringTable } from '../wire-reader.ts';
import { fromProtoAuthorization } from './authorization.ts';
import { fromProtoBackendPolicy } from './backend-policy.ts';
import type { ConvertResult } from './common.ts';
import { fromProtoHttpRoutes } from './http-routes.ts';
import { fromProtoService } from './service.ts';
import { fromProtoWaypoint } from './waypoint.ts';
import { fromProtoWorkload, type WorkloadWithPeerAuthentication } from './workload.ts';

export { fromProtoAuthorization, toProtoAuthorization } from './authorization.ts';
export { fromProtoBackendPolicy, toProtoBackendPolicy } from './backend-policy.ts';
export type { ConvertResult } from './common.ts';
export { fromProtoHttpRoutes, toProtoHttpRoutes } from './http-routes.ts';
export { fromProtoService, toProtoService } from './service.ts';
export {
  fromProtoWaypoint,
  type SnapshotContext,
  toProtoWaypoint,
  WAYPOINT_HBONE_PORT,
} from './waypoint.ts';
export { fromProtoWorkload, toProtoWorkload, type WorkloadWithPeerAuthentication } from './workload.ts';

/** The domain value each weft.v1 kind converts to. */
export interface WeftDomain {
  workload: WorkloadWithPeerAuthentication;
  service: Service;
  authorization: AuthzPolicy;
  httpRoutes: RouteTable;
  backendPolicy: BackendPolicy;
  waypoint: Waypoint;
}

const fromProto: { [K in WeftKind]: (m: WeftMessages[K]) => ConvertResult<WeftDomain[K]> } = {
  workload: fromProtoWorkload,
  service: fromProtoService,
  authorization: fromProtoAuthorization,
  httpRoutes: fromProtoHttpRoutes,
  backendPolicy: fromProtoBackendPolicy,
  waypoint: fromProtoWaypoint,
};

/** Decodes, checks the wire form and the resource name, then converts to the domain. */
export function decodeDomain<K extends WeftKind>(
  kind: K,
  bytes: Uint8Array,
  name: string,
): DecodeResult<WeftDomain[K]> {
  return decodeDomainAt(kind, bytes, 0, bytes.length, name);
}

/** `decodeDomain` of the resource in `buf[start, end)`; see `decodeWeftAt`. */
export function decodeDomainAt<K extends WeftKind>(
  kind: K,
  buf: Uint8Array,
  start: number,
  end: number,
  name: string,
  strings?: StringTable,
): DecodeResult<WeftDomain[K]> {
  const wire = decodeWeftAt(kind, buf, start, end, name, strings);
  if (!wire.ok) return wire;
  const domain = fromProto[kind](wire.value);
  return domain.ok ? { ok: true, value: domain.value } : { ok: false, error: domain.error };
}

/**
 * A delta-client type config whose updates carry domain values (wildcard unless names are given):
 * `createDeltaAdsClient({ types: [domainResourceType('workload'), ...], ... })`.
 */
export function domainResourceType<K extends WeftKind>(
  kind: K,
  subscribe?: readonly string[],
): ResourceTypeConfig<WeftDomain[K]> {
  // One table per config, so per client: clients never share decoded strings. Only the
  // Workload decoder reads through it.
  const strings = kind === 'workload' ? new StringTable() : undefined;
  return {
    typeUrl: WEFT_TYPE_URL[kind],
    decode: (bytes, name) => decodeDomainAt(kind, bytes, 0, bytes.length, name, strings),
    decodeAt: (buf, start, end, name) => decodeDomainAt(kind, buf, start, end, name, strings),
    ...(subscribe === undefined ? {} : { subscribe }),
  };
}
