// The waypoint bypasses of issue "Security hardening", reproduced on sockets against a two-node
// local mesh: demo/echo-1 (node-a) port 8080 is guarded by waypoint demo/wp through the bound
// service echo-l7, with a workload-level PERMISSIVE PeerAuthentication; demo/client (node-b) tries
// to reach it around the waypoint. Nodes on 127.0.13.x (node-a) and 127.0.14.x (node-b).
import {
  type CertMaterial,
  createCertStore,
  createHboneClient,
  type HboneClient,
  isHboneError,
} from '@weft/hbone';
import { peerAuthentication, service, waypointDeployment, waypointGateway } from '@weft/policy/testing';
import { DEFAULT_PORTS } from '@weft/proxy-core';
import { parseKvLine } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMeshHarness, startLocalMesh } from './testing/harness.ts';
import { readUntilClose, tcpConnect } from './testing/net.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const WAYPOINT_IP = '127.0.13.50';

let mesh: LocalMeshHarness;
let clientCert: CertMaterial;
let client: HboneClient;

beforeAll(async () => {
  mesh = await startLocalMesh({
    octets: [13, 14],
    extra: [
      waypointGateway('wp', { namespace: 'demo' }),
      ...waypointDeployment('wp', { namespace: 'demo', ip: WAYPOINT_IP }),
      service('echo-l7', {
        namespace: 'demo',
        clusterIP: '10.96.13.50',
        labels: { 'weft.dev/use-waypoint': 'wp' },
        selector: { app: 'echo' },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      }),
      peerAuthentication('echo-permissive', {
        namespace: 'demo',
        selector: { app: 'echo' },
        mode: 'PERMISSIVE',
      }),
    ],
  });
  clientCert = await mesh.issue('b', CLIENT_ID);
  client = createHboneClient({ certs: createCertStore(clientCert) });
}, 60_000);

afterAll(async () => {
  await client?.close({ graceMs: 0 });
  await mesh?.close();
});

const echoListeners = () => {
  const w = mesh.a.ztunnel.addresses.workloads['uid-demo-echo-1'];
  if (w === undefined) throw new Error('echo-1 listeners missing');
  return w;
};

async function connectStatus(dest: { ip: string; port: number }, forwardedFor?: string) {
  try {
    const t = await client.connect({
      via: echoListeners().hbone,
      dest,
      expectedIdentity: ECHO_ID,
      ...(forwardedFor !== undefined ? { forwardedFor } : {}),
    });
    t.destroy();
    return 200;
  } catch (e) {
    return isHboneError(e) ? (e.status ?? e.kind) : String(e);
  }
}

const lastLine = () => parseKvLine(mesh.a.accessLog.lines.at(-1) ?? '');

describe('the waypoint cannot be bypassed through the ztunnel', () => {
  it('HBONE to the guarded port itself: 401 (the baseline the bypasses went around)', async () => {
    expect(await connectStatus({ ip: mesh.layout.echo1, port: 8080 })).toBe(401);
    expect(lastLine()).toMatchObject({ reason: 'waypoint_bypass', src_principal: CLIENT_ID });
  });

  it.each([
    ['inbound plaintext', DEFAULT_PORTS.inboundPlaintext],
    ['HBONE', DEFAULT_PORTS.hbone],
  ])("CONNECT to the guarded pod's %s port (%i): 400, nothing reaches the app", async (_name, port) => {
    const before = {
      echo: mesh.echo.connections,
      proxyPort: mesh.a.ztunnel.telemetry.rejects.count('proxy_port'),
      lines: mesh.a.accessLog.lines.length,
    };
    expect(await connectStatus({ ip: mesh.layout.echo1, port })).toBe(400);
    expect(mesh.echo.connections).toBe(before.echo);
    expect(mesh.a.ztunnel.telemetry.rejects.count('proxy_port')).toBe(before.proxyPort + 1);
    // One line, the refusal: no second connection from the ztunnel into its own listener.
    expect(mesh.a.accessLog.lines.length).toBe(before.lines + 1);
    expect(lastLine()).toMatchObject({ reason: 'proxy_port', src_principal: CLIENT_ID });
  });

  it('plaintext to the guarded pod (15006) under PERMISSIVE is refused, logged with the caller', async () => {
    const before = mesh.echo.connections;
    const c = await tcpConnect(
      echoListeners().plaintext.ip,
      echoListeners().plaintext.port,
      mesh.layout.client,
    );
    if (!c.ok) throw new Error(c.error);
    c.socket.write('hello app');
    const got = await readUntilClose(c.socket, 5000);
    expect(got).toEqual({ data: '', closed: true });
    expect(mesh.echo.connections).toBe(before);
    expect(mesh.a.ztunnel.telemetry.rejects.count('waypoint_bypass')).toBeGreaterThanOrEqual(1);
    const line = lastLine();
    expect(line).toMatchObject({ reason: 'waypoint_bypass', security: 'none', src_workload: 'client' });
    expect(line.src_addr?.startsWith(`${mesh.layout.client}:`)).toBe(true);
  });

  it("a forged Forwarded naming the waypoint's address buys nothing, and the log shows the real peer", async () => {
    expect(await connectStatus({ ip: mesh.layout.echo1, port: 8080 }, WAYPOINT_IP)).toBe(401);
    const line = lastLine();
    expect(line).toMatchObject({ reason: 'waypoint_bypass', src_principal: CLIENT_ID });
    // This test's client dials from 127.0.0.1: that is the source, not the claimed waypoint.
    expect(line.src_addr).toBe('127.0.0.1');
  });
});
