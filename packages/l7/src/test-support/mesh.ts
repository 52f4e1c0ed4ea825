// Mesh fixtures for this package's tests: services whose endpoints are real test servers on
// 127.0.0.x addresses.
import { namespace, pod, service } from '@weft/policy/testing';

export const WEB_VIP = '10.96.0.10';
export const WEB_HOST = 'web.shop.svc.cluster.local';
export const CLIENT = 'spiffe://cluster.local/ns/legacy/sa/client';

export interface EndpointSpec {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly labels?: Record<string, string>;
  readonly ready?: boolean;
}

/** Namespace shop with service `name` (VIP, port 80 -> named port "http") over the given endpoints. */
export function serviceWith(
  endpoints: readonly EndpointSpec[],
  opts: {
    name?: string;
    vip?: string;
    appProtocol?: string;
    app?: string;
    port?: number;
    portName?: string;
  } = {},
): unknown[] {
  const name = opts.name ?? 'web';
  const app = opts.app ?? name;
  return [
    ...endpoints.map((e) =>
      pod(e.name, {
        namespace: 'shop',
        ip: e.ip,
        labels: { app, ...e.labels },
        serviceAccount: name,
        ports: [{ name: 'http', containerPort: e.port }],
        ...(e.ready !== undefined ? { ready: e.ready } : {}),
      }),
    ),
    service(name, {
      namespace: 'shop',
      clusterIP: opts.vip ?? WEB_VIP,
      selector: { app },
      ports: [
        {
          name: opts.portName ?? (opts.appProtocol === undefined ? 'http' : `${opts.appProtocol}-port`),
          port: opts.port ?? 80,
          targetPort: 'http',
          ...(opts.appProtocol !== undefined ? { appProtocol: opts.appProtocol } : {}),
        },
      ],
    }),
  ];
}

export const SHOP = [namespace('shop'), namespace('legacy')];
