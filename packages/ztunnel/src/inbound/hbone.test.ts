// Inbound HBONE on the wire, one listener's server driven by a real @weft/hbone client: the
// status each refusal answers with, and no upstream connect for a refused stream.
// Addresses: 127.0.9.x (node-a) and 127.0.10.x (node-b).
import type { Duplex } from 'node:stream';
import { createTestCa } from '@weft/ca/testing';
import {
  type CertMaterial,
  createCertStore,
  createHboneClient,
  type HboneClient,
  isHboneError,
} from '@weft/hbone';
import type { Workload } from '@weft/policy/runtime';
import { authorizationPolicy, service, waypointDeployment, waypointGateway } from '@weft/policy/testing';
import {
  applyUpdate,
  batchFromSnapshot,
  createLocalSocketFactory,
  createStateStore,
  type ProxyState,
  type SocketAddress,
  type SocketFactory,
} from '@weft/proxy-core';
import { compileOrThrow, localMeshLayout, localMeshObjects } from '@weft/proxy-core/testing';
import { createRegistry, noopLogger } from '@weft/telemetry';
import { type MemorySink, memorySink, parseKvLine } from '@weft/telemetry/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createZtunnelTelemetry, type ZtunnelTelemetry } from '../telemetry.ts';
import { type EchoServer, startTcpEcho } from '../testing/net.ts';
import { createInboundHbone, type InboundHbone } from './hbone.ts';

const layout = localMeshLayout(9, 10);
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const WAYPOINT_ID = 'spiffe://cluster.local/ns/demo/sa/wp';

let echoCert: CertMaterial;
let clientCert: CertMaterial;
let waypointCert: CertMaterial;
let echo: EchoServer;

beforeAll(async () => {
  const ca = await createTestCa();
  const issue = async (id: string) => ({ ...(await ca.issue(id)), trustBundlePem: ca.trustBundlePem });
  [echoCert, clientCert, waypointCert] = await Promise.all([
    issue(ECHO_ID),
    issue(CLIENT_ID),
    issue(WAYPOINT_ID),
  ]);
  echo = await startTcpEcho(layout.echo1, 8080);
});
afterAll(async () => {
  await echo.close();
});

function stateOf(extra: readonly unknown[] = [], demoMode = 'ambient'): ProxyState {
  const objects = localMeshObjects({ layout }).map((o) =>
    o.kind === 'Namespace' && (o.metadata as { name: string }).name === 'demo'
      ? { ...o, metadata: { name: 'demo', labels: { 'weft.dev/dataplane-mode': demoMode } } }
      : o,
  );
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileOrThrow([...objects, ...extra]), 'test'));
  return store.state;
}

interface Fixture {
  state: ProxyState;
  readonly inbound: InboundHbone;
  readonly client: HboneClient;
  readonly via: SocketAddress;
  readonly accessLog: MemorySink;
  readonly telemetry: ZtunnelTelemetry;
  /** Upstream connects asked of the SocketFactory. */
  readonly connects: SocketAddress[];
  close(): Promise<void>;
}

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function start(
  extra: readonly unknown[] = [],
  opts: { beforeConnect?: (addr: SocketAddress) => Promise<void>; clientCert?: CertMaterial } = {},
): Promise<Fixture> {
  const local = createLocalSocketFactory();
  const connects: SocketAddress[] = [];
  const sockets: SocketFactory = {
    listen: (addr, o) => local.listen(addr, o),
    async connect(addr, o) {
      connects.push(addr);
      await opts.beforeConnect?.(addr);
      return local.connect(addr, o);
    },
  };
  const state = stateOf(extra);
  const workload = state.workloadByIp(layout.echo1) as Workload;
  const serverCerts = createCertStore();
  serverCerts.set(echoCert, ECHO_ID);
  const accessLog = memorySink();
  const telemetry = createZtunnelTelemetry({ registry: createRegistry(), accessLog });
  const f: Fixture = {
    state,
    inbound: undefined as unknown as InboundHbone,
    client: createHboneClient({ certs: createCertStore(opts.clientCert ?? clientCert) }),
    via: { ip: '', port: 0 },
    accessLog,
    telemetry,
    connects,
    async close() {
      await this.client.close({ graceMs: 0 });
      await this.inbound.close(0);
    },
  };
  const inbound = createInboundHbone({
    workload,
    nodeName: layout.nodeA.name,
    state: () => f.state,
    certs: serverCerts,
    sockets,
    telemetry,
    logger: noopLogger,
    trustDomain: 'cluster.local',
  });
  const via = await inbound.server.listen({ host: layout.nodeA.ip, port: 0 });
  return Object.assign(f, { inbound, via });
}

async function statusOf(p: Promise<unknown>): Promise<number | string> {
  try {
    const t = (await p) as { destroy(): void };
    t.destroy();
    return 200;
  } catch (e) {
    return isHboneError(e) ? (e.status ?? e.kind) : String(e);
  }
}

