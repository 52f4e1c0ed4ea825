// gateway.networking.k8s.io Gateway, HTTPRoute, GRPCRoute and TCPRoute. Route specs are
// strict: a field Weft does not implement (CORS, session persistence, extension filters) is an
// error with its path, rather than a route that silently behaves differently.
import { z } from 'zod';
import { dnsSubdomain, duration, headerName, labels, port, regex, typeMeta } from './common.ts';

const ROUTE_VERSIONS = ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'] as const;
const TCP_ROUTE_VERSIONS = ['gateway.networking.k8s.io/v1alpha2', 'gateway.networking.k8s.io/v1'] as const;

export const WAYPOINT_GATEWAY_CLASS = 'weft-waypoint';

export const parentReference = z.strictObject({
  group: z.string().max(253).optional(),
  kind: z.string().max(63).optional(),
  namespace: z.string().max(63).optional(),
  name: dnsSubdomain,
  sectionName: z.string().max(253).optional(),
  port: port.optional(),
});

const headerModifier = z.strictObject({
  set: z.array(z.strictObject({ name: headerName, value: z.string().max(4096) })).optional(),
  add: z.array(z.strictObject({ name: headerName, value: z.string().max(4096) })).optional(),
  remove: z.array(headerName).optional(),
});

const pathModifier = z
  .strictObject({
    type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch']),
    replaceFullPath: z.string().max(1024).optional(),
    replacePrefixMatch: z.string().max(1024).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.type === 'ReplaceFullPath' && value.replaceFullPath === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['replaceFullPath'],
        message: 'required when type is ReplaceFullPath',
      });
    }
    if (value.type === 'ReplacePrefixMatch' && value.replacePrefixMatch === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['replacePrefixMatch'],
        message: 'required when type is ReplacePrefixMatch',
      });
    }
  });

const backendObjectReference = {
  group: z.string().max(253).optional(),
  kind: z.string().max(63).optional(),
  name: dnsSubdomain,
  namespace: z.string().max(63).optional(),
  port: port.optional(),
};

const requestMirror = z
  .strictObject({
    backendRef: z.strictObject(backendObjectReference),
    percent: z.number().int().min(0).max(100).optional(),
    fraction: z
      .strictObject({ numerator: z.number().int().min(0), denominator: z.number().int().min(1).optional() })
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.percent !== undefined && value.fraction !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['fraction'], message: 'set percent or fraction, not both' });
    }
    if (value.fraction && value.fraction.numerator > (value.fraction.denominator ?? 100)) {
      ctx.addIssue({ code: 'custom', path: ['fraction'], message: 'numerator must not exceed denominator' });
    }
  });

const FILTER_FIELD = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
} as const;

function routeFilter<const T extends readonly (keyof typeof FILTER_FIELD)[]>(types: T) {
  return z
    .strictObject({
      type: z.enum(types, {
        error: (issue) =>
          issue.input === 'ExtensionRef' || issue.input === 'CORS'
            ? `filter type ${String(issue.input)} is not supported`
            : `filter type must be one of ${types.join(', ')}`,
      }),
      requestHeaderModifier: headerModifier.optional(),
      responseHeaderModifier: headerModifier.optional(),
      requestRedirect: z
        .strictObject({
          scheme: z.enum(['http', 'https']).optional(),
          hostname: dnsSubdomain.optional(),
          path: pathModifier.optional(),
          port: port.optional(),
          statusCode: z
            .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
            .optional(),
        })
        .optional(),
      urlRewrite: z
        .strictObject({ hostname: dnsSubdomain.optional(), path: pathModifier.optional() })
        .optional(),
      requestMirror: requestMirror.optional(),
    })
    .superRefine((value, ctx) => {
      for (const [type, field] of Object.entries(FILTER_FIELD)) {
        const present = value[field] !== undefined;
        if (type === value.type && !present) {
          ctx.addIssue({ code: 'custom', path: [field], message: `required when type is ${type}` });
        } else if (type !== value.type && present) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: `must not be set when type is ${value.type}`,
          });
        }
      }
    });
}

