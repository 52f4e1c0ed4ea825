// compile(objects) -> { snapshot, errors, warnings, stats }: validate each object alone, then
// build the immutable MeshSnapshot. Never throws on bad input.
import type { AuthzPolicy } from '../authz/types.ts';
import { type ValidationError, type ValidationErrorCode, validationError } from '../errors.ts';
import { contentHash } from '../hash.ts';
import { resolveWorkloadPeerAuthentication } from '../peerauthn/resolve.ts';
import type { NamespaceResource, PodResource, ServiceResource } from '../schemas/core.ts';
import type {
  GatewayResource,
  GRPCRouteResource,
  HTTPRouteResource,
  TCPRouteResource,
} from '../schemas/gateway.ts';
import type { DestinationRuleResource, VirtualServiceResource } from '../schemas/networking.ts';
import { isNamespacedKind, type MeshKind, type MeshObject, validateObject } from '../schemas/registry.ts';
import type { AuthorizationPolicyResource, PeerAuthenticationResource } from '../schemas/security.ts';
import type {
  MeshSnapshot,
  NamespaceInfo,
  PeerAuthenticationPolicy,
  Service,
  Waypoint,
  Workload,
  WorkloadPeerAuthentication,
} from '../snapshot.ts';
import { compileAuthorizationPolicy, indexAuthorization } from './authorization.ts';
import { compileBackendPolicies } from './backends.ts';
import { CompileContext, type CompileOptions, keyOf, olderFirst, sortedRecord } from './context.ts';
import { buildInventory } from './inventory.ts';
import { compilePeerAuthentication } from './peer-authentication.ts';
import { compileRoutes } from './routes.ts';

export interface CompileStats {
  /** Objects given. */
  readonly objects: number;
  /** Objects that passed validation and were used. */
  readonly accepted: number;
  /** Objects rejected (invalid, unknown kind, duplicate). */
  readonly rejected: number;
  readonly warnings: number;
  /** Errors and warnings by code: the counters a control plane exports. */
  readonly byCode: Readonly<Partial<Record<ValidationErrorCode, number>>>;
}