// echo-1:8080 guarded by waypoint demo/wp (pod 127.0.9.50, identity WAYPOINT_ID) through a bound
// service that selects it.
const guardedByWaypoint = [
  waypointGateway('wp', { namespace: 'demo' }),
  ...waypointDeployment('wp', { namespace: 'demo', ip: '127.0.9.50' }),
  service('echo-l7', {
    namespace: 'demo',
    clusterIP: '10.96.9.50',
    labels: { 'weft.dev/use-waypoint': 'wp' },
    selector: { app: 'echo' },
    ports: [{ name: 'http', port: 80, targetPort: 8080 }],
  }),
];

describe('inbound HBONE status codes', () => {
  const denyAll = authorizationPolicy('deny-all', {
    namespace: 'demo',
    action: 'DENY',
    selector: { app: 'echo' },
    rules: [{}],
  });
  it.each([
    { name: 'the listener workload: tunnel up', dest: () => layout.echo1, extra: [], status: 200 },
    {
      name: 'an address that is no workload of the mesh',
      dest: () => '127.0.9.99',
      extra: [],
      status: 400,
      reason: 'unknown_destination',
    },
    {
      name: 'another workload (on another node)',
      dest: () => layout.client,
      extra: [],
      status: 400,
      reason: 'authority_mismatch',
    },
    {
      name: 'denied by policy',
      dest: () => layout.echo1,
      extra: [denyAll],
      status: 401,
      reason: 'denied',
    },
    {
      name: 'a port a waypoint guards, the caller skipping the waypoint',
      dest: () => layout.echo1,
      extra: guardedByWaypoint,
      status: 401,
      reason: 'waypoint_bypass',
    },
    {
      name: "the listener workload's HBONE port (a tunnel into the proxy itself)",
      dest: () => layout.echo1,
      port: 15008,
      extra: guardedByWaypoint,
      status: 400,
      reason: 'proxy_port',
    },
    {
      name: "the listener workload's plaintext port",
      dest: () => layout.echo1,
      port: 15006,
      extra: guardedByWaypoint,
      status: 400,
      reason: 'proxy_port',
    },
    {
      name: "the node's admin port",
      dest: () => layout.nodeA.ip,
      port: 15000,
      extra: [],
      status: 400,
      reason: 'proxy_port',
    },
  ] as {
    name: string;
    dest: () => string;
    port?: number;
    extra: unknown[];
    status: number;
    reason?: string;
  }[])('$name: $status', async ({ dest, port, extra, status, reason }) => {
    fx = await start(extra);
    const got = await statusOf(
      fx.client.connect({ via: fx.via, dest: { ip: dest(), port: port ?? 8080 }, expectedIdentity: ECHO_ID }),
    );
    expect(got).toBe(status);
    if (reason !== undefined) {
      expect(fx.connects).toEqual([]);
      expect(fx.telemetry.rejects.count(reason as 'denied')).toBe(1);
      const line = parseKvLine(fx.accessLog.lines.at(-1) ?? '');
      expect(line).toMatchObject({ reporter: 'destination', reason });
    }
  });

  it('a local workload that left ambient mode since the listener opened: 400, not 503', async () => {
    fx = await start();
    fx.state = stateOf([], 'none');
    const got = await statusOf(
      fx.client.connect({ via: fx.via, dest: { ip: layout.echo1, port: 8080 }, expectedIdentity: ECHO_ID }),
    );
    expect(got).toBe(400);
    expect(fx.connects).toEqual([]);
    expect(fx.telemetry.rejects.count('destination_not_ambient')).toBe(1);
  });
});

describe('open tunnels decided again on a config change', () => {
  it('resets a tunnel that a new DENY refuses, keeps the ones still allowed, and counts it', async () => {
    fx = await start();
    const tunnel = (await fx.client.connect({
      via: fx.via,
      dest: { ip: layout.echo1, port: 8080 },
      expectedIdentity: ECHO_ID,
    })) as Duplex;
    const ended = new Promise<string>((resolve) => {
      tunnel.on('error', (e) => resolve(`error ${(e as Error).message}`));
      tunnel.on('close', () => resolve('closed'));
    });
    tunnel.resume();
    expect(fx.inbound.revalidate()).toBe(0);
    fx.state = stateOf([
      authorizationPolicy('deny-all', {
        namespace: 'demo',
        action: 'DENY',
        selector: { app: 'echo' },
        rules: [{}],
      }),
    ]);
    expect(fx.inbound.revalidate()).toBe(1);
    expect(await ended).toMatch(/closed|error/);
    expect(fx.telemetry.rejects.count('denied')).toBe(1);
    expect(fx.inbound.revalidate()).toBe(0);
  });
});

