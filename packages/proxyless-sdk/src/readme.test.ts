// The README example, run against a fake weftd. It uses the process-wide bootstrap (the default),
// as an app does: this file sets up the SDK once and nothing else here creates xDS channels.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { authorizationPolicy, compiledPolicies } from '@weft/policy/testing';
import {
  envoyResource,
  proxylessListener,
  proxylessLoadAssignment,
  proxylessRouteConfiguration,
} from '@weft/xds-protocol/envoy';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createProxylessServer } from './index.ts';
import {
  ADMIN_PATH,
  callUnary,
  ECHO_PATH,
  echoImplementation,
  echoService,
  freePort,
} from './test-support/echo.ts';
import {
  type FakeWeftd,
  proxylessMtlsCluster,
  proxylessServerListener,
  startFakeWeftd,
} from './testing/index.ts';

let weftd: FakeWeftd;
let weftdAddress: string;
let tokenFile: string;
let port: number;

beforeAll(async () => {
  weftd = await startFakeWeftd({
    workloads: [{ token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' }],
  });
  weftdAddress = weftd.address;
  tokenFile = join(await mkdtemp(join(tmpdir(), 'readme-')), 'token');
  await writeFile(tokenFile, 'echo-token-0123456789\n');
  port = await freePort();
  const host = 'echo.demo.svc.cluster.local';
  const name = `${host}:${port}`;
  const cluster = `outbound|${port}||${host}`;
  weftd.cache.apply([
    envoyResource('listener', proxylessServerListener(port)),
    envoyResource('listener', proxylessListener(name, { routeConfigName: name })),
    envoyResource(
      'routeConfiguration',
      proxylessRouteConfiguration(name, [host, name], [{ clusters: [{ name: cluster, weight: 1 }] }]),
    ),
    envoyResource('cluster', proxylessMtlsCluster(cluster, ['spiffe://cluster.local/ns/demo/sa/echo'])),
    envoyResource(
      'clusterLoadAssignment',
      proxylessLoadAssignment(cluster, [{ address: '127.0.0.1', port }]),
    ),
  ]);
});

afterAll(async () => {
  await weftd?.close();
});

it('README example', async () => {
  // (The example's policies come from weftd; the fake serves none, so they are given here.)
  const policies = compiledPolicies([
    authorizationPolicy('deny-admin', {
      namespace: 'demo',
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: ['/weft.test.Echo/Admin'] } }] }],
    }),
  ]);
  const echoImpl = echoImplementation('echo-v1');

  // --- README example ---
  // The first thing the program does: nothing may load @grpc/grpc-js-xds before this.
  const mesh = await createProxylessServer({
    pod: 'demo/echo-v1',
    serviceAccount: 'echo',
    xdsAddress: weftdAddress, // e.g. 'weftd.weft-system.svc:15010'
    tokenFile, // e.g. '/var/run/secrets/tokens/weft'
    policies,
  });
  const server = mesh.createServer(); // an XdsServer with the authorization interceptor
  server.addService(echoService, echoImpl);
  await mesh.listen(server, port); // resolves once weftd's Listener for 0.0.0.0:<port> serves

  // The same process calls services over xDS, with its mesh identity.
  const client = new grpc.Client(
    mesh.target('echo.demo.svc.cluster.local', port),
    mesh.channelCredentials,
    mesh.channelOptions,
  );
  const reply = await callUnary(client, ECHO_PATH); // 'echo-v1|URI:spiffe://cluster.local/ns/demo/sa/echo'
  const denied = await callUnary(client, ADMIN_PATH).catch((e: grpc.ServiceError) => e); // PERMISSION_DENIED
  client.close();
  server.forceShutdown();
  await mesh.close();
  // --- end ---

  expect(reply).toBe('echo-v1|URI:spiffe://cluster.local/ns/demo/sa/echo');
  expect(denied).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  expect(process.env.GRPC_XDS_BOOTSTRAP_CONFIG).toBe(mesh.bootstrap);
});
