// The README example, kept runnable.
import { createTestCa } from '@weft/ca/testing';
import { expect, it } from 'vitest';
import { createCertStore, createHboneClient, createHboneServer } from './index.ts';
import { startEchoServer, waitFor } from './testing/index.ts';

it('README example', async () => {
  const ca = await createTestCa();
  const issue = async (id: string) => ({ ...(await ca.issue(id)), trustBundlePem: ca.trustBundlePem });
  const serverCert = await issue('spiffe://cluster.local/ns/backend/sa/api');
  const clientCert = await issue('spiffe://cluster.local/ns/frontend/sa/web');
  const echo = await startEchoServer();
  const logged: { message: string; fields: unknown }[] = [];
  const log = { info: (message: string, fields?: unknown) => logged.push({ message, fields }) };

  // --- README example starts ---
  const server = createHboneServer({
    certs: createCertStore(serverCert), // { keyPem, certChainPem, trustBundlePem }
    authorize: (peer, dest) =>
      peer.identity === 'spiffe://cluster.local/ns/frontend/sa/web'
        ? { allow: true }
        : { allow: false, reason: `${peer.identity} may not reach ${dest.ip}:${dest.port}` },
    // log: a Logger (@weft/telemetry's createLogger fits); packages never write to the console.
    hooks: {
      onStreamClosed: (e) =>
        log.info('tunnel closed', {
          outcome: e.outcome,
          peer: e.peer?.identity,
          in: e.bytesIn,
          out: e.bytesOut,
        }),
    },
  });
  const via = await server.listen({ host: '127.0.0.1', port: 0 }); // 15008 in a proxy

  const client = createHboneClient({ certs: createCertStore(clientCert) });
  try {
    const tunnel = await client.connect({
      via, // the HBONE endpoint: destination node, waypoint or sidecar
      dest: echo.address, // sent as :authority
      expectedIdentity: 'spiffe://cluster.local/ns/backend/sa/api',
      forwardedFor: '10.0.0.7',
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    tunnel.end('ping');
    const reply: Buffer[] = [];
    for await (const chunk of tunnel) reply.push(chunk as Buffer);
    const text = Buffer.concat(reply).toString(); // "ping"
    // --- README example ends ---
    expect(text).toBe('ping');
    await waitFor(() => logged.length === 1, 5000, 'tunnel closed log');
    expect(logged[0]).toEqual({
      message: 'tunnel closed',
      fields: { outcome: 'closed', peer: 'spiffe://cluster.local/ns/frontend/sa/web', in: 4, out: 4 },
    });
  } finally {
    await client.close();
    await server.close();
    await echo.close();
  }
});
