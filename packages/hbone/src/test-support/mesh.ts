// Test wiring shared by this package's tests: a test CA, cert stores, a server and a client.
import { createTestCa, type TestCa, type TestCertificate } from '@weft/ca/testing';
import type { CertMaterial } from '../certs.ts';

export const SERVER_ID = 'spiffe://cluster.local/ns/backend/sa/server';
export const CLIENT_ID = 'spiffe://cluster.local/ns/frontend/sa/client';

export function materialOf(cert: TestCertificate, trustBundlePem: string): CertMaterial {
  return { keyPem: cert.keyPem, certChainPem: cert.certChainPem, trustBundlePem };
}

export interface TestPki {
  readonly ca: TestCa;
  readonly server: CertMaterial;
  readonly client: CertMaterial;
  issue(id: string, opts?: { ttlSeconds?: number; notBefore?: Date }): Promise<CertMaterial>;
}

export async function createTestPki(): Promise<TestPki> {
  const ca = await createTestCa();
  const issue = async (id: string, opts: { ttlSeconds?: number; notBefore?: Date } = {}) =>
    materialOf(await ca.issue(id, opts), ca.trustBundlePem);
  const [server, client] = await Promise.all([issue(SERVER_ID), issue(CLIENT_ID)]);
  return { ca, server, client, issue };
}
