// A server + client pair on 127.0.0.1 for integration tests.
import type { CertMaterial, CertStore } from '../certs.ts';
import { createCertStore } from '../certs.ts';
import { createHboneClient, type HboneClient, type HboneClientOptions } from '../client/client.ts';
import { createHboneServer, type HboneServer, type HboneServerOptions } from '../server/server.ts';
import { allowAll } from '../testing/helpers.ts';
import type { TestPki } from './mesh.ts';

export interface Harness {
  readonly server: HboneServer;
  readonly serverCerts: CertStore;
  readonly via: { ip: string; port: number };
  client(opts?: Partial<HboneClientOptions> & { material?: CertMaterial }): HboneClient;
  close(): Promise<void>;
}

export async function startHarness(pki: TestPki, opts: Partial<HboneServerOptions> = {}): Promise<Harness> {
  const serverCerts = createCertStore(pki.server);
  const server = createHboneServer({ certs: serverCerts, authorize: allowAll, ...opts });
  const via = await server.listen({ host: '127.0.0.1', port: 0 });
  const clients: HboneClient[] = [];
  return {
    server,
    serverCerts,
    via,
    client(o = {}) {
      const { material, ...rest } = o;
      const c = createHboneClient({ certs: createCertStore(material ?? pki.client), ...rest });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close({ graceMs: 100 })));
      await server.close({ graceMs: 100 });
    },
  };
}
