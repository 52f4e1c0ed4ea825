// weft.v1 resources: names, per-resource validation, and encode/decode for the cache and the
// delta client. Checks here are wire-level (shape, sizes, required keys); meaning is checked by
// the policy-domain conversion that consumes the decoded value.
import type { DecodeResult, ResourceTypeConfig } from './client/delta-client.ts';
import { Authorization, AuthorizationAction } from './gen/weft/v1/authorization.ts';
import { BackendPolicy } from './gen/weft/v1/backend_policy.ts';
import type { NetworkAddress, WaypointRef } from './gen/weft/v1/common.ts';
import { HttpRoutes } from './gen/weft/v1/http_routes.ts';
import { Service } from './gen/weft/v1/service.ts';
import { Waypoint } from './gen/weft/v1/waypoint.ts';
import { Workload } from './gen/weft/v1/workload.ts';
import { type CachedResource, encodeResource } from './resource.ts';
import { WEFT_TYPE_URL } from './type-urls.ts';
import { StringTable } from './wire-reader.ts';
import { decodeWorkloadAt } from './workload-decode.ts';

export interface WeftMessages {
  workload: Workload;
  service: Service;
  authorization: Authorization;
  httpRoutes: HttpRoutes;
  backendPolicy: BackendPolicy;
  waypoint: Waypoint;
}

export type WeftKind = keyof WeftMessages;

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

const codecs: { [K in WeftKind]: Codec<WeftMessages[K]> } = {
  workload: Workload,
  service: Service,
  authorization: Authorization,
  httpRoutes: HttpRoutes,
  backendPolicy: BackendPolicy,
  waypoint: Waypoint,
};

/**
 * Resource names: Workload `uid`; Service `<namespace>/<hostname>`; Authorization
 * `<namespace>/<name>`; HttpRoutes `<hostname>:<port>`; BackendPolicy `<namespace>/<hostname>`;
 * Waypoint `<namespace>/<name>` of its Gateway.
 */
export const weftResourceName: { [K in WeftKind]: (m: WeftMessages[K]) => string } = {
  workload: (w) => w.uid,
  service: (s) => `${s.namespace}/${s.hostname}`,
  authorization: (a) => `${a.namespace}/${a.name}`,
  httpRoutes: (r) => `${r.hostname}:${r.port}`,
  backendPolicy: (b) => `${b.namespace}/${b.hostname}`,
  waypoint: (w) => `${w.namespace}/${w.name}`,
};

function ipLen(field: string, b: Uint8Array): string | undefined {
  return b.length === 4 || b.length === 16 ? undefined : `${field}: ${b.length} bytes, want 4 or 16`;
}

function checkAddress(field: string, a: NetworkAddress | undefined): string | undefined {
  return a === undefined ? undefined : ipLen(`${field}.address`, a.address);
}

