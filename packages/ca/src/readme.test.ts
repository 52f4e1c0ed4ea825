// The example in README.md, kept compiling and passing.

import { createCaClient, createCertManager } from '@weft/ca/client';
import { createCaServer, createStaticTokenAuthenticator } from '@weft/ca/server';
import { expect, it } from 'vitest';

it('README example', async () => {
  const server = await createCaServer({
    ca: { trustDomain: 'cluster.local' },
    authenticators: [await createStaticTokenAuthenticator({ text: 'web-token-0123456789 default web' })],
  });
  const client = createCaClient({ address: server.address, token: () => 'web-token-0123456789' });
  const certs = createCertManager({ source: client });
  const rotations: string[] = [];
  certs.on('rotated', (c) => rotations.push(c.spiffeId));
  certs.start();
  const cert = await certs.ready();
  // cert.keyPem, cert.certChainPem (leaf first), cert.trustBundlePem -> tls.createSecureContext(...)
  certs.close();
  client.close();
  await server.close();

  expect(cert.spiffeId).toBe('spiffe://cluster.local/ns/default/sa/web');
  expect(rotations).toEqual(['spiffe://cluster.local/ns/default/sa/web']);
  expect(server.metrics.issued).toBe(1);
});
