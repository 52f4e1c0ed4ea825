// networking.istio.io DestinationRule and VirtualService (mesh HTTP routing only).
import { z } from 'zod';
import { duration, headerName, labels, port, regex, typeMeta } from './common.ts';

const NETWORKING_VERSIONS = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
] as const;

const host = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a host name ("reviews", "reviews.ns.svc.cluster.local")',
  );

const percent = z.strictObject({ value: z.number().min(0).max(100) });

const loadBalancer = z
  .strictObject({
    simple: z
      .enum(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN'])
      .optional(),
    consistentHash: z
      .strictObject({
        httpHeaderName: headerName.optional(),
        httpCookie: z
          .strictObject({
            name: z.string().min(1).max(256),
            path: z.string().optional(),
            ttl: duration.optional(),
          })
          .optional(),
        useSourceIp: z.boolean().optional(),
        httpQueryParameterName: z.string().min(1).max(256).optional(),
        ringHash: z.strictObject({ minimumRingSize: z.number().int().min(1).optional() }).optional(),
        maglev: z.strictObject({ tableSize: z.number().int().min(1).optional() }).optional(),
        minimumRingSize: z.number().int().min(1).optional(),
      })
      .superRefine((value, ctx) => {
        const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const;
        const set = keys.filter((k) => value[k] !== undefined);
        if (set.length !== 1) {
          ctx.addIssue({ code: 'custom', message: `consistentHash needs exactly one of ${keys.join(', ')}` });
        }
      })
      .optional(),
    warmupDurationSecs: duration.optional(),
  })
  .superRefine((value, ctx) => {
    if (value.simple !== undefined && value.consistentHash !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'set simple or consistentHash, not both' });
    }
  });

const connectionPool = z.strictObject({
  tcp: z
    .strictObject({
      maxConnections: z.number().int().min(0).optional(),
      connectTimeout: duration.optional(),
      tcpKeepalive: z
        .strictObject({
          probes: z.number().int().min(0).optional(),
          time: duration.optional(),
          interval: duration.optional(),
        })
        .optional(),
      maxConnectionDuration: duration.optional(),
      idleTimeout: duration.optional(),
    })
    .optional(),
  http: z
    .strictObject({
      http1MaxPendingRequests: z.number().int().min(0).optional(),
      http2MaxRequests: z.number().int().min(0).optional(),
      maxRequestsPerConnection: z.number().int().min(0).optional(),
      maxRetries: z.number().int().min(0).optional(),
      idleTimeout: duration.optional(),
      h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
      useClientProtocol: z.boolean().optional(),
      maxConcurrentStreams: z.number().int().min(0).optional(),
    })
    .optional(),
});

const outlierDetection = z.strictObject({
  consecutiveErrors: z.number().int().min(0).optional(),
  consecutive5xxErrors: z.number().int().min(0).optional(),
  consecutiveGatewayErrors: z.number().int().min(0).optional(),
  consecutiveLocalOriginFailures: z.number().int().min(0).optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  interval: duration.optional(),
  baseEjectionTime: duration.optional(),
  maxEjectionPercent: z.number().int().min(0).max(100).optional(),
  minHealthPercent: z.number().int().min(0).max(100).optional(),
});

const clientTls = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: z.array(z.string()).optional(),
  sni: z.string().max(253).optional(),
  insecureSkipVerify: z.boolean().optional(),
});

const portTrafficPolicy = z.strictObject({
  port: z.strictObject({ number: port }),
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
});

const trafficPolicy = z.strictObject({
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTls.optional(),
  portLevelSettings: z.array(portTrafficPolicy).max(64).optional(),
});

export const destinationRuleSchema = z.object({
  ...typeMeta(NETWORKING_VERSIONS, 'DestinationRule'),
  spec: z
    .strictObject({
      host,
      trafficPolicy: trafficPolicy.optional(),
      subsets: z
        .array(
          z.strictObject({
            name: z
              .string()
              .min(1)
              .max(253)
              .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'invalid subset name'),
            labels: labels.optional(),
            trafficPolicy: trafficPolicy.optional(),
          }),
        )
        .max(64)
        .optional(),
      exportTo: z.array(z.string()).optional(),
    })
    .superRefine((spec, ctx) => {
      const seen = new Set<string>();
      spec.subsets?.forEach((s, i) => {
        if (seen.has(s.name))
          ctx.addIssue({
            code: 'custom',
            path: ['subsets', i, 'name'],
            message: `duplicate subset ${s.name}`,
          });
        seen.add(s.name);
      });
    }),
});

const stringMatch = z
  .strictObject({
    exact: z.string().max(4096).optional(),
    prefix: z.string().max(4096).optional(),
    regex: regex.optional(),
  })
  .superRefine((value, ctx) => {
    const n = [value.exact, value.prefix, value.regex].filter((v) => v !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'set exactly one of exact, prefix, regex' });
  });

