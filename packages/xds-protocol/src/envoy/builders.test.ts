// The Envoy builders for proxyless gRPC, as tables: each case names the input and the exact
// fields grpc-js-xds 1.14.1 reads.
import { describe, expect, it } from 'vitest';
import { HTTPFault } from '../gen/envoy/extensions/filters/http/fault/v3/fault.ts';
import { HttpConnectionManager } from '../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.ts';
import {
  DownstreamTlsContext,
  UpstreamTlsContext,
} from '../gen/envoy/extensions/transport_sockets/tls/v3/tls.ts';
import { ENVOY_TYPE_URL } from '../type-urls.ts';
import { type MeshClusterOptions, meshCluster } from './cluster.ts';
import { msDuration } from './duration.ts';
import { meshClientListener, meshServerListener } from './listener.ts';
import { meshLoadAssignment } from './proxyless.ts';
import { FAULT_FILTER_NAME, type MeshRoute, meshRoute, meshRouteConfiguration } from './route.ts';
import { upstreamTlsSocket } from './tls.ts';

describe('msDuration', () => {
  it.each([
    [0, { seconds: 0, nanos: 0 }],
    [1500, { seconds: 1, nanos: 500_000_000 }],
    [25, { seconds: 0, nanos: 25_000_000 }],
    [-3, { seconds: 0, nanos: 0 }],
  ])('%d ms', (ms, want) => expect(msDuration(ms)).toEqual(want));
});

describe('meshCluster', () => {
  const base = { name: 'outbound|8080||echo.demo.svc.cluster.local' };
  it.each<{ what: string; options: MeshClusterOptions; want: Record<string, unknown> }>([
    {
      what: 'EDS over ADS, round robin by default',
      options: base,
      want: {
        type: 3,
        lbPolicy: 0,
        edsClusterConfig: expect.objectContaining({
          serviceName: base.name,
          edsConfig: expect.objectContaining({ ads: {}, resourceApiVersion: 2 }),
        }),
        transportSocket: undefined,
        circuitBreakers: undefined,
        outlierDetection: undefined,
      },
    },
    {
      what: 'ring hash with a minimum ring size, XX_HASH',
      options: { ...base, lb: { type: 'ring-hash', minimumRingSize: 64 } },
      want: {
        lbPolicy: 2,
        ringHashLbConfig: expect.objectContaining({ minimumRingSize: 64, hashFunction: 0 }),
      },
    },
    {
      what: 'circuit breaking: max_requests at DEFAULT priority',
      options: { ...base, maxRequests: 10 },
      want: {
        circuitBreakers: {
          thresholds: [expect.objectContaining({ priority: 0, maxRequests: 10 })],
          perHostThresholds: [],
        },
      },
    },
    {
      what: 'outlier detection',
      options: {
        ...base,
        outlierDetection: {
          intervalMs: 10_000,
          baseEjectionTimeMs: 30_000,
          maxEjectionPercent: 150,
          enforcingSuccessRate: 0,
          failurePercentage: { threshold: 50, enforcing: 100, minimumHosts: 2, requestVolume: 10 },
        },
      },
      want: {
        outlierDetection: expect.objectContaining({
          interval: { seconds: 10, nanos: 0 },
          baseEjectionTime: { seconds: 30, nanos: 0 },
          maxEjectionPercent: 100,
          enforcingSuccessRate: 0,
          failurePercentageThreshold: 50,
          enforcingFailurePercentage: 100,
          failurePercentageMinimumHosts: 2,
          failurePercentageRequestVolume: 10,
        }),
      },
    },
  ])('$what', ({ options, want }) => {
    expect(meshCluster(options)).toMatchObject(want);
  });

  it('mesh mTLS: identity and roots from the certificate provider, exact and prefix SANs', () => {
    const c = meshCluster({
      ...base,
      tls: { instance: 'weft', exactSans: ['spiffe://td/ns/a/sa/b'], prefixSans: ['spiffe://td/'] },
    });
    expect(c.transportSocket?.name).toBe('envoy.transport_sockets.tls');
    expect(c.transportSocket?.typedConfig?.typeUrl).toBe(ENVOY_TYPE_URL.upstreamTlsContext);
    const tls = UpstreamTlsContext.decode(c.transportSocket?.typedConfig?.value ?? new Uint8Array());
    const common = tls.commonTlsContext;
    expect(common?.tlsCertificateProviderInstance?.instanceName).toBe('weft');
    expect(common?.tlsCertificates).toEqual([]);
    const v = common?.combinedValidationContext?.defaultValidationContext;
    expect(v?.caCertificateProviderInstance?.instanceName).toBe('weft');
    expect(v?.matchSubjectAltNames).toEqual([
      expect.objectContaining({ exact: 'spiffe://td/ns/a/sa/b' }),
      expect.objectContaining({ prefix: 'spiffe://td/' }),
    ]);
    expect(upstreamTlsSocket({ instance: 'weft' })).toEqual({
      name: 'envoy.transport_sockets.tls',
      typedConfig: expect.objectContaining({ typeUrl: ENVOY_TYPE_URL.upstreamTlsContext }),
    });
  });
});