describe('several streams on one connection', () => {
  // Same destination, same peer connection (the waypoint guarding echo-1, which may speak for its
  // clients): only the Forwarded source tells them apart.
  const allowOne = authorizationPolicy('allow-one', {
    namespace: 'demo',
    action: 'ALLOW',
    selector: { app: 'echo' },
    rules: [{ from: [{ source: { ipBlocks: ['10.0.0.1/32'] } }] }],
  });
  const denyTwo = authorizationPolicy('deny-two', {
    namespace: 'demo',
    action: 'DENY',
    selector: { app: 'echo' },
    rules: [{ from: [{ source: { ipBlocks: ['10.0.0.2/32'] } }] }],
  });

  it.each([
    ['allowed stream first', ['10.0.0.1', '10.0.0.2']],
    ['denied stream first', ['10.0.0.2', '10.0.0.1']],
  ])('each stream keeps its own decision (%s)', async (_name, order) => {
    const lineOf = (src: string) =>
      fx?.accessLog.lines.map((l) => parseKvLine(l)).find((l) => l.src_addr === src);
    // The allowed stream's upstream connect waits until the denied stream was answered: when the
    // allowed stream goes first, both decisions are pending at once (keying them by addresses
    // gave the allowed tunnel the denied stream's decision, or none).
    fx = await start([...guardedByWaypoint, allowOne, denyTwo], {
      beforeConnect: () => until(() => lineOf('10.0.0.2') !== undefined),
      clientCert: waypointCert,
    });
    const f = fx;
    const dest = { ip: layout.echo1, port: 8080 };
    const results = await Promise.allSettled(
      order.map((src) =>
        f.client.connect({ via: f.via, dest, expectedIdentity: ECHO_ID, forwardedFor: src }),
      ),
    );
    const bySource = new Map(order.map((src, i) => [src, results[i]]));
    const allowed = bySource.get('10.0.0.1');
    const denied = bySource.get('10.0.0.2');
    expect(f.client.stats().connections.opened).toBe(1);
    expect(denied?.status === 'rejected' && isHboneError(denied.reason) ? denied.reason.status : denied).toBe(
      401,
    );
    if (allowed?.status !== 'fulfilled') throw new Error(`allowed stream failed: ${String(allowed?.reason)}`);
    const tunnel = allowed.value;
    const echoed: Buffer[] = [];
    tunnel.on('data', (c: Buffer) => echoed.push(c));
    const ended = new Promise((r) => tunnel.once('end', r));
    tunnel.end('ping');
    await ended;
    expect(Buffer.concat(echoed).toString()).toBe('ping');
    expect(f.connects).toEqual([dest]);
    await until(() => lineOf('10.0.0.1') !== undefined);
    expect(lineOf('10.0.0.1')).toMatchObject({
      rbac: 'allow',
      rbac_policy: 'demo/allow-one',
      bytes_received: '4',
      dst_workload: 'echo-1',
    });
    expect(lineOf('10.0.0.1')?.reason ?? '-').toBe('-');
    expect(lineOf('10.0.0.2')).toMatchObject({
      rbac: 'deny',
      rbac_policy: 'demo/deny-two',
      reason: 'denied',
    });
    expect(f.telemetry.rejects.count('denied')).toBe(1);
  });
});

describe('a caller cannot choose its source with Forwarded', () => {
  // Only 127.0.10.20 (other/legacy) may reach echo-1 by address.
  const allowLegacyIp = authorizationPolicy('allow-legacy-ip', {
    namespace: 'demo',
    action: 'ALLOW',
    selector: { app: 'echo' },
    rules: [{ from: [{ source: { ipBlocks: [`${layout.legacy}/32`] } }] }],
  });

  it("a client naming another workload's address is judged and logged by its own", async () => {
    fx = await start([allowLegacyIp]);
    const got = await statusOf(
      fx.client.connect({
        via: fx.via,
        dest: { ip: layout.echo1, port: 8080 },
        expectedIdentity: ECHO_ID,
        forwardedFor: layout.legacy,
      }),
    );
    expect(got).toBe(401);
    expect(fx.connects).toEqual([]);
    const line = parseKvLine(fx.accessLog.lines.at(-1) ?? '');
    expect(line).toMatchObject({ reason: 'denied', src_principal: CLIENT_ID });
    // The TCP peer (this test's client connects from 127.0.0.1), never the claimed address.
    expect(line.src_addr).toBe('127.0.0.1');
  });

  it('a client naming its own pod address is honoured (what its ztunnel sends)', async () => {
    fx = await start();
    const t = (await fx.client.connect({
      via: fx.via,
      dest: { ip: layout.echo1, port: 8080 },
      expectedIdentity: ECHO_ID,
      forwardedFor: layout.client,
    })) as Duplex;
    t.resume();
    const closed = new Promise((r) => t.once('close', r));
    t.end();
    await closed;
    await until(() => fx?.accessLog.lines.length === 1);
    expect(parseKvLine(fx.accessLog.lines[0] ?? '')).toMatchObject({
      src_addr: layout.client,
      src_workload: 'client',
    });
  });
});

/** Polls until `check` holds or 3 s passed (then the test's own assertions tell what is wrong). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}
