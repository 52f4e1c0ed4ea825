// The kinds the mesh reads, keyed by API group and kind, with one entry point to validate a
// raw object (from the Kubernetes API or a YAML file) and one to publish JSON Schemas.
import { type core, z } from 'zod';
import { formatPath, type ValidationError, type ValidationIssue, validationError } from '../errors.ts';
import {
  type NamespaceResource,
  namespaceSchema,
  type PodResource,
  podSchema,
  type ServiceAccountResource,
  type ServiceResource,
  serviceAccountSchema,
  serviceSchema,
} from './core.ts';
import {
  type GatewayResource,
  type GRPCRouteResource,
  gatewaySchema,
  grpcRouteSchema,
  type HTTPRouteResource,
  httpRouteSchema,
  type TCPRouteResource,
  tcpRouteSchema,
} from './gateway.ts';
import {
  type DestinationRuleResource,
  destinationRuleSchema,
  type VirtualServiceResource,
  virtualServiceSchema,
} from './networking.ts';
import {
  type AuthorizationPolicyResource,
  authorizationPolicySchema,
  type PeerAuthenticationResource,
  peerAuthenticationSchema,
} from './security.ts';

/** Every object the mesh reads, after validation. `kind` discriminates. */
export type MeshObject =
  | NamespaceResource
  | PodResource
  | ServiceResource
  | ServiceAccountResource
  | AuthorizationPolicyResource
  | PeerAuthenticationResource
  | GatewayResource
  | HTTPRouteResource
  | GRPCRouteResource
  | TCPRouteResource
  | DestinationRuleResource
  | VirtualServiceResource;

export type MeshKind = MeshObject['kind'];

interface KindEntry {
  readonly group: string;
  readonly kind: MeshKind;
  readonly namespaced: boolean;
  readonly schema: z.ZodType;
}

const KINDS: readonly KindEntry[] = [
  { group: '', kind: 'Namespace', namespaced: false, schema: namespaceSchema },
  { group: '', kind: 'Pod', namespaced: true, schema: podSchema },
  { group: '', kind: 'Service', namespaced: true, schema: serviceSchema },
  { group: '', kind: 'ServiceAccount', namespaced: true, schema: serviceAccountSchema },
  {
    group: 'security.istio.io',
    kind: 'AuthorizationPolicy',
    namespaced: true,
    schema: authorizationPolicySchema,
  },
  {
    group: 'security.istio.io',
    kind: 'PeerAuthentication',
    namespaced: true,
    schema: peerAuthenticationSchema,
  },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespaced: true, schema: gatewaySchema },
  { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespaced: true, schema: httpRouteSchema },
  { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespaced: true, schema: grpcRouteSchema },
  { group: 'gateway.networking.k8s.io', kind: 'TCPRoute', namespaced: true, schema: tcpRouteSchema },
  { group: 'networking.istio.io', kind: 'DestinationRule', namespaced: true, schema: destinationRuleSchema },
  { group: 'networking.istio.io', kind: 'VirtualService', namespaced: true, schema: virtualServiceSchema },
];

/** The kinds Weft reads, as `group/kind` ("" group for core/v1). */
export const MESH_KINDS: readonly MeshKind[] = KINDS.map((k) => k.kind);

export function isNamespacedKind(kind: MeshKind): boolean {
  return KINDS.find((k) => k.kind === kind)?.namespaced ?? true;
}

export type ValidateResult =
  | { readonly ok: true; readonly object: MeshObject }
  | { readonly ok: false; readonly error: ValidationError };

const MAX_DEPTH = 48;