describe('meshRoute', () => {
  const to = [{ name: 'a', weight: 1 }];
  it.each<{ what: string; route: MeshRoute; want: Record<string, unknown> }>([
    {
      what: 'everything',
      route: { match: {}, clusters: to },
      want: { match: expect.objectContaining({ prefix: '' }) },
    },
    {
      what: 'an exact path, case-insensitive',
      route: { match: { path: { type: 'exact', value: '/a.B/C', ignoreCase: true } }, clusters: to },
      want: { match: expect.objectContaining({ path: '/a.B/C', caseSensitive: false }) },
    },
    {
      what: 'a regex path',
      route: { match: { path: { type: 'regex', value: '/a\\..*' } }, clusters: to },
      want: { match: expect.objectContaining({ safeRegex: expect.objectContaining({ regex: '/a\\..*' }) }) },
    },
    {
      what: 'headers: exact, present, inverted prefix, case-insensitive regex',
      route: {
        match: {
          headers: [
            { name: 'x-a', type: 'exact', value: '1' },
            { name: 'x-b', type: 'present' },
            { name: 'x-c', type: 'prefix', value: 'p', invert: true },
            { name: 'x-d', type: 'regex', value: 'v[0-9]', ignoreCase: true },
          ],
        },
        clusters: to,
      },
      want: {
        match: expect.objectContaining({
          headers: [
            expect.objectContaining({
              name: 'x-a',
              stringMatch: expect.objectContaining({ exact: '1' }),
              invertMatch: false,
            }),
            expect.objectContaining({ name: 'x-b', presentMatch: true }),
            expect.objectContaining({
              name: 'x-c',
              stringMatch: expect.objectContaining({ prefix: 'p' }),
              invertMatch: true,
            }),
            expect.objectContaining({
              name: 'x-d',
              stringMatch: expect.objectContaining({
                safeRegex: expect.objectContaining({ regex: '(?i)v[0-9]' }),
              }),
            }),
          ],
        }),
      },
    },
    {
      what: 'one cluster',
      route: { match: {}, clusters: to },
      want: { route: expect.objectContaining({ cluster: 'a', weightedClusters: undefined }) },
    },
    {
      what: 'a weighted split',
      route: {
        match: {},
        clusters: [
          { name: 'a', weight: 80 },
          { name: 'b', weight: 20 },
        ],
      },
      want: {
        route: expect.objectContaining({
          weightedClusters: expect.objectContaining({
            clusters: [
              expect.objectContaining({ name: 'a', weight: 80 }),
              expect.objectContaining({ name: 'b', weight: 20 }),
            ],
          }),
        }),
      },
    },
    {
      what: 'a timeout as max_stream_duration, never RouteAction.timeout',
      route: { match: {}, clusters: to, timeoutMs: 2500 },
      want: {
        route: expect.objectContaining({
          timeout: undefined,
          maxStreamDuration: expect.objectContaining({
            maxStreamDuration: { seconds: 2, nanos: 500_000_000 },
          }),
        }),
      },
    },
    {
      what: 'retries on gRPC codes with back-off',
      route: {
        match: {},
        clusters: to,
        retry: { retryOn: ['unavailable', 'cancelled'], numRetries: 0, backoff: { baseMs: 25, maxMs: 10 } },
      },
      want: {
        route: expect.objectContaining({
          retryPolicy: expect.objectContaining({
            retryOn: 'unavailable,cancelled',
            numRetries: 1,
            retryBackOff: {
              baseInterval: { seconds: 0, nanos: 25_000_000 },
              maxInterval: { seconds: 0, nanos: 25_000_000 },
            },
          }),
        }),
      },
    },
    {
      what: 'a ring-hash header',
      route: { match: {}, clusters: to, hashHeaders: ['x-user'] },
      want: {
        route: expect.objectContaining({
          hashPolicy: [
            expect.objectContaining({ header: expect.objectContaining({ headerName: 'x-user' }) }),
          ],
        }),
      },
    },
  ])('$what', ({ route, want }) => {
    const r = meshRoute(route);
    expect(r).toMatchObject(want);
    expect(r.nonForwardingAction).toBeUndefined();
  });

  it.each([
    {
      fault: { abort: { grpcStatus: 14, percent: 12.5 } },
      want: {
        abort: expect.objectContaining({
          grpcStatus: 14,
          percentage: { numerator: 125_000, denominator: 2 },
        }),
      },
    },
    {
      fault: { abort: { httpStatus: 503, percent: 100 } },
      want: {
        abort: expect.objectContaining({
          httpStatus: 503,
          percentage: { numerator: 1_000_000, denominator: 2 },
        }),
      },
    },
    {
      fault: { delay: { delayMs: 200, percent: 1 } },
      want: {
        delay: expect.objectContaining({
          fixedDelay: { seconds: 0, nanos: 200_000_000 },
          percentage: { numerator: 10_000, denominator: 2 },
        }),
      },
    },
  ])('fault %j as a per-route HTTPFault override', ({ fault, want }) => {
    const any = meshRoute({ match: {}, clusters: to, fault }).typedPerFilterConfig[FAULT_FILTER_NAME];
    expect(any?.typeUrl).toBe(ENVOY_TYPE_URL.httpFault);
    expect(HTTPFault.decode(any?.value ?? new Uint8Array())).toMatchObject(want);
  });

  it('meshRouteConfiguration: one virtual host with the domains, routes in order', () => {
    const rc = meshRouteConfiguration(
      'n',
      ['a', 'a:1'],
      [
        { match: { path: { type: 'exact', value: '/x' } }, clusters: to },
        { match: {}, clusters: to },
      ],
    );
    expect(rc.name).toBe('n');
    expect(rc.virtualHosts).toHaveLength(1);
    expect(rc.virtualHosts[0]?.domains).toEqual(['a', 'a:1']);
    expect(rc.virtualHosts[0]?.routes.map((r) => r.match?.path ?? r.match?.prefix)).toEqual(['/x', '']);
  });
});

