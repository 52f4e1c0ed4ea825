// Capture mode for real (root, @weft/linux-net, a built dist/main.js): two throwaway network
// namespaces are two sidecar pods joined by a veth pair (10.x and fd00::), each with the sidecar
// REDIRECT rules the node agent writes (OUTPUT tcp from any uid but 1337 and not to loopback ->
// 15001; PREROUTING tcp except the proxy's ports -> 15006; the proxy's own connections to its pod
// IP over lo -> 15006 unless from 127.0.0.6 / ::6). Each pod runs the sidecar binary with --capture inside its netns as
// uid 1337, as the netns driver does. A mesh-unaware client in the client pod dials the server
// pod's plain IP (STRICT there): the bytes arrive through the two sidecars over HBONE.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCaServer, createStaticTokenAuthenticator } from '@weft/ca/server';
import { namespace, peerAuthentication, pod, service } from '@weft/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// ---- can this run here?

interface LinuxNet {
  available(): boolean;
  unavailableReason(): string | undefined;
  createNetnsSocketFactory(
    netns: string,
    o: { mark?: number },
  ): { listen(a: { ip: string; port: number }): Promise<Server> };
}

function hasCommand(cmd: string, args = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const linuxNet = (await import('@weft/linux-net').catch(() => undefined)) as LinuxNet | undefined;
const skipReason =
  process.getuid?.() !== 0
    ? 'not root'
    : linuxNet === undefined
      ? '@weft/linux-net is not installed'
      : !linuxNet.available()
        ? `@weft/linux-net: ${linuxNet.unavailableReason() ?? 'unavailable'}`
        : !hasCommand('iptables') || !hasCommand('ip6tables') || !hasCommand('setpriv')
          ? 'iptables, ip6tables or setpriv missing'
          : !existsSync(MAIN)
            ? 'dist/main.js not built'
            : !hasCommand('node')
              ? 'node missing'
              : undefined;
if (skipReason !== undefined) {
  process.stderr.write(`@weft/sidecar netns capture test skipped: ${skipReason}\n`);
}

// ---- the throwaway pods

const id = randomBytes(3).toString('hex');
const octet = 100 + ((randomBytes(1)[0] as number) % 100);
const NS = { client: `weft-sc-${id}-c`, server: `weft-sc-${id}-s` };
const VETH = { client: `ws${id}c`, server: `ws${id}s` };
const IP4 = { client: `10.${octet}.0.1`, server: `10.${octet}.0.2` };
const IP6 = { client: `fd00:${octet}::1`, server: `fd00:${octet}::2` };
const netnsPath = (name: string) => `/var/run/netns/${name}`;
const APP_PORT = 8080;
/** Where each pod reaches the CA: a relay on the pod's loopback to the test's CA. */
const CA_RELAY_PORT = 15099;
const PROXY_UID = '1337';

function run(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...(input !== undefined ? { input } : {}),
  });
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
    // The sidecar rules as the node agent writes them (Istio's shape, uid 1337 excluded; the
    // proxy's own connections to its pod IP over lo go to 15006 unless they come from the
    // inbound passthrough source), by hand.
    for (const family of [4, 6] as const) {
      run(
        'ip',
        ['netns', 'exec', ns, family === 4 ? 'iptables-restore' : 'ip6tables-restore'],
        sidecarRules(family),
      );
    }
  }
}