/** Copies a value into plain JSON data (Dates become ISO strings, undefined members vanish). */
function toPlainJson(value: unknown, depth: number, seen: Set<object>): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('non-finite number');
    return value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error('invalid date');
    return value.toISOString().replace(/\.000Z$/, 'Z');
  }
  if (typeof value !== 'object') throw new Error(`unsupported value of type ${typeof value}`);
  if (depth > MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH} levels`);
  if (seen.has(value)) throw new Error('cyclic structure');
  seen.add(value);
  try {
    if (Array.isArray(value))
      return value.map((v) => (v === undefined ? null : toPlainJson(v, depth + 1, seen)));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (k === '__proto__') throw new Error('"__proto__" is not an allowed field name');
      out[k] = toPlainJson(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  corsPolicy: 'CORS policies are not supported',
  tcp: 'VirtualService tcp routes are not supported; use a TCPRoute',
  tls: 'TLS routing in VirtualService is not supported; use a TCPRoute',
  delegate: 'VirtualService delegation is not supported',
  directResponse: 'directResponse is not supported',
  sessionPersistence: 'session persistence is not supported',
  sourceLabels:
    'matching on source labels is not supported; use an AuthorizationPolicy for source conditions',
  sourceNamespace:
    'matching on source namespace is not supported; use an AuthorizationPolicy for source conditions',
  serviceAccounts: 'serviceAccounts is not supported; use principals',
  notServiceAccounts: 'notServiceAccounts is not supported; use notPrincipals',
  workloadSelector: 'workloadSelector on DestinationRule is not supported',
  tunnel: 'tunnel settings are not supported',
  proxyProtocol: 'proxyProtocol is not supported',
  localityLbSetting: 'locality load balancing is not supported',
};

function issuesFromZod(error: z.ZodError): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const visit = (issue: core.$ZodIssue, prefix: readonly PropertyKey[]) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const hint = UNSUPPORTED_FIELDS[key];
        out.push({
          path: formatPath([...path, key]),
          message: hint ? `${hint} (field "${key}")` : `unknown field "${key}"`,
        });
      }
      return;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.message === 'Invalid input') {
      // Report the branch that got furthest rather than zod's generic union message.
      const best = issue.errors.reduce((a, b) => (deepest(b) > deepest(a) ? b : a));
      for (const sub of best) visit(sub, path);
      return;
    }
    out.push({ path: formatPath(path), message: issue.message });
  };
  for (const issue of error.issues) visit(issue, []);
  return out;
}

function deepest(issues: readonly core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Validates one raw object. Never throws: a bad object gives `{ ok: false, error }` naming the
 * object (kind, namespace, name) and the field path.
 */
export function validateObject(raw: unknown): ValidateResult {
  const head = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const meta = (typeof head.metadata === 'object' && head.metadata !== null ? head.metadata : {}) as Record<
    string,
    unknown
  >;
  const ref = {
    apiVersion: str(head.apiVersion),
    kind: str(head.kind),
    namespace: str(meta.namespace),
    name: str(meta.name),
  };
  let plain: unknown;
  try {
    plain = toPlainJson(raw, 0, new Set());
  } catch (err) {
    return {
      ok: false,
      error: validationError('invalid', ref, [{ path: '', message: (err as Error).message }]),
    };
  }
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { ok: false, error: validationError('invalid', ref, [{ path: '', message: 'object expected' }]) };
  }
  if (ref.apiVersion === undefined || ref.kind === undefined) {
    return {
      ok: false,
      error: validationError('invalid', ref, [
        {
          path: ref.apiVersion === undefined ? 'apiVersion' : 'kind',
          message: 'apiVersion and kind are required',
        },
      ]),
    };
  }
  const slash = ref.apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash);
  const entry = KINDS.find((k) => k.group === group && k.kind === ref.kind);
  if (!entry) {
    return {
      ok: false,
      error: validationError('unknown-kind', ref, [
        { path: 'kind', message: `${ref.apiVersion} ${ref.kind} is not a kind Weft reads; ignored` },
      ]),
    };
  }
  const parsed = entry.schema.safeParse(plain);
  if (!parsed.success) {
    return { ok: false, error: validationError('invalid', ref, issuesFromZod(parsed.error)) };
  }
  const object = parsed.data as MeshObject;
  if (!entry.namespaced && object.metadata.namespace !== undefined) {
    const { namespace: _ignored, ...metadata } = object.metadata;
    return { ok: true, object: { ...object, metadata } as MeshObject };
  }
  return { ok: true, object };
}

export type JsonSchemaTarget = 'draft-2020-12' | 'draft-07' | 'openapi-3.0';

/**
 * JSON Schemas for every kind, generated from the same zod schemas that validate. Refinements
 * (cross-field checks, CIDR syntax, regex safety) are not expressible in JSON Schema, so the
 * published schemas accept a superset of what validateObject accepts.
 */
export function jsonSchemas(
  options: { target?: JsonSchemaTarget } = {},
): Record<MeshKind, Record<string, unknown>> {
  const target = options.target ?? 'draft-2020-12';
  const out = {} as Record<MeshKind, Record<string, unknown>>;
  for (const entry of KINDS) {
    const schema = z.toJSONSchema(entry.schema, {
      io: 'input',
      unrepresentable: 'any',
      target: target === 'draft-07' ? 'draft-7' : target,
    }) as Record<string, unknown>;
    out[entry.kind] = { title: entry.kind, ...schema };
  }
  return out;
}
