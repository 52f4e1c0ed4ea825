// A real CA server for tests (the @weft/ca gRPC service on 127.0.0.1), with one node-bound
// token per ztunnel node and the "does this identity run on that node" lookup answered from a
// workload list, as weftd answers it from its snapshot.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCaServer, createStaticTokenAuthenticator } from '@weft/ca/server';
import type { Workload } from '@weft/policy/runtime';

export interface TestCaServer {
  /** `host:port`. */
  readonly address: string;
  readonly trustDomain: string;
  /** Node name -> path of a file holding that node's token. */
  readonly tokenFiles: Readonly<Record<string, string>>;
  /** Certificates issued so far. */
  issued(): number;
  close(): Promise<void>;
}

export async function startTestCaServer(options: {
  readonly nodes: readonly string[];
  /** Current workloads (read on every impersonation check). */
  readonly workloads: () => Iterable<Workload>;
  readonly trustDomain?: string;
}): Promise<TestCaServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ztunnel-ca-'));
  const tokens = options.nodes.map((node, i) => ({
    node,
    token: `ztunnel-${node}-token-${i}-0123456789abcdef`,
  }));
  const text = tokens.map((t) => `${t.token} weft-system ztunnel ${t.node}`).join('\n');
  const tokenFiles: Record<string, string> = {};
  for (const t of tokens) {
    const path = join(dir, `${t.node}.token`);
    writeFileSync(path, `${t.token}\n`, { mode: 0o600 });
    tokenFiles[t.node] = path;
  }
  const trustDomain = options.trustDomain ?? 'cluster.local';
  const server = await createCaServer({
    ca: { trustDomain },
    authenticators: [await createStaticTokenAuthenticator({ text })],
    nodeWorkloads: (node, identity) => {
      for (const w of options.workloads()) {
        if (
          w.node === node &&
          w.namespace === identity.namespace &&
          w.serviceAccount === identity.serviceAccount
        )
          return true;
      }
      return false;
    },
  });
  return {
    address: server.address,
    trustDomain,
    tokenFiles,
    issued: () => server.metrics.snapshot().issued,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
