// In-pod mode for real (root, @weft/linux-net): two throwaway network namespaces are two pods
// joined by a veth pair (10.x IPv4 and fd00:: IPv6), each with the REDIRECT rules the node agent
// installs (OUTPUT tcp unmarked and not to loopback -> 15001; PREROUTING tcp except 15008 ->
// 15006). One ztunnel in the test's own namespace plays the node: a fake node agent enrolls both
// pods over the real protocol, ztunnel opens its listeners inside them. A client with no mesh
// awareness (a plain `node -e` inside the client pod) dials the server pod's plain IP, and the
// bytes arrive through HBONE, authenticated as the client's identity.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namespace, peerAuthentication, pod, service } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore } from '@weft/proxy-core';
import { compileOrThrow } from '@weft/proxy-core/testing';
import { memorySink } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLinuxNet } from './inpod/net.ts';
import { startTestCaServer, type TestCaServer } from './testing/ca.ts';
import { type FakeNodeAgent, startFakeNodeAgent } from './testing/node-agent.ts';
import { createZtunnel, type Ztunnel } from './ztunnel.ts';

// ---- can this run here?

function hasCommand(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const loaded = await loadLinuxNet();
const skipReason =
  process.getuid?.() !== 0
    ? 'not root'
    : !loaded.ok
      ? loaded.reason
      : !hasCommand('iptables') || !hasCommand('ip6tables')
        ? 'iptables/ip6tables missing'
        : undefined;
if (skipReason !== undefined) {
  process.stderr.write(`@weft/ztunnel netns in-pod test skipped: ${skipReason}\n`);
}

// ---- the throwaway pods

const id = randomBytes(3).toString('hex');
const octet = 100 + ((randomBytes(1)[0] as number) % 100);
const NS = { client: `weft-zt-${id}-c`, server: `weft-zt-${id}-s` };
const VETH = { client: `wz${id}c`, server: `wz${id}s` };
const IP4 = { client: `10.${octet}.0.1`, server: `10.${octet}.0.2` };
const IP6 = { client: `fd00:${octet}::1`, server: `fd00:${octet}::2` };
const netnsPath = (name: string) => `/var/run/netns/${name}`;
const APP_PORT = 8080;
const NODE = 'node-netns';

function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const inNs = (ns: string, cmd: string, args: readonly string[]) =>
  run('ip', ['netns', 'exec', ns, cmd, ...args]);

function createPods(): void {
  for (const ns of Object.values(NS)) run('ip', ['netns', 'add', ns]);
  run('ip', [
    'link',
    'add',
    VETH.client,
    'netns',
    NS.client,
    'type',
    'veth',
    'peer',
    'name',
    VETH.server,
    'netns',
    NS.server,
  ]);
  for (const side of ['client', 'server'] as const) {
    const ns = NS[side];
    inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    inNs(ns, 'ip', ['addr', 'add', `${IP4[side]}/24`, 'dev', VETH[side]]);
    inNs(ns, 'ip', ['-6', 'addr', 'add', `${IP6[side]}/64`, 'dev', VETH[side], 'nodad']);
    inNs(ns, 'ip', ['link', 'set', VETH[side], 'up']);
    // What the node agent installs for an ambient pod (DESIGN.md "Interception"), by hand.
    for (const [tool, loopback] of [
      ['iptables', '127.0.0.0/8'],
      ['ip6tables', '::1/128'],
    ] as const) {
      inNs(ns, tool, [
        '-t',
        'nat',
        '-A',
        'OUTPUT',
        '-p',
        'tcp',
        '-m',
        'mark',
        '!',
        '--mark',
        '0x539',
        '!',
        '-d',
        loopback,
        '-j',
        'REDIRECT',
        '--to-ports',
        '15001',
      ]);
      inNs(ns, tool, [
        '-t',
        'nat',
        '-A',
        'PREROUTING',
        '-p',
        'tcp',
        '!',
        '--dport',
        '15008',
        '-j',
        'REDIRECT',
        '--to-ports',
        '15006',
      ]);
    }
  }
}

function deletePods(): void {
  for (const ns of Object.values(NS)) {
    try {
      run('ip', ['netns', 'delete', ns]);
    } catch {
      // not created, or already gone
    }
  }
}

/** A mesh-unaware client inside the client pod: plain TCP to host:port, prints what comes back. */
function plainClient(
  host: string,
  port: number,
  message: string,
): Promise<{ code: number; out: string; err: string }> {
  const script = `
    const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port}, allowHalfOpen: true });
    let out = '';
    s.on('data', (c) => { out += c; });
    s.on('end', () => s.end());
    s.on('close', () => { process.stdout.write(out); process.exit(0); });
    s.on('error', (e) => { process.stderr.write(String(e.code || e.message)); process.exit(3); });
    s.on('connect', () => s.end(${JSON.stringify(message)}));
    setTimeout(() => { process.stderr.write('timeout'); process.exit(4); }, 8000).unref();
  `;
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', NS.client, process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

// ---- the test

describe.skipIf(skipReason !== undefined)('ztunnel in-pod mode in real network namespaces', () => {
  let dir: string;
  let ca: TestCaServer;
  let agent: FakeNodeAgent;
  let ztunnel: Ztunnel;
  let app: Server | undefined;
  const accessLog = memorySink();
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    deletePods();
    createPods();
    dir = mkdtempSync(join(tmpdir(), 'weft-zt-netns-'));

    // The server pod's app: a TCP echo inside its netns (both families), not meshed in any way.
    if (!loaded.ok) throw new Error(loaded.reason);
    const serverSockets = loaded.net.socketFactory(netnsPath(NS.server), 0);
    const echo = (s: import('node:net').Socket) => {
      s.on('error', () => {});
      s.pipe(s);
    };
    app = await serverSockets.listen({ ip: '0.0.0.0', port: APP_PORT });
    app.on('connection', echo);
    const app6 = await serverSockets.listen({ ip: '::', port: APP_PORT });
    app6.on('connection', echo);
    cleanups.push(() => app6.close());

    const objects = [
      namespace('weft-system'),
      namespace('shop', { labels: { 'weft.dev/dataplane-mode': 'ambient' } }),
      pod('client', {
        namespace: 'shop',
        ip: IP4.client,
        extraIps: [IP6.client],
        node: NODE,
        serviceAccount: 'client',
      }),
      pod('server', {
        namespace: 'shop',
        ip: IP4.server,
        extraIps: [IP6.server],
        node: NODE,
        serviceAccount: 'server',
        labels: { app: 'server' },
        ports: [{ name: 'tcp', containerPort: APP_PORT }],
      }),
      service('server', {
        namespace: 'shop',
        selector: { app: 'server' },
        ports: [{ name: 'tcp', port: APP_PORT }],
      }),
      // Only mTLS reaches the server pod: a plaintext bypass would fail the test.
      peerAuthentication('strict', { namespace: 'shop', mode: 'STRICT' }),
    ];
    const snapshot = compileOrThrow(objects as never);
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(snapshot, 'test'));
    ca = await startTestCaServer({ nodes: [NODE], workloads: () => Object.values(snapshot.workloads) });

    agent = await startFakeNodeAgent(join(dir, 'agent.sock'));
    await agent.add({ namespace: 'shop', name: 'client' }, netnsPath(NS.client));
    await agent.add({ namespace: 'shop', name: 'server' }, netnsPath(NS.server));
    ztunnel = await createZtunnel(
      {
        nodeName: NODE,
        nodeIp: `127.0.${octet}.1`,
        caAddress: ca.address,
        tokenFile: ca.tokenFiles[NODE] as string,
        connectTimeoutMs: 3000,
        ports: { admin: 0, metrics: 0, readiness: 0, socks5: 0 },
        inPod: { nodeAgentSocket: agent.path },
      },
      { store, accessLog },
    );
    await agent.whenSynced();
    await ztunnel.whenReady();
  }, 60_000);

  afterAll(async () => {
    try {
      await ztunnel?.close();
      await agent?.close();
      app?.close();
      for (const c of cleanups) c();
      await ca?.close();
    } finally {
      deletePods();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('both pods were enrolled: every add acked without error', () => {
    expect(agent.acks.map((a) => [a.message.type, a.ack.error])).toEqual([
      ['add', undefined],
      ['add', undefined],
      ['snapshot-done', undefined],
    ]);
  });

  it.each([
    ['IPv4', IP4.server],
    ['IPv6', IP6.server],
  ])('%s: a mesh-unaware client dialling the server pod IP is carried over HBONE', async (_family, host) => {
    const before = accessLog.lines.length;
    const r = await plainClient(host, APP_PORT, `hello over ${host}`);
    expect(r.err).toBe('');
    expect(r.out).toBe(`hello over ${host}`);
    await waitFor(() => accessLog.lines.slice(before).some((l) => l.includes('reporter=destination')));
    const inbound = accessLog.lines.slice(before).find((l) => l.includes('reporter=destination')) as string;
    // The server side saw mTLS from the client's identity (STRICT would refuse anything else).
    expect(inbound).toContain('security=mutual_tls');
    expect(inbound).toContain('src_principal=spiffe://cluster.local/ns/shop/sa/client');
    expect(inbound).toContain('dst_workload=server');
  });

  it('after the agent removes the client pod, its traffic is no longer proxied', async () => {
    await agent.remove({ namespace: 'shop', name: 'client' });
    // The REDIRECT rule is still there but nothing listens on 15001: the connection is refused.
    const r = await plainClient(IP4.server, APP_PORT, 'unenrolled');
    expect(r.err).toBe('ECONNREFUSED');
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