function sidecarRules(family: 4 | 6): string {
  const loopback = family === 4 ? '127.0.0.1/32' : '::1/128';
  const passthrough = family === 4 ? '127.0.0.6/32' : '::6/128';
  const own = `-m owner --uid-owner ${PROXY_UID}`;
  return [
    '*nat',
    ':WEFT_INBOUND - [0:0]',
    ':WEFT_OUTBOUND - [0:0]',
    ':WEFT_IN_REDIRECT - [0:0]',
    ':WEFT_REDIRECT - [0:0]',
    ...[15000, 15008, 15020, 15021].map((p) => `-A WEFT_INBOUND -p tcp -m tcp --dport ${p} -j RETURN`),
    '-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT',
    `-A WEFT_OUTBOUND -s ${passthrough} -o lo -j RETURN`,
    `-A WEFT_OUTBOUND ! -d ${loopback} -o lo -p tcp -m tcp ! --dport 15008 ${own} -j WEFT_IN_REDIRECT`,
    `-A WEFT_OUTBOUND -o lo -m owner ! --uid-owner ${PROXY_UID} -j RETURN`,
    `-A WEFT_OUTBOUND ${own} -j RETURN`,
    `-A WEFT_OUTBOUND -d ${loopback} -j RETURN`,
    '-A WEFT_OUTBOUND -p tcp -j WEFT_REDIRECT',
    '-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
    '-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
    '-A PREROUTING -p tcp -j WEFT_INBOUND',
    '-A OUTPUT -p tcp -j WEFT_OUTBOUND',
    'COMMIT',
    '',
  ].join('\n');
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
function plainClient(host: string, port: number, message: string): Promise<{ out: string; err: string }> {
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
    const child = spawn('ip', ['netns', 'exec', NS.client, 'node', '-e', script], {
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
    child.on('close', () => resolve({ out, err }));
  });
}

const manifests = [
  namespace('weft-system'),
  namespace('shop'),
  pod('client', {
    namespace: 'shop',
    ip: IP4.client,
    extraIps: [IP6.client],
    node: 'node-1',
    serviceAccount: 'client',
    mode: 'sidecar',
  }),
  pod('server', {
    namespace: 'shop',
    ip: IP4.server,
    extraIps: [IP6.server],
    node: 'node-1',
    serviceAccount: 'server',
    mode: 'sidecar',
    labels: { app: 'server' },
    ports: [{ name: 'tcp', containerPort: APP_PORT }],
  }),
  service('server', {
    namespace: 'shop',
    selector: { app: 'server' },
    ports: [{ name: 'tcp', port: APP_PORT, appProtocol: 'tcp' }],
  }),
  // Only mTLS reaches the server pod: a plaintext bypass would fail the test.
  peerAuthentication('strict', { namespace: 'shop', mode: 'STRICT' }),
];

describe.skipIf(skipReason !== undefined)('sidecar capture mode in real network namespaces', () => {
  let dir: string;
  let ca: Awaited<ReturnType<typeof createCaServer>> | undefined;
  const servers: Server[] = [];
  const children: ChildProcess[] = [];
  const logs = { client: '', server: '' };

  beforeAll(async () => {
    if (linuxNet === undefined) throw new Error('unreachable');
    deletePods();
    createPods();
    dir = mkdtempSync(join(tmpdir(), 'weft-sc-netns-'));
    chmodSync(dir, 0o755);
    const tokens = { client: `client-token-${id}-0123456789`, server: `server-token-${id}-0123456789` };
    ca = await createCaServer({
      authenticators: [
        await createStaticTokenAuthenticator({
          text: `${tokens.client} shop client\n${tokens.server} shop server\n`,
        }),
      ],
    });
    const caAddress = ca.address;
    writeFileSync(join(dir, 'mesh.yaml'), manifests.map((m) => JSON.stringify(m)).join('\n---\n'), {
      mode: 0o644,
    });

    // The server pod's app: a TCP echo inside its netns on both families, meshed in no way.
    const echo = (s: Socket) => {
      s.on('error', () => {});
      s.pipe(s);
    };
    const serverSockets = linuxNet.createNetnsSocketFactory(netnsPath(NS.server), {});
    for (const ip of ['0.0.0.0', '::']) {
      const app = await serverSockets.listen({ ip, port: APP_PORT });
      app.on('connection', echo);
      servers.push(app);
    }

    for (const side of ['client', 'server'] as const) {
      // The CA, seen from inside the pod: a relay on the pod's loopback.
      const relay = await linuxNet
        .createNetnsSocketFactory(netnsPath(NS[side]), {})
        .listen({ ip: '127.0.0.1', port: CA_RELAY_PORT });
      relay.on('connection', (down: Socket) => {
        const [host, port] = [
          caAddress.slice(0, caAddress.lastIndexOf(':')),
          caAddress.slice(caAddress.lastIndexOf(':') + 1),
        ];
        const up = connect({ host, port: Number(port) });
        down.on('error', () => up.destroy());
        up.on('error', () => down.destroy());
        down.pipe(up).pipe(down);
      });
      servers.push(relay);
      const tokenFile = join(dir, `${side}.token`);
      writeFileSync(tokenFile, `${tokens[side]}\n`, { mode: 0o644 });
      // What the netns driver runs: the binary inside the pod netns as uid 1337, capture mode.
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          NS[side],
          'setpriv',
          `--reuid=${PROXY_UID}`,
          `--regid=${PROXY_UID}`,
          '--clear-groups',
          'node',
          MAIN,
          '--capture',
          '--pod',
          `shop/${side}`,
          '--pod-ip',
          IP4[side],
          '--service-account',
          side,
          '--ca-address',
          `127.0.0.1:${CA_RELAY_PORT}`,
          '--token-file',
          tokenFile,
          '--config-file',
          join(dir, 'mesh.yaml'),
          '--log-level',
          'info',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (c) => {
        logs[side] += c;
      });
      children.push(child);
    }
    // Ready once each sidecar logged its start and its certificate arrived (the first calls may
    // race the certificate; the tests retry).
    const deadline = Date.now() + 20_000;
    while (!(logs.client.includes('sidecar started') && logs.server.includes('sidecar started'))) {
      if (Date.now() > deadline) throw new Error(`sidecars did not start:\n${logs.client}\n${logs.server}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    try {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(
        children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
      );
      for (const s of servers) s.close();
      await ca?.close();
    } finally {
      deletePods();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['IPv4', IP4.server],
    ['IPv6', IP6.server],
  ])('%s: a mesh-unaware client dialling the server pod IP is carried by both sidecars', async (_f, host) => {
    let r = { out: '', err: '' };
    for (let attempt = 0; attempt < 20; attempt++) {
      r = await plainClient(host, APP_PORT, `hello over ${host}`);
      if (r.out !== '') break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(r, `${logs.client}\n${logs.server}`).toEqual({ out: `hello over ${host}`, err: '' });
  });

  it('each sidecar runs as uid 1337 (ip netns exec and setpriv exec it in place)', () => {
    for (const c of children) {
      expect(run('ps', ['-o', 'uid=', '-p', String(c.pid)]).trim()).toBe(PROXY_UID);
    }
  });
});