const httpFilter = routeFilter([
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
] as const);
const grpcFilter = routeFilter(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror'] as const);

function backendRef<F extends z.ZodType>(filter: F) {
  return z.strictObject({
    ...backendObjectReference,
    weight: z.number().int().min(0).max(1_000_000).optional(),
    filters: z.array(filter).optional(),
  });
}

const headerMatch = z
  .strictObject({
    type: z.enum(['Exact', 'RegularExpression']).optional(),
    name: headerName,
    value: z.string().max(4096),
  })
  .superRefine((value, ctx) => {
    if (value.type === 'RegularExpression') {
      const r = regex.safeParse(value.value);
      if (!r.success)
        ctx.addIssue({ code: 'custom', path: ['value'], message: r.error.issues[0]?.message ?? 'bad regex' });
    }
  });

const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

const httpRouteMatch = z.strictObject({
  path: z
    .strictObject({
      type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).optional(),
      value: z.string().max(1024).optional(),
    })
    .superRefine((value, ctx) => {
      const v = value.value ?? '/';
      if (value.type === 'RegularExpression') {
        const r = regex.safeParse(v);
        if (!r.success)
          ctx.addIssue({
            code: 'custom',
            path: ['value'],
            message: r.error.issues[0]?.message ?? 'bad regex',
          });
      } else if (!v.startsWith('/')) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'path must start with "/"' });
      } else if (/\/\/|\/\.\.?(\/|$)|%2f|%2F|#|\?/.test(v)) {
        ctx.addIssue({
          code: 'custom',
          path: ['value'],
          message: 'path must be normalized: no "//", "/./", "/../", "%2F", "#" or "?"',
        });
      }
    })
    .optional(),
  headers: z.array(headerMatch).max(16).optional(),
  queryParams: z
    .array(
      z.strictObject({
        type: z.enum(['Exact', 'RegularExpression']).optional(),
        name: z.string().min(1).max(256),
        value: z.string().max(1024),
      }),
    )
    .max(16)
    .optional(),
  method: z.enum(HTTP_METHODS).optional(),
});

const retry = z.strictObject({
  codes: z.array(z.number().int().min(400).max(599)).optional(),
  attempts: z.number().int().min(0).max(100).optional(),
  backoff: duration.optional(),
});

const httpRouteRule = z
  .strictObject({
    name: z.string().max(253).optional(),
    matches: z.array(httpRouteMatch).max(64).optional(),
    filters: z.array(httpFilter).max(16).optional(),
    backendRefs: z.array(backendRef(httpFilter)).max(16).optional(),
    timeouts: z
      .strictObject({ request: duration.optional(), backendRequest: duration.optional() })
      .optional(),
    retry: retry.optional(),
  })
  .superRefine((rule, ctx) => {
    const usesPrefixReplace = (rule.filters ?? []).some(
      (f) =>
        f.requestRedirect?.path?.type === 'ReplacePrefixMatch' ||
        f.urlRewrite?.path?.type === 'ReplacePrefixMatch',
    );
    if (usesPrefixReplace) {
      const matches = rule.matches ?? [];
      const allPrefix =
        matches.length > 0 && matches.every((m) => (m.path?.type ?? 'PathPrefix') === 'PathPrefix');
      if (matches.length > 0 && !allPrefix) {
        ctx.addIssue({
          code: 'custom',
          path: ['filters'],
          message: 'ReplacePrefixMatch requires every match of the rule to be a PathPrefix match',
        });
      }
    }
    const kinds = (rule.filters ?? []).map((f) => f.type);
    if (kinds.includes('RequestRedirect') && kinds.includes('URLRewrite')) {
      ctx.addIssue({
        code: 'custom',
        path: ['filters'],
        message: 'RequestRedirect and URLRewrite cannot be combined',
      });
    }
    if (kinds.includes('RequestRedirect') && (rule.backendRefs?.length ?? 0) > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['backendRefs'],
        message: 'a rule with RequestRedirect must not have backendRefs',
      });
    }
  });

