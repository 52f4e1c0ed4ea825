// The waypoint's own certificate: a CertManager (@weft/ca/client) keeps it fresh from the CA and
// publishes each rotation into a CertStore, the capability @weft/hbone reads. Nothing here can
// mint certificates.
import { createCaClient, createCertManager } from '@weft/ca/client';
import { type CertStore, createCertStore } from '@weft/hbone';
import type { Logger } from '@weft/telemetry';

export interface WaypointCertificates {
  readonly certs: CertStore;
  close(): void;
}

export function startCertificates(options: {
  readonly caAddress: string;
  readonly token?: () => string | undefined;
  readonly logger: Logger;
}): WaypointCertificates {
  const client = createCaClient({
    address: options.caAddress,
    ...(options.token !== undefined ? { token: options.token } : {}),
  });
  const manager = createCertManager({ source: client });
  const certs = createCertStore();
  manager.on('rotated', (c) => {
    certs.set({ keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: c.trustBundlePem });
    options.logger.info('certificate rotated', { identity: c.spiffeId, notAfter: c.notAfter.toISOString() });
  });
  manager.on('error', (e) =>
    options.logger.warn('certificate fetch failed', {
      kind: e.kind,
      reason: e.message,
      retryInMs: e.retryInMs,
    }),
  );
  manager.on('expired', () => {
    certs.delete();
    options.logger.error('certificate expired; HBONE is down until a new one arrives');
  });
  manager.start();
  return {
    certs,
    close() {
      manager.close();
      client.close();
    },
  };
}