const httpMatchRequest = z.strictObject({
  name: z.string().max(253).optional(),
  uri: stringMatch.optional(),
  method: stringMatch.optional(),
  authority: stringMatch.optional(),
  headers: z.record(headerName, stringMatch).optional(),
  withoutHeaders: z.record(headerName, stringMatch).optional(),
  queryParams: z.record(z.string().min(1).max(256), stringMatch).optional(),
  port: port.optional(),
  ignoreUriCase: z.boolean().optional(),
});

const headerOperations = z.strictObject({
  set: z.record(headerName, z.string().max(4096)).optional(),
  add: z.record(headerName, z.string().max(4096)).optional(),
  remove: z.array(headerName).optional(),
});
const headers = z.strictObject({
  request: headerOperations.optional(),
  response: headerOperations.optional(),
});

const destination = z.strictObject({
  host,
  subset: z.string().max(253).optional(),
  port: z.strictObject({ number: port }).optional(),
});

const httpRoute = z
  .strictObject({
    name: z.string().max(253).optional(),
    match: z.array(httpMatchRequest).max(64).optional(),
    route: z
      .array(
        z.strictObject({
          destination,
          weight: z.number().int().min(0).optional(),
          headers: headers.optional(),
        }),
      )
      .max(64)
      .optional(),
    redirect: z
      .strictObject({
        uri: z.string().max(1024).optional(),
        authority: z.string().max(253).optional(),
        port: port.optional(),
        scheme: z.enum(['http', 'https']).optional(),
        redirectCode: z.number().int().min(300).max(399).optional(),
      })
      .optional(),
    rewrite: z
      .strictObject({
        uri: z.string().max(1024).optional(),
        authority: z.string().max(253).optional(),
        uriRegexRewrite: z.strictObject({ match: regex, rewrite: z.string().max(1024) }).optional(),
      })
      .optional(),
    timeout: duration.optional(),
    retries: z
      .strictObject({
        attempts: z.number().int().min(0).max(100),
        perTryTimeout: duration.optional(),
        retryOn: z.string().max(1024).optional(),
        retryRemoteLocalities: z.boolean().optional(),
        backoff: duration.optional(),
      })
      .optional(),
    fault: z
      .strictObject({
        delay: z.strictObject({ fixedDelay: duration, percentage: percent.optional() }).optional(),
        abort: z
          .strictObject({
            httpStatus: z.number().int().min(200).max(599).optional(),
            grpcStatus: z.string().max(64).optional(),
            percentage: percent.optional(),
          })
          .superRefine((value, ctx) => {
            if ((value.httpStatus === undefined) === (value.grpcStatus === undefined)) {
              ctx.addIssue({ code: 'custom', message: 'set exactly one of httpStatus, grpcStatus' });
            }
          })
          .optional(),
      })
      .optional(),
    mirror: destination.optional(),
    mirrorPercentage: percent.optional(),
    mirrors: z
      .array(z.strictObject({ destination, percentage: percent.optional() }))
      .max(16)
      .optional(),
    headers: headers.optional(),
  })
  .superRefine((route, ctx) => {
    if (route.redirect && route.route) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirect'],
        message: 'redirect and route are mutually exclusive',
      });
    }
    if (!route.redirect && (route.route?.length ?? 0) === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['route'],
        message: 'an http route needs route destinations or a redirect',
      });
    }
    if (route.mirror && route.mirrors) {
      ctx.addIssue({ code: 'custom', path: ['mirrors'], message: 'set mirror or mirrors, not both' });
    }
    if (route.rewrite?.uri !== undefined && route.rewrite.uriRegexRewrite !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['rewrite'], message: 'set uri or uriRegexRewrite, not both' });
    }
    const dests = route.route ?? [];
    if (dests.length > 1) {
      dests.forEach((d, i) => {
        if (d.weight === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['route', i, 'weight'],
            message: 'weight is required when a route has several destinations',
          });
        }
      });
      if (dests.every((d) => (d.weight ?? 0) === 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['route'],
          message: 'at least one destination needs a weight above 0',
        });
      }
    }
  });

export const virtualServiceSchema = z.object({
  ...typeMeta(NETWORKING_VERSIONS, 'VirtualService'),
  spec: z
    .strictObject({
      hosts: z.array(host).min(1).max(64),
      gateways: z.array(z.string()).optional(),
      http: z.array(httpRoute).max(256).optional(),
      exportTo: z.array(z.string()).optional(),
    })
    .superRefine((spec, ctx) => {
      spec.gateways?.forEach((g, i) => {
        if (g !== 'mesh') {
          ctx.addIssue({
            code: 'custom',
            path: ['gateways', i],
            message: 'only the "mesh" gateway is supported; ingress gateways are not part of Weft',
          });
        }
      });
    }),
});

export type DestinationRuleResource = z.infer<typeof destinationRuleSchema>;
export type VirtualServiceResource = z.infer<typeof virtualServiceSchema>;
export type TrafficPolicyResource = z.infer<typeof trafficPolicy>;