const commonRouteSpec = {
  parentRefs: z.array(parentReference).max(32).optional(),
  hostnames: z.array(z.string().max(253)).max(16).optional(),
};

export const httpRouteSchema = z.object({
  ...typeMeta(ROUTE_VERSIONS, 'HTTPRoute'),
  spec: z.strictObject({ ...commonRouteSpec, rules: z.array(httpRouteRule).max(16).optional() }),
});

const grpcMethodMatch = z
  .strictObject({
    type: z.enum(['Exact', 'RegularExpression']).optional(),
    service: z.string().max(1024).optional(),
    method: z.string().max(1024).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.service === undefined && value.method === undefined) {
      ctx.addIssue({ code: 'custom', message: 'set service, method or both' });
    }
    for (const field of ['service', 'method'] as const) {
      const v = value[field];
      if (v === undefined) continue;
      if ((value.type ?? 'Exact') === 'Exact') {
        const re =
          field === 'service'
            ? /^[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$/
            : /^[A-Za-z_][A-Za-z_0-9]*$/;
        if (!re.test(v))
          ctx.addIssue({ code: 'custom', path: [field], message: `invalid gRPC ${field} name` });
      } else {
        const r = regex.safeParse(v);
        if (!r.success)
          ctx.addIssue({ code: 'custom', path: [field], message: r.error.issues[0]?.message ?? 'bad regex' });
      }
    }
  });

const grpcRouteRule = z.strictObject({
  name: z.string().max(253).optional(),
  matches: z
    .array(
      z.strictObject({
        method: grpcMethodMatch.optional(),
        headers: z.array(headerMatch).max(16).optional(),
      }),
    )
    .max(64)
    .optional(),
  filters: z.array(grpcFilter).max(16).optional(),
  backendRefs: z.array(backendRef(grpcFilter)).max(16).optional(),
});

export const grpcRouteSchema = z.object({
  ...typeMeta(ROUTE_VERSIONS, 'GRPCRoute'),
  spec: z.strictObject({ ...commonRouteSpec, rules: z.array(grpcRouteRule).max(16).optional() }),
});

export const tcpRouteSchema = z.object({
  ...typeMeta(TCP_ROUTE_VERSIONS, 'TCPRoute'),
  spec: z.strictObject({
    parentRefs: z.array(parentReference).max(32).optional(),
    rules: z
      .array(
        z.strictObject({
          name: z.string().max(253).optional(),
          backendRefs: z
            .array(
              z.strictObject({
                ...backendObjectReference,
                weight: z.number().int().min(0).max(1_000_000).optional(),
              }),
            )
            .min(1)
            .max(16),
        }),
      )
      .min(1)
      .max(16),
  }),
});

const listener = z.object({
  name: z.string().min(1).max(253),
  hostname: z.string().max(253).optional(),
  port,
  protocol: z.string().min(1).max(255),
});

// Gateways of other classes are accepted as they are (they are not ours to judge); only the
// fields Weft reads are typed.
export const gatewaySchema = z.object({
  ...typeMeta(ROUTE_VERSIONS, 'Gateway'),
  spec: z.object({
    gatewayClassName: z.string().min(1).max(253),
    listeners: z.array(listener).max(64).optional(),
    addresses: z
      .array(z.object({ type: z.string().max(253).optional(), value: z.string().min(1).max(253) }))
      .max(16)
      .optional(),
    infrastructure: z.object({ labels: labels.optional() }).optional(),
  }),
  status: z
    .object({
      addresses: z.array(z.object({ type: z.string().optional(), value: z.string() })).optional(),
    })
    .optional(),
});

export type ParentReference = z.infer<typeof parentReference>;
export type HTTPRouteResource = z.infer<typeof httpRouteSchema>;
export type GRPCRouteResource = z.infer<typeof grpcRouteSchema>;
export type TCPRouteResource = z.infer<typeof tcpRouteSchema>;
export type GatewayResource = z.infer<typeof gatewaySchema>;
export type HTTPRouteFilterResource = z.infer<typeof httpFilter>;