export interface CompileResult {
  readonly snapshot: MeshSnapshot;
  /** Objects that were not used, each with the reason. */
  readonly errors: readonly ValidationError[];
  /** Objects used with a problem (unresolved reference, conflict, ignored part). */
  readonly warnings: readonly ValidationError[];
  readonly stats: CompileStats;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function withHash<T extends object>(value: T): T & { readonly hash: string } {
  return { ...value, hash: contentHash(value) };
}

/** Rank of a duplicate: the newer resourceVersion wins; ties by content so input order is irrelevant. */
function preferred(a: MeshObject, b: MeshObject): MeshObject {
  const ra = Number(a.metadata.resourceVersion ?? Number.NaN);
  const rb = Number(b.metadata.resourceVersion ?? Number.NaN);
  if (Number.isFinite(ra) && Number.isFinite(rb) && ra !== rb) return ra > rb ? a : b;
  return contentHash(a) <= contentHash(b) ? a : b;
}

/** Flattens Kubernetes `List` objects (what `kubectl get -o yaml` prints) into their items. */
function* flatten(objects: Iterable<unknown>, depth = 0): Generator<unknown> {
  for (const o of objects) {
    const rec = o as { kind?: unknown; items?: unknown } | null;
    if (
      depth < 4 &&
      typeof rec === 'object' &&
      rec !== null &&
      typeof rec.kind === 'string' &&
      rec.kind.endsWith('List') &&
      Array.isArray(rec.items)
    ) {
      yield* flatten(rec.items, depth + 1);
    } else {
      yield o;
    }
  }
}

/**
 * Validates every object alone and compiles the valid ones into a MeshSnapshot. Never throws on
 * bad input: rejected objects are in `errors`, problems of accepted ones in `warnings`.
 * `List` objects are flattened.
 */
export function compile(objects: Iterable<unknown>, options: CompileOptions = {}): CompileResult {
  const ctx = new CompileContext(options);
  const defaultNamespace = options.defaultNamespace ?? 'default';
  const errors: ValidationError[] = [];
  const chosen = new Map<string, MeshObject>();
  let count = 0;
  for (const raw of flatten(objects)) {
    count++;
    const result = validateObject(raw);
    if (!result.ok) {
      errors.push(result.error);
      continue;
    }
    let obj = result.object;
    if (isNamespacedKind(obj.kind) && obj.metadata.namespace === undefined) {
      obj = { ...obj, metadata: { ...obj.metadata, namespace: defaultNamespace } } as MeshObject;
    }
    const id = `${obj.kind}/${keyOf(obj)}`;
    const prev = chosen.get(id);
    if (prev) {
      const keep = preferred(prev, obj);
      const drop = keep === prev ? obj : prev;
      chosen.set(id, keep);
      errors.push(
        validationError(
          'duplicate',
          {
            apiVersion: drop.apiVersion,
            kind: drop.kind,
            namespace: drop.metadata.namespace,
            name: drop.metadata.name,
          },
          [
            {
              path: 'metadata.name',
              message: 'another object has the same kind, namespace and name; this copy is ignored',
            },
          ],
        ),
      );
    } else {
      chosen.set(id, obj);
    }
  }

  const byKind = <K extends MeshKind>(kind: K) =>
    [...chosen.values()]
      .filter((o): o is Extract<MeshObject, { kind: K }> => o.kind === kind)
      .sort(olderFirst);
  const namespaces = byKind('Namespace') as NamespaceResource[];
  const pods = byKind('Pod') as PodResource[];
  const services = byKind('Service') as ServiceResource[];
  const gateways = byKind('Gateway') as GatewayResource[];
  const authz = byKind('AuthorizationPolicy') as AuthorizationPolicyResource[];
  const peerAuthn = byKind('PeerAuthentication') as PeerAuthenticationResource[];
  const httpRoutes = byKind('HTTPRoute') as HTTPRouteResource[];
  const grpcRoutes = byKind('GRPCRoute') as GRPCRouteResource[];
  const tcpRoutes = byKind('TCPRoute') as TCPRouteResource[];
  const destinationRules = byKind('DestinationRule') as DestinationRuleResource[];
  const virtualServices = byKind('VirtualService') as VirtualServiceResource[];

  const inventory = buildInventory(ctx, { namespaces, pods, services, gateways });

  const compiledAuthz = authz.map((object) => ({ object, policy: compileAuthorizationPolicy(ctx, object) }));
  const index = indexAuthorization(ctx, compiledAuthz, inventory);
  const authorizationPolicies = sortedRecord<AuthzPolicy>(
    compiledAuthz.map(({ policy }) => [policy.key, policy]),
  );

  const paPolicies = peerAuthn.map((o) => compilePeerAuthentication(ctx, o));
  const peerAuthenticationPolicies = sortedRecord<PeerAuthenticationPolicy>(
    paPolicies.map((p) => [p.key, p]),
  );
  const paSet = { rootNamespace: ctx.rootNamespace, policies: paPolicies };

  const workloads = sortedRecord<Workload>(
    inventory.workloads.map(({ hostNetwork: _h, ...w }) => [
      w.key,
      withHash({ ...w, authorizationPolicies: index.byWorkload.get(w.uid) ?? [] }),
    ]),
  );
  const peerAuthentication = sortedRecord<WorkloadPeerAuthentication>(
    inventory.workloads.map((w) => {
      const r = resolveWorkloadPeerAuthentication(paSet, w);
      return [w.uid, withHash({ key: w.uid, mode: r.mode, ports: sortedRecord(Object.entries(r.ports)) })];
    }),
  );
  const servicesOut = sortedRecord<Service>(
    inventory.services.map((s) => [
      s.key,
      withHash({ ...s, authorizationPolicies: index.byService.get(s.hostname) ?? [] }),
    ]),
  );
  const waypoints = sortedRecord<Waypoint>(
    inventory.waypoints.map((w) => [
      w.key,
      withHash({ ...w, authorizationPolicies: index.byWaypoint.get(w.key) ?? [] }),
    ]),
  );
  const nsNames = new Set<string>([
    ...inventory.namespaceLabels.keys(),
    ...inventory.workloads.map((w) => w.namespace),
    ...inventory.services.map((s) => s.namespace),
  ]);
  const namespacesOut = sortedRecord<NamespaceInfo>(
    [...nsNames].map((name) => [
      name,
      withHash({ key: name, name, labels: inventory.namespaceLabels.get(name) ?? {} }),
    ]),
  );
  const routes = compileRoutes(ctx, { httpRoutes, grpcRoutes, tcpRoutes, virtualServices }, inventory);
  const backendPolicies = compileBackendPolicies(ctx, destinationRules, inventory);

  const body = {
    trustDomain: ctx.trustDomain,
    rootNamespace: ctx.rootNamespace,
    clusterDomain: ctx.clusterDomain,
    namespaces: namespacesOut,
    workloads,
    services: servicesOut,
    waypoints,
    authorizationPolicies,
    peerAuthenticationPolicies,
    peerAuthentication,
    routes,
    backendPolicies,
  };
  const versionInput: Record<string, unknown> = {
    trustDomain: body.trustDomain,
    rootNamespace: body.rootNamespace,
    clusterDomain: body.clusterDomain,
  };
  for (const [name, coll] of Object.entries(body)) {
    if (typeof coll === 'object') {
      versionInput[name] = Object.fromEntries(
        Object.entries(coll as Record<string, { hash: string }>).map(([k, v]) => [k, v.hash]),
      );
    }
  }
  const snapshot: MeshSnapshot = deepFreeze({ version: contentHash(versionInput), ...body });

  const warnings = ctx.warnings;
  const byCode: Partial<Record<ValidationErrorCode, number>> = {};
  for (const e of [...errors, ...warnings]) byCode[e.code] = (byCode[e.code] ?? 0) + 1;
  const stats: CompileStats = {
    objects: count,
    accepted: chosen.size,
    rejected: errors.length,
    warnings: warnings.length,
    byCode,
  };
  return deepFreeze({ snapshot, errors, warnings, stats });
}
