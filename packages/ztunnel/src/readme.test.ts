// The README example, run as written (addresses on 127.0.7.x so it runs beside the other tests).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localMeshLayout, localMeshObjects } from '@weft/proxy-core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { applyUpdate, createStateStore, createZtunnel, loadManifests, planOutbound } from './index.ts';
import { startTestCaServer, type TestCaServer } from './testing/ca.ts';
import { httpGet } from './testing/net.ts';

const layout = localMeshLayout(7, 8);
const manifests = localMeshObjects({ layout })
  .map((o) => stringify(o))
  .join('---\n');
let ca: TestCaServer;
let configFile: string;

beforeAll(async () => {
  const store = createStateStore();
  await loadManifests(store, manifests);
  ca = await startTestCaServer({ nodes: ['node-b'], workloads: () => store.state.workloads.values() });
  configFile = join(mkdtempSync(join(tmpdir(), 'ztunnel-readme-')), 'mesh.yaml');
  writeFileSync(configFile, manifests);
});

afterAll(async () => {
  await ca?.close();
});

it('README example', async () => {
  const caAddress = ca.address;
  const tokenFile = ca.tokenFiles['node-b'] as string;
  const nodeIp = layout.nodeB.ip;
  const clientIp = layout.client;

  // --- README example starts here
  // 1. Decisions are plain functions over the state store: no sockets needed.
  const store = createStateStore();
  await loadManifests(store, manifests); // the static loader; weftd's xDS writes the same way
  const plan = planOutbound(
    store.state,
    { sourceIp: clientIp, target: { kind: 'hostname', hostname: 'echo.demo.svc.cluster.local', port: 80 } },
    { nodeName: 'node-b', mode: 'ambient', pick: () => 0 },
  );
  // plan.kind === 'hbone': tunnel to <echo pod IP>:15008, :authority <echo pod IP>:8080,
  // presenting spiffe://cluster.local/ns/demo/sa/client, expecting .../sa/echo.

  // 2. A node proxy (main.ts does this from flags; xdsAddress would replace configFile).
  const ztunnel = await createZtunnel({ nodeName: 'node-b', nodeIp, caAddress, tokenFile, configFile });
  await ztunnel.whenReady(); // config loaded, one certificate per local identity
  const { socks5, readiness } = ztunnel.addresses; // 127.0.x.1:15080, :15021
  await ztunnel.close();
  // --- README example ends here

  expect(plan.kind).toBe('hbone');
  if (plan.kind === 'hbone') {
    expect(plan.via).toEqual({ ip: layout.echo1, port: 15008 });
    expect(plan.authority).toEqual({ ip: layout.echo1, port: 8080 });
    expect(plan.expectedIdentity).toBe('spiffe://cluster.local/ns/demo/sa/echo');
  }
  expect(socks5).toEqual({ ip: nodeIp, port: 15080 });
  expect(readiness).toEqual({ ip: nodeIp, port: 15021 });
  expect(applyUpdate).toBeTypeOf('function');
});

it('readiness is 503 until config and certificates are there', async () => {
  const z = await createZtunnel({ nodeName: 'node-b', nodeIp: layout.nodeB.ip });
  try {
    const r = await httpGet(`http://${layout.nodeB.ip}:15021/healthz/ready`);
    expect(r.status).toBe(503);
    expect(r.body).toContain('config not synced');
    expect((await httpGet(`http://${layout.nodeB.ip}:15000/nope`)).status).toBe(404);
    // Raw request: fetch clients may normalize the path before sending it.
    for (const path of ['//config_dump', '/config_dump/', '/%63onfig_dump', '/CONFIG_DUMP'])
      expect(await rawStatus(layout.nodeB.ip, 15000, path), path).toBe(404);
  } finally {
    await z.close();
  }
});

function rawStatus(ip: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = connect(port, ip, () =>
      c.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
    );
    let data = '';
    c.on('data', (d: Buffer) => {
      data += d.toString('latin1');
    });
    c.on('error', reject);
    c.on('close', () => resolve(Number(data.split(' ')[1])));
  });
}
