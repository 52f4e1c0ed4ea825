// security.istio.io AuthorizationPolicy and PeerAuthentication. Specs are strict: an unknown
// field is an error, because a misspelt field silently dropped from an ALLOW rule would make
// the rule match more than its author meant.
import { z } from 'zod';
import { cidr, dnsSubdomain, port, typeMeta, wildcardString, workloadSelector } from './common.ts';

const SECURITY_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;

const portString = z
  .union([port, z.string().regex(/^[0-9]{1,5}$/, 'port must be a number 1..65535')], {
    error: 'port must be a number 1..65535',
  })
  .superRefine((value, ctx) => {
    const n = typeof value === 'number' ? value : Number(value);
    if (!(n >= 1 && n <= 65535)) ctx.addIssue({ code: 'custom', message: 'port must be a number 1..65535' });
  });

const path = wildcardString('path').superRefine((value, ctx) => {
  if (value !== '*' && !value.startsWith('/') && !value.startsWith('*')) {
    ctx.addIssue({
      code: 'custom',
      message: `path ${JSON.stringify(value)} must start with "/" (or be "*" / "*suffix")`,
    });
  }
  if (value.includes('{')) {
    ctx.addIssue({
      code: 'custom',
      message: `path templates ("{*}", "{**}") are not supported: ${JSON.stringify(value)}`,
    });
  }
});

export const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;

const source = z
  .strictObject({
    principals: z.array(wildcardString('principal')).optional(),
    notPrincipals: z.array(wildcardString('principal')).optional(),
    requestPrincipals: z.array(wildcardString('request principal')).optional(),
    notRequestPrincipals: z.array(wildcardString('request principal')).optional(),
    namespaces: z.array(wildcardString('namespace')).optional(),
    notNamespaces: z.array(wildcardString('namespace')).optional(),
    ipBlocks: z.array(cidr).optional(),
    notIpBlocks: z.array(cidr).optional(),
    remoteIpBlocks: z.array(cidr).optional(),
    notRemoteIpBlocks: z.array(cidr).optional(),
  })
  .superRefine((value, ctx) => {
    if (!SOURCE_FIELDS.some((f) => value[f] !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'source must set at least one field' });
    }
  });

export const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;

const operation = z
  .strictObject({
    hosts: z.array(wildcardString('host')).optional(),
    notHosts: z.array(wildcardString('host')).optional(),
    ports: z.array(portString).optional(),
    notPorts: z.array(portString).optional(),
    methods: z.array(wildcardString('method')).optional(),
    notMethods: z.array(wildcardString('method')).optional(),
    paths: z.array(path).optional(),
    notPaths: z.array(path).optional(),
  })
  .superRefine((value, ctx) => {
    if (!OPERATION_FIELDS.some((f) => value[f] !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'operation must set at least one field' });
    }
  });

/** `when` keys Weft understands (Istio's names). Anything else is rejected. */
export const CONDITION_KEYS = [
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
  'connection.sni',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'request.headers[<name>]',
  'request.auth.claims[<claim>]...',
] as const;