function checkWaypoint(w: WaypointRef | undefined): string | undefined {
  if (w === undefined) return undefined;
  // A waypoint named by its Gateway alone is declared but not deployed: traffic to it must fail.
  if (w.address === undefined && w.hostname === undefined && w.gateway === '')
    return 'waypoint: needs address or hostname';
  if (w.hbonePort > 65535) return `waypoint.hbone_port: ${w.hbonePort} out of range`;
  return checkAddress('waypoint', w.address);
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

function first(...checks: Array<() => string | undefined>): string | undefined {
  for (const c of checks) {
    const e = c();
    if (e !== undefined) return e;
  }
  return undefined;
}

// Straight-line: it runs once per Workload of every full sync (no closures or iterators).
function validateWorkload(w: Workload): string | undefined {
  if (w.uid === '') return 'uid: empty';
  const addresses = w.addresses;
  for (let i = 0; i < addresses.length; i++) {
    const e = ipLen(`addresses[${i}]`, addresses[i] as Uint8Array);
    if (e !== undefined) return e;
  }
  return w.waypoint === undefined ? undefined : checkWaypoint(w.waypoint);
}

/** Wire-level checks; returns the first problem, naming the field. */
export const validateWeft: { [K in WeftKind]: (m: WeftMessages[K]) => string | undefined } = {
  workload: validateWorkload,
  service: (s) =>
    first(
      () => (s.hostname === '' ? 'hostname: empty' : undefined),
      () => (s.namespace === '' ? 'namespace: empty' : undefined),
      () => {
        for (const [i, v] of s.vips.entries()) {
          const e = checkAddress(`vips[${i}]`, v);
          if (e !== undefined) return e;
        }
        for (const [i, p] of s.ports.entries()) {
          if (!validPort(p.port)) return `ports[${i}].port: ${p.port} out of range`;
          if (p.targetPort > 65535) return `ports[${i}].target_port: ${p.targetPort} out of range`;
        }
        for (const [i, e] of s.endpoints.entries()) {
          if (e.workloadUid === '') return `endpoints[${i}].workload_uid: empty`;
        }
        return undefined;
      },
      () => checkWaypoint(s.waypoint),
    ),
  authorization: (a) =>
    first(
      () => (a.name === '' ? 'name: empty' : undefined),
      () => (a.namespace === '' ? 'namespace: empty' : undefined),
      () => (a.action === AuthorizationAction.AUTHORIZATION_ACTION_UNSPECIFIED ? 'action: unset' : undefined),
      () => (a.scope === 0 ? 'scope: unset' : undefined),
    ),
  httpRoutes: (r) =>
    first(
      () => (r.hostname === '' ? 'hostname: empty' : undefined),
      () => (r.port > 65535 ? `port: ${r.port} out of range` : undefined),
      () => {
        for (const [i, rule] of r.rules.entries()) {
          for (const [j, b] of rule.backends.entries()) {
            if (b.hostname === '') return `rules[${i}].backends[${j}].hostname: empty`;
          }
          // A rule with no backends (and no redirect) is valid: Gateway API has the proxy answer
          // 500 for it, so it must reach the proxy rather than be NACKed with its whole table.
        }
        return undefined;
      },
    ),
  backendPolicy: (b) => first(() => (b.hostname === '' ? 'hostname: empty' : undefined)),
  waypoint: (w) =>
    first(
      () => (w.name === '' ? 'name: empty' : undefined),
      () => (w.namespace === '' ? 'namespace: empty' : undefined),
      () => {
        for (const [i, a] of w.addresses.entries()) {
          const e = checkAddress(`addresses[${i}]`, a);
          if (e !== undefined) return e;
        }
        for (const [i, l] of w.listeners.entries()) {
          if (!validPort(l.port)) return `listeners[${i}].port: ${l.port} out of range`;
        }
        for (const [i, uid] of w.workloads.entries()) if (uid === '') return `workloads[${i}]: empty`;
        return undefined;
      },
    ),
};

/** Encodes a weft.v1 message as a cache resource under its canonical name. */
export function weftResource<K extends WeftKind>(
  kind: K,
  message: WeftMessages[K],
  version?: string,
): CachedResource {
  return encodeResource(WEFT_TYPE_URL[kind], codecs[kind], weftResourceName[kind](message), message, version);
}

/** Decodes + validates one weft.v1 resource; the name must match the content. */
export function decodeWeft<K extends WeftKind>(
  kind: K,
  bytes: Uint8Array,
  name: string,
): DecodeResult<WeftMessages[K]> {
  return decodeWeftAt(kind, bytes, 0, bytes.length, name);
}

/**
 * `decodeWeft` of the resource in `buf[start, end)`, read in place. `strings` (one per client)
 * lets repeated short strings be shared instead of built again for every resource.
 */
export function decodeWeftAt<K extends WeftKind>(
  kind: K,
  buf: Uint8Array,
  start: number,
  end: number,
  name: string,
  strings?: StringTable,
): DecodeResult<WeftMessages[K]> {
  let value: WeftMessages[K];
  try {
    value =
      kind === 'workload'
        ? (decodeWorkloadAt(buf, start, end, strings, name) as WeftMessages[K])
        : codecs[kind].decode(buf.subarray(start, end));
  } catch (err) {
    return {
      ok: false,
      error: `malformed ${WEFT_TYPE_URL[kind]}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const problem = validateWeft[kind](value);
  if (problem !== undefined) return { ok: false, error: problem };
  const expected = weftResourceName[kind](value);
  if (expected !== name) return { ok: false, error: `name: resource is "${expected}", sent as "${name}"` };
  return { ok: true, value };
}

/** Delta client type config for a weft.v1 kind (wildcard unless names are given). */
export function weftResourceType<K extends WeftKind>(
  kind: K,
  subscribe?: readonly string[],
): ResourceTypeConfig<WeftMessages[K]> {
  // One table per config, so per client: clients never share decoded strings. Only the
  // Workload decoder reads through it.
  const strings = kind === 'workload' ? new StringTable() : undefined;
  return {
    typeUrl: WEFT_TYPE_URL[kind],
    decode: (bytes, name) => decodeWeftAt(kind, bytes, 0, bytes.length, name, strings),
    decodeAt: (buf, start, end, name) => decodeWeftAt(kind, buf, start, end, name, strings),
    ...(subscribe === undefined ? {} : { subscribe }),
  };
}
