// In-pod mode without root: both ztunnels take their pods from a fake node agent (the real
// protocol over a unix socket) and open their listeners through a fake in-pod network where each
// pod netns is the pod's loopback address and SO_ORIGINAL_DST is a function of the test. An app
// that dials its pod's 15001 (what the REDIRECT rule would do) is carried over HBONE to the echo
// pod; acks, removal, snapshots and the admin dump follow the agent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMeshHarness, startLocalMesh } from './testing/harness.ts';
import { localMeshLayout } from './testing/index.ts';
import { createFakeInPodNet, type FakeInPodNet } from './testing/inpod-net.ts';
import { httpGet, roundTrip, tcpConnect } from './testing/net.ts';
import { type FakeNodeAgent, startFakeNodeAgent } from './testing/node-agent.ts';
import { createZtunnel } from './ztunnel.ts';

const layout = localMeshLayout(15, 16);
const NETNS = {
  echo1: '/var/run/netns/fake-echo-1',
  client: '/var/run/netns/fake-client',
  missing: '/var/run/netns/fake-gone',
};
const ECHO1 = { namespace: 'demo', name: 'echo-1' };
const CLIENT = { namespace: 'demo', name: 'client' };

let dir: string;
let mesh: LocalMeshHarness;
let agents: { a: FakeNodeAgent; b: FakeNodeAgent };
let net: FakeInPodNet;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-zt-inpod-'));
  agents = {
    a: await startFakeNodeAgent(join(dir, 'a.sock')),
    b: await startFakeNodeAgent(join(dir, 'b.sock')),
  };
  await agents.a.add(ECHO1, NETNS.echo1);
  await agents.b.add(CLIENT, NETNS.client);
  net = createFakeInPodNet({
    pods: { [NETNS.echo1]: layout.echo1, [NETNS.client]: layout.client },
    // The app on the client pod dialled the echo VIP; a plaintext caller of echo-1 dialled 8080.
    originalDestination: (s) =>
      s.localPort === 15001 ? { ip: layout.echoVip, port: 80 } : { ip: layout.echo1, port: 8080 },
  });
  const inPod = (path: string) => ({
    inPod: { nodeAgentSocket: path, workloadWaitMs: 4000, backoff: { initialMs: 20, maxMs: 100 } },
  });
  mesh = await startLocalMesh({
    octets: [15, 16],
    deps: { inPodNet: net },
    nodes: { a: { config: inPod(agents.a.path) }, b: { config: inPod(agents.b.path) } },
  });
  await Promise.all([agents.a.whenSynced(), agents.b.whenSynced()]);
}, 60_000);