export function isConditionKey(key: string): boolean {
  return (
    (CONDITION_KEYS as readonly string[]).includes(key) ||
    /^request\.headers\[[A-Za-z0-9!#$%&'*+\-.^_`|~]+\]$/.test(key) ||
    /^request\.auth\.claims(\[[^[\]]+\])+$/.test(key)
  );
}

const condition = z
  .strictObject({
    key: z.string().min(1).max(512),
    values: z.array(z.string().min(1).max(1024)).optional(),
    notValues: z.array(z.string().min(1).max(1024)).optional(),
  })
  .superRefine((value, ctx) => {
    if (!isConditionKey(value.key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: `unknown condition key ${JSON.stringify(value.key)}; supported: ${CONDITION_KEYS.join(', ')}`,
      });
      return;
    }
    if (value.values === undefined && value.notValues === undefined) {
      ctx.addIssue({ code: 'custom', message: 'condition must set values or notValues' });
    }
    const check = (field: 'values' | 'notValues', ok: (v: string) => boolean, what: string) => {
      value[field]?.forEach((v, i) => {
        if (!ok(v))
          ctx.addIssue({ code: 'custom', path: [field, i], message: `${JSON.stringify(v)} is not ${what}` });
      });
    };
    if (value.key === 'source.ip' || value.key === 'remote.ip' || value.key === 'destination.ip') {
      const isCidr = (v: string) => cidr.safeParse(v).success;
      check('values', isCidr, 'an IP address or CIDR block');
      check('notValues', isCidr, 'an IP address or CIDR block');
    } else if (value.key === 'destination.port') {
      const isPort = (v: string) => portString.safeParse(v).success;
      check('values', isPort, 'a port number');
      check('notValues', isPort, 'a port number');
    } else {
      const isWildcard = (v: string) => wildcardString('value').safeParse(v).success;
      check('values', isWildcard, 'a valid match ("*" only alone, as prefix or suffix)');
      check('notValues', isWildcard, 'a valid match ("*" only alone, as prefix or suffix)');
    }
  });

const rule = z.strictObject({
  from: z.array(z.strictObject({ source })).optional(),
  to: z.array(z.strictObject({ operation })).optional(),
  when: z.array(condition).optional(),
});

export const policyTargetRef = z.strictObject({
  group: z.string().max(253).optional(),
  kind: z.string().min(1).max(63),
  name: dnsSubdomain,
  namespace: z.string().max(63).optional(),
});

/** What a targetRef may point at: a waypoint Gateway or a Service. */
export function targetRefProblem(ref: z.infer<typeof policyTargetRef>): string | undefined {
  const group = ref.group ?? '';
  if (ref.kind === 'Gateway' && group === 'gateway.networking.k8s.io') return undefined;
  if (ref.kind === 'Service' && (group === '' || group === 'core')) return undefined;
  return `targetRef ${group || 'core'}/${ref.kind} is not supported; use group gateway.networking.k8s.io kind Gateway, or group "" kind Service`;
}

const authorizationPolicySpec = z
  .strictObject({
    selector: workloadSelector.optional(),
    targetRef: policyTargetRef.optional(),
    targetRefs: z.array(policyTargetRef).optional(),
    action: z
      .enum(['ALLOW', 'DENY', 'AUDIT'], {
        error: (issue) =>
          issue.input === 'CUSTOM'
            ? 'action CUSTOM is not supported: Weft has no external authorizer; use ALLOW, DENY or AUDIT'
            : 'action must be one of ALLOW, DENY, AUDIT',
      })
      .optional(),
    provider: z.unknown().optional(),
    rules: z.array(rule).optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.provider !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['provider'],
        message: 'provider is only meaningful with action CUSTOM, which Weft does not support',
      });
    }
    const refs = [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
    if (spec.targetRef && spec.targetRefs) {
      ctx.addIssue({ code: 'custom', path: ['targetRef'], message: 'set targetRefs or targetRef, not both' });
    }
    if (spec.selector && refs.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['selector'],
        message: 'selector and targetRefs are mutually exclusive',
      });
    }
    (spec.targetRefs ?? []).forEach((ref, i) => {
      const problem = targetRefProblem(ref);
      if (problem) ctx.addIssue({ code: 'custom', path: ['targetRefs', i, 'kind'], message: problem });
    });
    if (spec.targetRef) {
      const problem = targetRefProblem(spec.targetRef);
      if (problem) ctx.addIssue({ code: 'custom', path: ['targetRef', 'kind'], message: problem });
    }
  });

export const authorizationPolicySchema = z
  .object({
    ...typeMeta(SECURITY_VERSIONS, 'AuthorizationPolicy'),
    spec: authorizationPolicySpec.optional(),
  })
  .superRefine((obj, ctx) => {
    const ns = obj.metadata.namespace;
    const refs = obj.spec?.targetRefs ?? [];
    refs.forEach((ref, i) => {
      if (ref.namespace !== undefined && ns !== undefined && ref.namespace !== ns) {
        ctx.addIssue({
          code: 'custom',
          path: ['spec', 'targetRefs', i, 'namespace'],
          message: `targetRefs may only refer to the policy's own namespace ${JSON.stringify(ns)}`,
        });
      }
    });
  });

export const MTLS_MODES = ['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'] as const;
const mtls = z.strictObject({
  mode: z.enum(MTLS_MODES, { error: `mtls.mode must be one of ${MTLS_MODES.join(', ')}` }).optional(),
});

const peerAuthenticationSpec = z
  .strictObject({
    selector: workloadSelector.optional(),
    mtls: mtls.optional(),
    portLevelMtls: z
      .record(z.string().regex(/^[0-9]{1,5}$/, 'portLevelMtls keys must be port numbers'), mtls)
      .optional(),
  })
  .superRefine((spec, ctx) => {
    const ports = Object.keys(spec.portLevelMtls ?? {});
    for (const key of ports) {
      const n = Number(key);
      if (!(n >= 1 && n <= 65535)) {
        ctx.addIssue({ code: 'custom', path: ['portLevelMtls', key], message: 'port must be 1..65535' });
      }
    }
    if (ports.length > 0 && Object.keys(spec.selector?.matchLabels ?? {}).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['portLevelMtls'],
        message: 'portLevelMtls requires a workload selector',
      });
    }
  });

export const peerAuthenticationSchema = z.object({
  ...typeMeta(SECURITY_VERSIONS, 'PeerAuthentication'),
  spec: peerAuthenticationSpec.optional(),
});

export type AuthorizationPolicyResource = z.infer<typeof authorizationPolicySchema>;
export type PeerAuthenticationResource = z.infer<typeof peerAuthenticationSchema>;
export type PolicyTargetRef = z.infer<typeof policyTargetRef>;
export type MtlsModeSetting = (typeof MTLS_MODES)[number];
