// weftd's TLS port: the relay, the CA client and the policy stream reach it over TLS, verifying
// its certificate against the roots given in `tls`.
import * as grpc from '@grpc/grpc-js';
import { createCsr, generateRsaKeyPair } from '@weft/ca';
import { createTestCa } from '@weft/ca/testing';
import { envoyResource } from '@weft/xds-protocol/envoy';
import { describe, expect, it } from 'vitest';
import { createProxylessClient, createProxylessServer } from './index.ts';
import { callUnary, ECHO_PATH, echoImplementation, echoService, freePort } from './test-support/echo.ts';
import { proxylessServerListener, startFakeWeftd } from './testing/index.ts';

describe('weftd over TLS', () => {
  it('sets up over TLS with the given roots and refuses a weftd it cannot verify', async () => {
    const meshCa = await createTestCa();
    const keys = await generateRsaKeyPair();
    const issued = await meshCa.authority.issue({
      csrPem: createCsr(keys, { spiffeId: 'spiffe://cluster.local/ns/weft-system/sa/weftd' }),
      identity: { namespace: 'weft-system', serviceAccount: 'weftd' },
      dnsNames: ['weftd.weft-system.svc'],
    });
    if (!issued.ok) throw new Error(issued.error.message);
    const weftd = await startFakeWeftd({
      ca: meshCa.authority,
      workloads: [{ token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' }],
      credentials: grpc.ServerCredentials.createSsl(
        null,
        [
          {
            private_key: Buffer.from(keys.privateKeyPem),
            cert_chain: Buffer.from(issued.value.certChainPem.join('\n')),
          },
        ],
        false,
      ),
    });
    const port = await freePort();
    weftd.cache.apply([envoyResource('listener', proxylessServerListener(port))]);
    const base = {
      pod: 'demo/echo-v1',
      serviceAccount: 'echo',
      xdsAddress: weftd.address,
      token: 'echo-token-0123456789',
      bootstrap: 'per-channel' as const,
      readyTimeoutMs: 5000,
    };
    try {
      const server = await createProxylessServer({
        ...base,
        tls: { rootCertPem: meshCa.rootCertPem, serverName: 'weftd.weft-system.svc' },
        policies: [],
      });
      try {
        const g = server.createServer();
        g.addService(echoService, echoImplementation('echo-v1'));
        await server.listen(g, port, { timeoutMs: 15_000 });
        // Calls into it from a client of the same mesh (plain TLS client with a mesh certificate).
        const cert = await meshCa.issue('spiffe://cluster.local/ns/demo/sa/client');
        const c = new grpc.Client(
          `127.0.0.1:${port}`,
          grpc.credentials.createSsl(
            Buffer.from(meshCa.rootCertPem),
            Buffer.from(cert.keyPem),
            Buffer.from(cert.certChainPem.join('\n')),
            { checkServerIdentity: () => undefined },
          ),
          { 'grpc.ssl_target_name_override': 'echo.demo.svc' },
        );
        expect(await callUnary(c, ECHO_PATH)).toBe('echo-v1|URI:spiffe://cluster.local/ns/demo/sa/client');
        c.close();
        expect(weftd.adsAuthorization.length).toBeGreaterThan(0);
      } finally {
        await server.close();
      }
      // Roots that did not sign weftd's certificate: no certificate, setup fails.
      const foreign = await createTestCa();
      await expect(
        createProxylessClient({
          ...base,
          tls: { rootCertPem: foreign.rootCertPem, serverName: 'weftd.weft-system.svc' },
        }),
      ).rejects.toThrow(/no workload certificate/);
    } finally {
      await weftd.close();
    }
  }, 30_000);
});