afterAll(async () => {
  await mesh?.close();
  await agents?.a.close();
  await agents?.b.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface InPodDump {
  connected: boolean;
  snapshotDone: boolean;
  mark: number;
  pods: { pod: string; netns: string; state: string; error?: string; listeners?: Record<string, unknown> }[];
}

async function inPodDump(ip: string): Promise<InPodDump> {
  const dump = JSON.parse((await httpGet(`http://${ip}:15000/config_dump`)).body) as { inPod: InPodDump };
  return dump.inPod;
}

describe('ztunnel in-pod mode (fake netns)', () => {
  it('acks the snapshot only once the listeners are open, and shows pods in the dump', async () => {
    expect(agents.a.acks.map((a) => [a.message.type, a.ack.error])).toEqual([
      ['add', undefined],
      ['snapshot-done', undefined],
    ]);
    // Listeners were opened inside the pod's netns, on the pod IP and the wildcard, with the mark.
    expect(net.calls).toContainEqual({
      op: 'listen',
      netns: NETNS.echo1,
      mark: 1337,
      addr: { ip: layout.echo1, port: 15008 },
    });
    for (const port of [15006, 15001]) {
      expect(net.calls).toContainEqual({
        op: 'listen',
        netns: NETNS.echo1,
        mark: 1337,
        addr: { ip: '0.0.0.0', port },
      });
    }
    const dump = await inPodDump(layout.nodeA.ip);
    expect(dump).toMatchObject({ connected: true, snapshotDone: true, mark: 1337 });
    expect(dump.pods).toEqual([
      expect.objectContaining({ pod: 'demo/echo-1', netns: NETNS.echo1, state: 'open' }),
    ]);
    expect(dump.pods[0]?.listeners).toMatchObject({
      netns: NETNS.echo1,
      hbone: [{ ip: layout.echo1, port: 15008 }],
      inboundPlaintext: [{ ip: '0.0.0.0', port: 15006 }],
      outboundCapture: [{ ip: '0.0.0.0', port: 15001 }],
    });
    const ready = await httpGet(`http://${layout.nodeB.ip}:15021/healthz/ready`);
    expect(ready.status).toBe(200);
  });

  it('a redirected app connection (15001 in the client pod) goes over HBONE from the pod netns', async () => {
    const before = net.calls.length;
    // A plain socket from the app to its pod's 15001: what REDIRECT makes of a dial to the VIP.
    const c = await tcpConnect(layout.client, 15001, layout.client);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(await roundTrip(c.socket, 'no mesh awareness')).toBe('no mesh awareness');
    c.socket.destroy();
    const calls = net.calls.slice(before);
    // HBONE to echo-1 from the client pod's netns, then echo-1's ztunnel to the app from its own.
    expect(calls).toContainEqual({
      op: 'connect',
      netns: NETNS.client,
      mark: 1337,
      addr: { ip: layout.echo1, port: 15008 },
    });
    expect(calls).toContainEqual({
      op: 'connect',
      netns: NETNS.echo1,
      mark: 1337,
      addr: { ip: layout.echo1, port: 8080 },
    });
    await waitFor(() =>
      mesh.a.accessLog.lines.some(
        (l) => l.includes('reporter=destination') && l.includes('src_workload=client'),
      ),
    );
  });

  it('a plaintext caller redirected to 15006 reaches the port SO_ORIGINAL_DST names', async () => {
    const c = await tcpConnect(layout.echo1, 15006, layout.legacy);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(await roundTrip(c.socket, 'plain')).toBe('plain');
    c.socket.destroy();
  });

  it('an add for a pod the mesh config does not know, or whose netns fails, gets an error ack', async () => {
    const unknown = await agents.b.add({ namespace: 'demo', name: 'nobody' }, NETNS.client);
    expect(unknown?.error).toContain('pod demo/nobody: no ambient workload on node node-b');
    const gone = await agents.a.add({ namespace: 'demo', name: 'echo-1' }, NETNS.missing);
    expect(gone?.error).toContain(NETNS.missing);
    expect((await inPodDump(layout.nodeA.ip)).pods).toEqual([
      expect.objectContaining({ pod: 'demo/echo-1', netns: NETNS.missing, state: 'error' }),
    ]);
    // Back to the right netns: listeners open again.
    const back = await agents.a.add(ECHO1, NETNS.echo1);
    expect(back).toEqual({ type: 'ack', id: back?.id });
    await agents.b.remove({ namespace: 'demo', name: 'nobody' });
  });

  it('remove closes the pod listeners; a reconnect snapshot drops pods it does not replay', async () => {
    const removed = await agents.b.remove(CLIENT);
    expect(removed?.error).toBeUndefined();
    expect((await tcpConnect(layout.client, 15001, layout.client)).ok).toBe(false);
    expect((await inPodDump(layout.nodeB.ip)).pods).toEqual([]);

    // The agent restarts having lost echo-1: after snapshot-done, ztunnel closes its listeners.
    agents.a.forget(ECHO1);
    agents.a.disconnect();
    await agents.a.whenSynced();
    await waitFor(() => Object.keys(mesh.a.ztunnel.addresses.workloads).length === 0);
    expect((await tcpConnect(layout.echo1, 15008)).ok).toBe(false);
    expect((await inPodDump(layout.nodeA.ip)).pods).toEqual([]);

    // And a later add enrolls it again without a ztunnel restart.
    await agents.a.add(ECHO1, NETNS.echo1);
    await agents.b.add(CLIENT, NETNS.client);
    // On a loaded machine echo-1's certificate may still be on its way when the first call goes
    // out (the add's ack waited for it, boundedly), or a pooled tunnel to its old listener may be
    // closing: early calls may fail, as they would for an app; within a few seconds one passes.
    let echoed = '';
    for (let attempt = 0; attempt < 25 && echoed !== 'enrolled again'; attempt++) {
      const c = await tcpConnect(layout.client, 15001, layout.client);
      expect(c.ok).toBe(true);
      if (!c.ok) break;
      echoed = await roundTrip(c.socket, 'enrolled again').catch(() => '');
      c.socket.destroy();
      if (echoed !== 'enrolled again') await new Promise((r) => setTimeout(r, 200));
    }
    expect(echoed).toBe('enrolled again');
  });
});

describe('in-pod mode start-up', () => {
  it('without an in-pod network it refuses to start, naming why', async () => {
    const unavailable = await import('./inpod/net.ts').then((m) => m.loadLinuxNet());
    if (unavailable.ok) {
      // The addon works here: in-pod mode would start; the failure path is covered by the value.
      expect(typeof unavailable.net.socketFactory).toBe('function');
      return;
    }
    await expect(
      createZtunnel({
        nodeName: 'n',
        nodeIp: '127.0.17.1',
        inPod: { nodeAgentSocket: join(dir, 'none.sock') },
      }),
    ).rejects.toThrow(/in-pod mode cannot start: @weft\/linux-net/);
  });

  it('refuses a bad mark and accepts a non-loopback node IP only when allowed', async () => {
    await expect(
      createZtunnel(
        { nodeName: 'n', nodeIp: '127.0.17.1', inPod: { nodeAgentSocket: 'x', mark: 0 } },
        { inPodNet: net },
      ),
    ).rejects.toThrow(/inPod.mark/);
    await expect(createZtunnel({ nodeName: 'n', nodeIp: '192.0.2.1' })).rejects.toThrow(/loopback/);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
