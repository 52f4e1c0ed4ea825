// Two ztunnel nodes on loopback in one process, for package tests and quick scenarios: a real CA
// (node-bound certificates), one store per node filled by the same compile as weftd's, and a TCP
// echo server as demo/echo-1 on node-a.
import { readFileSync } from 'node:fs';
import { createCaClient, createCertManager } from '@weft/ca/client';
import type { CertMaterial } from '@weft/hbone';
import { applyUpdate, batchFromSnapshot, createStateStore, type StateStore } from '@weft/proxy-core';
import {
  compileOrThrow,
  type LocalMeshLayout,
  localMeshLayout,
  localMeshObjects,
} from '@weft/proxy-core/testing';
import { createRegistry, type MetricsRegistry } from '@weft/telemetry';
import { type MemorySink, memorySink } from '@weft/telemetry/testing';
import { createZtunnel, type Ztunnel, type ZtunnelConfig, type ZtunnelDeps } from '../ztunnel.ts';
import { startTestCaServer, type TestCaServer } from './ca.ts';
import { type EchoServer, startTcpEcho } from './net.ts';

export interface LocalNodeHandle {
  readonly name: string;
  readonly ip: string;
  readonly ztunnel: Ztunnel;
  readonly store: StateStore;
  readonly accessLog: MemorySink;
  readonly registry: MetricsRegistry;
}

export interface LocalMeshHarness {
  readonly layout: LocalMeshLayout;
  readonly ca: TestCaServer;
  readonly echo: EchoServer;
  readonly a: LocalNodeHandle;
  readonly b: LocalNodeHandle;
  /** Compiles fixture objects + `extra` and replaces both nodes' config (what a weftd push does). */
  apply(extra?: readonly unknown[]): void;
  /**
   * A certificate of the mesh CA for `identity`, requested with node `node`'s token as its
   * ztunnel would (the identity must run on that node): to play a workload's HBONE client.
   */
  issue(node: 'a' | 'b', identity: string): Promise<CertMaterial>;
  /** Restarts one node's ztunnel (same store, registry and log). */
  restart(node: 'a' | 'b'): Promise<LocalNodeHandle>;
  close(): Promise<void>;
}

export interface LocalMeshHarnessOptions {
  /** Octets of the two nodes' 127.0.x.0/24 ranges. Default 1 and 2. */
  readonly octets?: readonly [number, number];
  readonly extra?: readonly unknown[];
  readonly config?: Partial<ZtunnelConfig>;
  readonly deps?: Partial<ZtunnelDeps>;
  /** Per node config and deps on top of `config` and `deps` (e.g. in-pod mode on one node). */
  readonly nodes?: {
    readonly a?: { readonly config?: Partial<ZtunnelConfig>; readonly deps?: Partial<ZtunnelDeps> };
    readonly b?: { readonly config?: Partial<ZtunnelConfig>; readonly deps?: Partial<ZtunnelDeps> };
  };
}

export async function startLocalMesh(options: LocalMeshHarnessOptions = {}): Promise<LocalMeshHarness> {
  const [oa, ob] = options.octets ?? [1, 2];
  const layout = localMeshLayout(oa, ob);
  let objects = [...localMeshObjects({ layout }), ...(options.extra ?? [])];
  let snapshot = compileOrThrow(objects);
  const ca = await startTestCaServer({
    nodes: [layout.nodeA.name, layout.nodeB.name],
    workloads: () => Object.values(snapshot.workloads),
  });
  const echo = await startTcpEcho(layout.echo1, 8080);

  const stores = { a: createStateStore(), b: createStateStore() };
  const logs = { a: memorySink(), b: memorySink() };
  const registries = { a: createRegistry(), b: createRegistry() };
  for (const s of Object.values(stores)) applyUpdate(s, batchFromSnapshot(snapshot, 'test'));

  const start = async (key: 'a' | 'b'): Promise<LocalNodeHandle> => {
    const node = key === 'a' ? layout.nodeA : layout.nodeB;
    const ztunnel = await createZtunnel(
      {
        nodeName: node.name,
        nodeIp: node.ip,
        caAddress: ca.address,
        tokenFile: ca.tokenFiles[node.name] as string,
        connectTimeoutMs: 3000,
        ...options.config,
        ...options.nodes?.[key]?.config,
      },
      {
        store: stores[key],
        accessLog: logs[key],
        registry: registries[key],
        ...options.deps,
        ...options.nodes?.[key]?.deps,
      },
    );
    return {
      name: node.name,
      ip: node.ip,
      ztunnel,
      store: stores[key],
      accessLog: logs[key],
      registry: registries[key],
    };
  };
  const nodes = { a: await start('a'), b: await start('b') };
  await Promise.all([nodes.a.ztunnel.whenReady(), nodes.b.ztunnel.whenReady()]);

  return {
    layout,
    ca,
    echo,
    get a() {
      return nodes.a;
    },
    get b() {
      return nodes.b;
    },
    apply(extra = []) {
      objects = [...localMeshObjects({ layout }), ...extra];
      snapshot = compileOrThrow(objects);
      for (const s of Object.values(stores)) applyUpdate(s, batchFromSnapshot(snapshot, 'test'));
    },
    async issue(key, identity) {
      const nodeName = key === 'a' ? layout.nodeA.name : layout.nodeB.name;
      const tokenFile = ca.tokenFiles[nodeName] as string;
      const client = createCaClient({
        address: ca.address,
        token: () => readFileSync(tokenFile, 'utf8').trim(),
      });
      const manager = createCertManager({ source: client, impersonatedIdentity: identity });
      try {
        manager.start();
        const cert = await manager.ready();
        return {
          keyPem: cert.keyPem,
          certChainPem: [...cert.certChainPem],
          trustBundlePem: cert.trustBundlePem,
        };
      } finally {
        manager.close();
        client.close();
      }
    },
    async restart(key) {
      await nodes[key].ztunnel.close();
      nodes[key] = await start(key);
      return nodes[key];
    },
    async close() {
      await Promise.all([nodes.a.ztunnel.close(), nodes.b.ztunnel.close()]);
      await echo.close();
      await ca.close();
    },
  };
}
