// AuthzPolicy <-> weft.v1.Authorization. Principals, namespaces, hosts, methods, paths and
// condition values are Istio wildcard strings ("x*", "*x", "*"), carried as StringMatch; IP
// blocks as CidrRange. A list that was given but empty matches nothing, so its name goes into
// `empty_fields` (an absent repeated field reads as "not given").
import type {
  AuthzAction,
  AuthzCondition,
  AuthzOperation,
  AuthzPolicy,
  AuthzRule,
  AuthzScope,
  AuthzSource,
  AuthzTarget,
} from '@weft/policy';
import {
  AuthorizationAction,
  AuthorizationScope,
  type Authorization as ProtoAuthorization,
  type Condition as ProtoCondition,
  type Operation as ProtoOperation,
  type AuthorizationRule as ProtoRule,
  type Source as ProtoSource,
} from '../gen/weft/v1/authorization.ts';
import type { CidrRange, StringMatch } from '../gen/weft/v1/common.ts';
import {
  at,
  type ConvertResult,
  checkedEnum,
  cidrRange,
  cidrText,
  convert,
  Invalid,
  labels,
  port,
  requireString,
  wildcardMatch,
  wildcardText,
  withHash,
} from './common.ts';

const ACTION_TO_PROTO: Readonly<Record<AuthzAction, AuthorizationAction>> = {
  ALLOW: AuthorizationAction.AUTHORIZATION_ACTION_ALLOW,
  DENY: AuthorizationAction.AUTHORIZATION_ACTION_DENY,
  AUDIT: AuthorizationAction.AUTHORIZATION_ACTION_AUDIT,
};
const ACTION_FROM_PROTO = new Map<number, AuthzAction>(
  Object.entries(ACTION_TO_PROTO).map(([k, v]) => [v, k as AuthzAction]),
);
const SCOPE_TO_PROTO: Readonly<Record<AuthzScope, AuthorizationScope>> = {
  mesh: AuthorizationScope.AUTHORIZATION_SCOPE_MESH,
  namespace: AuthorizationScope.AUTHORIZATION_SCOPE_NAMESPACE,
  workload: AuthorizationScope.AUTHORIZATION_SCOPE_WORKLOAD_SELECTOR,
  targets: AuthorizationScope.AUTHORIZATION_SCOPE_TARGET_REF,
};
const SCOPE_FROM_PROTO = new Map<number, AuthzScope>(
  Object.entries(SCOPE_TO_PROTO).map(([k, v]) => [v, k as AuthzScope]),
);
const TARGET_GROUP: Readonly<Record<AuthzTarget['kind'], string>> = {
  Gateway: 'gateway.networking.k8s.io',
  Service: '',
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// Domain field -> proto field, per message. Wildcard string lists, CIDR lists, port lists.
const SOURCE_STRINGS = [
  ['principals', 'principals'],
  ['notPrincipals', 'not_principals'],
  ['namespaces', 'namespaces'],
  ['notNamespaces', 'not_namespaces'],
  ['requestPrincipals', 'request_principals'],
  ['notRequestPrincipals', 'not_request_principals'],
] as const;
const SOURCE_CIDRS = [
  ['ipBlocks', 'ip_blocks'],
  ['notIpBlocks', 'not_ip_blocks'],
  ['remoteIpBlocks', 'remote_ip_blocks'],
  ['notRemoteIpBlocks', 'not_remote_ip_blocks'],
] as const;
const OPERATION_STRINGS = [
  ['hosts', 'hosts'],
  ['notHosts', 'not_hosts'],
  ['methods', 'methods'],
  ['notMethods', 'not_methods'],
  ['paths', 'paths'],
  ['notPaths', 'not_paths'],
] as const;
const OPERATION_PORTS = [
  ['ports', 'ports'],
  ['notPorts', 'not_ports'],
] as const;
const CONDITION_STRINGS = [
  ['values', 'values'],
  ['notValues', 'not_values'],
] as const;

/** proto_field -> camelCase key of the generated message. */
function camel(protoField: string): string {
  return protoField.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function sourceToProto(s: AuthzSource): ProtoSource {
  const out: Record<string, unknown> = { emptyFields: [] as string[] };
  const empty = out.emptyFields as string[];
  for (const [d, p] of SOURCE_STRINGS) {
    const v = s[d];
    out[camel(p)] = (v ?? []).map((x) => wildcardMatch(x));
    if (v !== undefined && v.length === 0) empty.push(p);
  }
  for (const [d, p] of SOURCE_CIDRS) {
    const v = s[d];
    out[camel(p)] = (v ?? []).map(cidrRange);
    if (v !== undefined && v.length === 0) empty.push(p);
  }
  return out as unknown as ProtoSource;
}

function operationToProto(o: AuthzOperation): ProtoOperation {
  const out: Record<string, unknown> = { emptyFields: [] as string[] };
  const empty = out.emptyFields as string[];
  for (const [d, p] of OPERATION_STRINGS) {
    const v = o[d];
    // Hosts compare case-insensitively (they are lower-cased at compile time).
    out[camel(p)] = (v ?? []).map((x) => wildcardMatch(x, d === 'hosts' || d === 'notHosts'));
    if (v !== undefined && v.length === 0) empty.push(p);
  }
  for (const [d, p] of OPERATION_PORTS) {
    const v = o[d];
    out[camel(p)] = [...(v ?? [])];
    if (v !== undefined && v.length === 0) empty.push(p);
  }
  return out as unknown as ProtoOperation;
}

function conditionToProto(c: AuthzCondition): ProtoCondition {
  const empty: string[] = [];
  if (c.values !== undefined && c.values.length === 0) empty.push('values');
  if (c.notValues !== undefined && c.notValues.length === 0) empty.push('not_values');
  return {
    key: c.key,
    values: (c.values ?? []).map((x) => wildcardMatch(x)),
    notValues: (c.notValues ?? []).map((x) => wildcardMatch(x)),
    emptyFields: empty,
  };
}

export function toProtoAuthorization(policy: AuthzPolicy): ProtoAuthorization {
  return {
    name: policy.name,
    namespace: policy.namespace,
    scope: SCOPE_TO_PROTO[policy.scope],
    selector: { ...(policy.selector ?? {}) },
    targetRefs: (policy.targets ?? []).map((t) => ({
      group: TARGET_GROUP[t.kind],
      kind: t.kind,
      name: t.name,
      namespace: t.namespace,
    })),
    action: ACTION_TO_PROTO[policy.action],
    rules: policy.rules.map(
      (r): ProtoRule => ({
        from: r.from.map(sourceToProto),
        to: r.to.map(operationToProto),
        when: r.when.map(conditionToProto),
      }),
    ),
    dryRun: false,
  };
}

/** Reads `empty_fields`: every name must be one of `allowed` and its list must be empty. */
function emptyFieldSet(
  path: string,
  names: readonly string[],
  allowed: readonly string[],
  message: Record<string, unknown>,
): Set<string> {
  const out = new Set<string>();
  names.forEach((n, i) => {
    if (!allowed.includes(n))
      throw new Invalid(at(at(path, 'empty_fields'), i), `${JSON.stringify(n)} is not a list field`);
    if ((message[camel(n)] as unknown[]).length > 0) {
      throw new Invalid(at(at(path, 'empty_fields'), i), `${n} is listed as empty but has values`);
    }
    out.add(n);
  });
  return out;
}

function list<T, U>(
  path: string,
  field: string,
  values: readonly T[],
  empty: ReadonlySet<string>,
  each: (path: string, v: T) => U,
): U[] | undefined {
  if (values.length === 0) return empty.has(field) ? [] : undefined;
  return values.map((v, i) => each(at(at(path, field), i), v));
}

function sourceFromProto(path: string, s: ProtoSource): AuthzSource {
  const msg = s as unknown as Record<string, unknown>;
  const empty = emptyFieldSet(
    path,
    s.emptyFields,
    [...SOURCE_STRINGS.map((x) => x[1]), ...SOURCE_CIDRS.map((x) => x[1])],
    msg,
  );
  const out: Mutable<AuthzSource> = {};
  for (const [d, p] of SOURCE_STRINGS) {
    const v = list(path, p, msg[camel(p)] as StringMatch[], empty, wildcardText);
    if (v !== undefined) out[d] = v;
  }
  for (const [d, p] of SOURCE_CIDRS) {
    const v = list(path, p, msg[camel(p)] as CidrRange[], empty, cidrText);
    if (v !== undefined) out[d] = v;
  }
  return out;
}

function operationFromProto(path: string, o: ProtoOperation): AuthzOperation {
  const msg = o as unknown as Record<string, unknown>;
  const empty = emptyFieldSet(
    path,
    o.emptyFields,
    [...OPERATION_STRINGS.map((x) => x[1]), ...OPERATION_PORTS.map((x) => x[1])],
    msg,
  );
  const out: Mutable<AuthzOperation> = {};
  for (const [d, p] of OPERATION_STRINGS) {
    const v = list(path, p, msg[camel(p)] as StringMatch[], empty, wildcardText);
    if (v !== undefined) out[d] = v;
  }
  for (const [d, p] of OPERATION_PORTS) {
    const v = list(path, p, msg[camel(p)] as number[], empty, port);
    if (v !== undefined) out[d] = v;
  }
  return out;
}

function conditionFromProto(path: string, c: ProtoCondition): AuthzCondition {
  const msg = c as unknown as Record<string, unknown>;
  const empty = emptyFieldSet(
    path,
    c.emptyFields,
    CONDITION_STRINGS.map((x) => x[1]),
    msg,
  );
  const values = list(path, 'values', c.values, empty, wildcardText);
  const notValues = list(path, 'not_values', c.notValues, empty, wildcardText);
  if (values === undefined && notValues === undefined)
    throw new Invalid(path, 'neither values nor not_values given');
  return {
    key: requireString(at(path, 'key'), c.key),
    ...(values === undefined ? {} : { values }),
    ...(notValues === undefined ? {} : { notValues }),
  };
}

export function fromProtoAuthorization(proto: ProtoAuthorization): ConvertResult<AuthzPolicy> {
  return convert(() => {
    const name = requireString('name', proto.name);
    const namespace = requireString('namespace', proto.namespace);
    const scope = checkedEnum('scope', proto.scope, SCOPE_FROM_PROTO, 'scope');
    const action = checkedEnum('action', proto.action, ACTION_FROM_PROTO, 'action');
    if (proto.dryRun) throw new Invalid('dry_run', 'dry-run policies are not supported');
    const hasSelector = Object.keys(proto.selector).length > 0;
    if (scope !== 'workload' && hasSelector) throw new Invalid('selector', `set for scope ${scope}`);
    if (scope !== 'targets' && proto.targetRefs.length > 0)
      throw new Invalid('target_refs', `set for scope ${scope}`);
    if (scope === 'targets' && proto.targetRefs.length === 0)
      throw new Invalid('target_refs', 'empty for scope targets');
    const targets: AuthzTarget[] = proto.targetRefs.map((t, i) => {
      const path = at('target_refs', i);
      if (t.kind !== 'Gateway' && t.kind !== 'Service') {
        throw new Invalid(at(path, 'kind'), `${JSON.stringify(t.kind)} is not Gateway or Service`);
      }
      if (t.group !== TARGET_GROUP[t.kind]) {
        throw new Invalid(at(path, 'group'), `${JSON.stringify(t.group)} is not the group of ${t.kind}`);
      }
      return {
        kind: t.kind,
        namespace: requireString(at(path, 'namespace'), t.namespace),
        name: requireString(at(path, 'name'), t.name),
      };
    });
    const rules: AuthzRule[] = proto.rules.map((r, i) => {
      const path = at('rules', i);
      return {
        from: r.from.map((s, j) => sourceFromProto(at(at(path, 'from'), j), s)),
        to: r.to.map((o, j) => operationFromProto(at(at(path, 'to'), j), o)),
        when: r.when.map((c, j) => conditionFromProto(at(at(path, 'when'), j), c)),
      };
    });
    const policy: Omit<AuthzPolicy, 'hash'> = {
      key: `${namespace}/${name}`,
      name,
      namespace,
      action,
      scope,
      ...(scope === 'workload' ? { selector: labels(proto.selector) } : {}),
      ...(scope === 'targets' ? { targets } : {}),
      rules,
    };
    return withHash(policy);
  });
}
