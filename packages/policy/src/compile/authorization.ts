// AuthorizationPolicy -> AuthzPolicy (normalized rules) and the index of which policies apply
// to which workload, service and waypoint.
import type {
  AuthzCondition,
  AuthzOperation,
  AuthzPolicy,
  AuthzRule,
  AuthzSource,
  AuthzTarget,
} from '../authz/types.ts';
import { contentHash } from '../hash.ts';
import { selectorMatches } from '../labels.ts';
import { formatCidr, parseCidr } from '../net/ip.ts';
import type { AuthorizationPolicyResource } from '../schemas/security.ts';
import { byString, type CompileContext, nsOf } from './context.ts';
import type { Inventory } from './inventory.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function stripSpiffe(value: string): string {
  return value.startsWith('spiffe://') ? value.slice('spiffe://'.length) : value;
}

function canonicalCidr(value: string): string {
  const c = parseCidr(value);
  return c ? formatCidr(c) : value;
}

function toPort(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

type RawRule = NonNullable<NonNullable<AuthorizationPolicyResource['spec']>['rules']>[number];

function compileRule(rule: RawRule): AuthzRule {
  const from: AuthzSource[] = (rule.from ?? []).map(({ source: s }) => {
    const out: Mutable<AuthzSource> = {};
    if (s.principals) out.principals = s.principals.map(stripSpiffe);
    if (s.notPrincipals) out.notPrincipals = s.notPrincipals.map(stripSpiffe);
    if (s.requestPrincipals) out.requestPrincipals = [...s.requestPrincipals];
    if (s.notRequestPrincipals) out.notRequestPrincipals = [...s.notRequestPrincipals];
    if (s.namespaces) out.namespaces = [...s.namespaces];
    if (s.notNamespaces) out.notNamespaces = [...s.notNamespaces];
    if (s.ipBlocks) out.ipBlocks = s.ipBlocks.map(canonicalCidr);
    if (s.notIpBlocks) out.notIpBlocks = s.notIpBlocks.map(canonicalCidr);
    if (s.remoteIpBlocks) out.remoteIpBlocks = s.remoteIpBlocks.map(canonicalCidr);
    if (s.notRemoteIpBlocks) out.notRemoteIpBlocks = s.notRemoteIpBlocks.map(canonicalCidr);
    return out;
  });
  const to: AuthzOperation[] = (rule.to ?? []).map(({ operation: o }) => {
    const out: Mutable<AuthzOperation> = {};
    if (o.hosts) out.hosts = o.hosts.map((h) => h.toLowerCase());
    if (o.notHosts) out.notHosts = o.notHosts.map((h) => h.toLowerCase());
    if (o.ports) out.ports = o.ports.map(toPort);
    if (o.notPorts) out.notPorts = o.notPorts.map(toPort);
    if (o.methods) out.methods = [...o.methods];
    if (o.notMethods) out.notMethods = [...o.notMethods];
    if (o.paths) out.paths = [...o.paths];
    if (o.notPaths) out.notPaths = [...o.notPaths];
    return out;
  });
  const when: AuthzCondition[] = (rule.when ?? []).map((c) => {
    const isIp = c.key === 'source.ip' || c.key === 'remote.ip' || c.key === 'destination.ip';
    const norm = (v: string) => (isIp ? canonicalCidr(v) : c.key === 'source.principal' ? stripSpiffe(v) : v);
    return {
      key: c.key,
      ...(c.values ? { values: c.values.map(norm) } : {}),
      ...(c.notValues ? { notValues: c.notValues.map(norm) } : {}),
    };
  });
  return { from, to, when };
}

export function compileAuthorizationPolicy(
  ctx: CompileContext,
  obj: AuthorizationPolicyResource,
): AuthzPolicy {
  const namespace = nsOf(obj);
  const spec = obj.spec ?? {};
  const refs = [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
  const selector = spec.selector?.matchLabels;
  const base = {
    key: `${namespace}/${obj.metadata.name}`,
    name: obj.metadata.name,
    namespace,
    action: spec.action ?? 'ALLOW',
    rules: (spec.rules ?? []).map(compileRule),
  } as const;
  let policy: Omit<AuthzPolicy, 'hash'>;
  if (refs.length > 0) {
    const targets: AuthzTarget[] = refs
      .map((r) => ({ kind: r.kind as AuthzTarget['kind'], namespace, name: r.name }))
      .sort((a, b) => byString(`${a.kind}/${a.name}`, `${b.kind}/${b.name}`));
    policy = { ...base, scope: 'targets', targets };
  } else if (selector && Object.keys(selector).length > 0) {
    policy = { ...base, scope: 'workload', selector };
  } else {
    policy = { ...base, scope: namespace === ctx.rootNamespace ? 'mesh' : 'namespace' };
  }
  return { ...policy, hash: contentHash(policy) };
}

export interface AuthorizationIndex {
  readonly byWorkload: ReadonlyMap<string, string[]>;
  readonly byService: ReadonlyMap<string, string[]>;
  readonly byWaypoint: ReadonlyMap<string, string[]>;
}

/** Which policies apply to which workload (mesh, namespace, selector) and which targetRefs name
 * which service or waypoint. Unresolved targetRefs are reported. */
export function indexAuthorization(
  ctx: CompileContext,
  policies: readonly { readonly policy: AuthzPolicy; readonly object: AuthorizationPolicyResource }[],
  inventory: Inventory,
): AuthorizationIndex {
  const byWorkload = new Map<string, string[]>();
  const byService = new Map<string, string[]>();
  const byWaypoint = new Map<string, string[]>();
  const add = (map: Map<string, string[]>, key: string, policy: string) => {
    const list = map.get(key);
    if (list) list.push(policy);
    else map.set(key, [policy]);
  };
  for (const { policy, object } of policies) {
    switch (policy.scope) {
      case 'mesh':
        for (const w of inventory.workloads) add(byWorkload, w.uid, policy.key);
        break;
      case 'namespace':
        for (const w of inventory.workloads)
          if (w.namespace === policy.namespace) add(byWorkload, w.uid, policy.key);
        break;
      case 'workload':
        for (const w of inventory.workloads) {
          const inScope = policy.namespace === ctx.rootNamespace || w.namespace === policy.namespace;
          if (inScope && selectorMatches(policy.selector, w.labels)) add(byWorkload, w.uid, policy.key);
        }
        break;
      case 'targets':
        (policy.targets ?? []).forEach((t) => {
          const refs = object.spec?.targetRefs ?? [];
          const at = refs.findIndex((r) => r.kind === t.kind && r.name === t.name);
          const path = at >= 0 ? `spec.targetRefs[${at}]` : 'spec.targetRef';
          if (t.kind === 'Service') {
            const svc = inventory.servicesByName.get(`${t.namespace}/${t.name}`);
            if (svc) add(byService, svc.hostname, policy.key);
            else ctx.warn('unresolved-reference', object, path, `Service ${t.namespace}/${t.name} not found`);
          } else {
            const key = `${t.namespace}/${t.name}`;
            if (inventory.waypoints.some((w) => w.key === key)) add(byWaypoint, key, policy.key);
            else ctx.warn('unresolved-reference', object, path, `waypoint Gateway ${key} not found`);
          }
        });
        break;
      default: {
        const never: never = policy.scope;
        throw new Error(`unreachable scope ${String(never)}`);
      }
    }
  }
  for (const map of [byWorkload, byService, byWaypoint]) for (const list of map.values()) list.sort(byString);
  return { byWorkload, byService, byWaypoint };
}
