// The README example, kept runnable.
import { createTestCa } from '@weft/ca/testing';
import { expect, it } from 'vitest';
import { createCertStore, createHboneClient, createHboneServer, isHboneError } from './index.ts';
import { startEchoServer } from './testing/index.ts';

it('README example', async () => {
  const ca = await createTestCa();
  const issue = async (id: string) => ({ ...(await ca.issue(id)), trustBundlePem: ca.trustBundlePem });
  const serverCert = await issue('spiffe://cluster.local/ns/backend/sa/api');
  const clientCert = await issue('spiffe://cluster.local/ns/frontend/sa/web');
  const echo = await startEchoServer();

  // --- README example starts ---
  const server = createHboneServer({
    certs: createCertStore(serverCert), // { keyPem, certChainPem, trustBundlePem }
    authorize: (peer, dest) =>
      peer.identity === 'spiffe://cluster.local/ns/frontend/sa/web'
        ? { allow: true }
        : { allow: false, reason: `${peer.identity} may not reach ${dest.ip}:${dest.port}` },
    hooks: { onStreamClosed: (e) => console.log(e.outcome, e.peer?.identity, e.bytesIn, e.bytesOut) },
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
    console.log(Buffer.concat(reply).toString()); // "ping"
    // --- README example ends ---
    expect(Buffer.concat(reply).toString()).toBe('ping');
  } catch (e) {
    if (isHboneError(e)) console.log(e.kind, e.status, e.message);
    throw e;
  } finally {
    await client.close();
    await server.close();
    await echo.close();
  }
});