describe('listeners', () => {
  it.each([
    { fault: false, filters: ['envoy.filters.http.router'] },
    { fault: true, filters: [FAULT_FILTER_NAME, 'envoy.filters.http.router'] },
  ])('client Listener (fault: $fault): api_listener, RDS over ADS, Router last', ({ fault, filters }) => {
    const l = meshClientListener('echo:80', { routeConfigName: 'echo:80', fault });
    expect(l.name).toBe('echo:80');
    expect(l.address).toBeUndefined();
    expect(l.apiListener?.apiListener?.typeUrl).toBe(ENVOY_TYPE_URL.httpConnectionManager);
    const h = HttpConnectionManager.decode(l.apiListener?.apiListener?.value ?? new Uint8Array());
    expect(h.rds?.routeConfigName).toBe('echo:80');
    expect(h.rds?.configSource?.ads).toEqual({});
    expect(h.httpFilters.map((f) => f.name)).toEqual(filters);
    expect(h.httpFilters.map((f) => f.isOptional)).toEqual(filters.map(() => false));
  });

  it.each([
    { tls: undefined, want: undefined },
    { tls: { instance: 'weft', requireClientCertificate: true }, want: true },
    { tls: { instance: 'weft', requireClientCertificate: false }, want: false },
  ])('server Listener with tls $tls', ({ tls, want }) => {
    const l = meshServerListener({
      name: 'xds.weft.dev/grpc/lds/inbound/0.0.0.0:9000',
      address: '0.0.0.0',
      port: 9000,
      ...(tls === undefined ? {} : { tls }),
    });
    expect(l.address?.socketAddress).toMatchObject({ address: '0.0.0.0', portValue: 9000 });
    expect(l.apiListener).toBeUndefined();
    expect(l.defaultFilterChain).toBeUndefined();
    expect(l.filterChains).toHaveLength(1);
    const chain = l.filterChains[0];
    expect(chain?.filterChainMatch).toBeUndefined();
    expect(chain?.filters).toHaveLength(1);
    const h = HttpConnectionManager.decode(chain?.filters[0]?.typedConfig?.value ?? new Uint8Array());
    expect(h.rds).toBeUndefined();
    expect(h.routeConfig?.virtualHosts[0]).toMatchObject({
      domains: ['*'],
      routes: [expect.objectContaining({ nonForwardingAction: {}, route: undefined })],
    });
    expect(h.httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.router']);
    if (want === undefined) {
      expect(chain?.transportSocket).toBeUndefined();
      return;
    }
    expect(chain?.transportSocket?.name).toBe('envoy.transport_sockets.tls');
    const ctx = DownstreamTlsContext.decode(chain?.transportSocket?.typedConfig?.value ?? new Uint8Array());
    expect(ctx.requireClientCertificate).toBe(want);
    expect(ctx.commonTlsContext?.tlsCertificateProviderInstance?.instanceName).toBe('weft');
    expect(
      ctx.commonTlsContext?.combinedValidationContext?.defaultValidationContext?.caCertificateProviderInstance
        ?.instanceName,
    ).toBe('weft');
  });
});

describe('meshLoadAssignment', () => {
  it.each([
    {
      what: 'one locality, weight = endpoint count, locality strings set',
      localities: [
        {
          locality: { zone: 'z1' },
          endpoints: [
            { address: '10.0.0.1', port: 80 },
            { address: '10.0.0.2', port: 80 },
          ],
        },
      ],
      want: [
        {
          locality: { region: '', zone: 'z1', subZone: '' },
          weight: 2,
          endpoints: ['10.0.0.1:80:1', '10.0.0.2:80:1'],
        },
      ],
    },
    {
      what: 'duplicates kept once, across localities; an empty locality left out',
      localities: [
        {
          locality: { zone: 'a' },
          endpoints: [
            { address: '10.0.0.1', port: 80 },
            { address: '10.0.0.1', port: 80 },
          ],
        },
        { locality: { zone: 'b' }, endpoints: [{ address: '10.0.0.1', port: 80 }] },
      ],
      want: [{ locality: { region: '', zone: 'a', subZone: '' }, weight: 1, endpoints: ['10.0.0.1:80:1'] }],
    },
    {
      what: 'unhealthy endpoints marked, IPv6 literal kept',
      localities: [{ locality: {}, endpoints: [{ address: 'fd00::1', port: 80, healthy: false }] }],
      want: [{ locality: { region: '', zone: '', subZone: '' }, weight: 1, endpoints: ['fd00::1:80:2'] }],
    },
    { what: 'no endpoints', localities: [{ locality: {}, endpoints: [] }], want: [] },
  ])('$what', ({ localities, want }) => {
    const cla = meshLoadAssignment('c', localities);
    expect(cla.clusterName).toBe('c');
    expect(
      cla.endpoints.map((l) => ({
        locality: l.locality,
        weight: l.loadBalancingWeight,
        endpoints: l.lbEndpoints.map(
          (e) =>
            `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}:${e.healthStatus}`,
        ),
      })),
    ).toEqual(want);
    for (const l of cla.endpoints) expect(l.priority).toBe(0);
  });
});
