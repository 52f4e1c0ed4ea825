// Ambient <-> proxyless for real (root, @weft/linux-net): two throwaway network namespaces joined
// by a veth pair. The ambient pod has the node agent's REDIRECT rules and is enrolled in one
// in-pod ztunnel (the test's own process); the proxyless pod has no rules and no proxy, only
// grpc-js with mesh certificates, as `@weft/proxyless-sdk` sets it up. STRICT everywhere.
//
// - proxyless -> ambient: a grpc-js mTLS client in the proxyless pod dials the ambient pod's IP;
//   the pod's PREROUTING rule sends it to 15006, where ztunnel terminates it as the ambient pod
//   and the h2c gRPC app behind it answers.
// - ambient -> proxyless: a plain h2c grpc-js client in the ambient pod dials the proxyless pod's
//   IP; OUTPUT sends it to 15001, and ztunnel originates mesh mTLS from the pod's netns.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCaClient, createCertManager } from '@weft/ca/client';
import { namespace, peerAuthentication, pod } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore } from '@weft/proxy-core';
import { compileOrThrow } from '@weft/proxy-core/testing';
import { memorySink } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLinuxNet } from './inpod/net.ts';
import { startTestCaServer, type TestCaServer } from './testing/ca.ts';
import { type FakeNodeAgent, startFakeNodeAgent } from './testing/node-agent.ts';
import { createZtunnel, type Ztunnel } from './ztunnel.ts';

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
      : !hasCommand('iptables')
        ? 'iptables missing'
        : undefined;
if (skipReason !== undefined) {
  process.stderr.write(`@weft/ztunnel netns proxyless test skipped: ${skipReason}\n`);
}

const id = randomBytes(3).toString('hex');
const octet = 100 + ((randomBytes(1)[0] as number) % 100);
const NS = { ambient: `weft-zp-${id}-a`, proxyless: `weft-zp-${id}-p` };
const VETH = { ambient: `zp${id}a`, proxyless: `zp${id}p` };
const IP = { ambient: `10.${octet}.1.1`, proxyless: `10.${octet}.1.2` };
const netnsPath = (name: string) => `/var/run/netns/${name}`;
const APP_PORT = 7070;
const PROXYLESS_PORT = 50051;
const NODE = 'node-netns-proxyless';
const ID = {
  api: 'spiffe://cluster.local/ns/shop/sa/api',
  grpc: 'spiffe://cluster.local/ns/shop/sa/grpc',
};

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
    VETH.ambient,
    'netns',
    NS.ambient,
    'type',
    'veth',
    'peer',
    'name',
    VETH.proxyless,
    'netns',
    NS.proxyless,
  ]);
  for (const side of ['ambient', 'proxyless'] as const) {
    inNs(NS[side], 'ip', ['link', 'set', 'lo', 'up']);
    inNs(NS[side], 'ip', ['addr', 'add', `${IP[side]}/24`, 'dev', VETH[side]]);
    inNs(NS[side], 'ip', ['link', 'set', VETH[side], 'up']);
  }
  // The node agent's rules for an ambient pod (DESIGN.md "Interception"); the proxyless pod has none.
  const nat = (args: readonly string[]) => inNs(NS.ambient, 'iptables', ['-t', 'nat', '-A', ...args]);
  nat([
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
    '127.0.0.0/8',
    '-j',
    'REDIRECT',
    '--to-ports',
    '15001',
  ]);
  nat(['PREROUTING', '-p', 'tcp', '!', '--dport', '15008', '-j', 'REDIRECT', '--to-ports', '15006']);
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

// One grpc-js program for every role, run inside a pod's netns: a unary echo server or one call,
// h2c or mesh mTLS (certificate files given), the server's SPIFFE ID checked by the client.
const PROGRAM = `
const grpc = require(require('node:module').createRequire(process.env.WEFT_REQUIRE_FROM).resolve('@grpc/grpc-js'));
const fs = require('node:fs');
const o = JSON.parse(process.env.WEFT_GRPC);
const id = (b) => b;
const path = '/weft.test.Echo/Say';
const file = (f) => fs.readFileSync(f);
if (o.role === 'server') {
  const server = new grpc.Server();
  server.addService({ Say: { path, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } }, {
    Say: (call, cb) => {
      const san = call.getAuthContext && call.getAuthContext().sslPeerCertificate ? call.getAuthContext().sslPeerCertificate.subjectaltname : 'plaintext';
      cb(null, Buffer.from(o.name + ' saw ' + san + ': ' + call.request.toString()));
    },
  });
  const creds = o.tls ? grpc.ServerCredentials.createSsl(file(o.tls.ca), [{ private_key: file(o.tls.key), cert_chain: file(o.tls.cert) }], true) : grpc.ServerCredentials.createInsecure();
  server.bindAsync('0.0.0.0:' + o.port, creds, (err) => { if (err) { process.stderr.write(String(err)); process.exit(2); } process.stdout.write('listening\\n'); });
} else {
  const creds = o.tls ? grpc.credentials.createSsl(file(o.tls.ca), file(o.tls.key), file(o.tls.cert), {
    checkServerIdentity: (_h, cert) => (cert.subjectaltname || '').split(', ').includes('URI:' + o.expect) ? undefined : new Error('server is ' + cert.subjectaltname),
  }) : grpc.credentials.createInsecure();
  const client = new grpc.Client(o.target, creds, o.tls ? { 'grpc.ssl_target_name_override': 'weft.test' } : {});
  client.makeUnaryRequest(path, id, id, Buffer.from(o.message), new grpc.Metadata(), { deadline: Date.now() + 6000 }, (err, v) => {
    if (err) { process.stderr.write(err.code + ' ' + err.details); process.exit(3); }
    process.stdout.write(v.toString()); process.exit(0);
  });
}
`;

interface Tls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
}

describe.skipIf(skipReason !== undefined)('ztunnel in-pod mode <-> proxyless gRPC in real netns', () => {
  let dir: string;
  let program: string;
  let ca: TestCaServer;
  let agent: FakeNodeAgent;
  let ztunnel: Ztunnel;
  const accessLog = memorySink();
  const children: ReturnType<typeof spawn>[] = [];
  const requireFrom = fileURLToPath(new URL('../package.json', import.meta.url));

  const env = (o: unknown) => ({
    ...process.env,
    WEFT_GRPC: JSON.stringify(o),
    WEFT_REQUIRE_FROM: requireFrom,
  });

  /** Starts a grpc-js server in `ns`; resolves once it listens. */
  const serve = (ns: string, o: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, program], {
        env: env({ role: 'server', ...o }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let err = '';
      child.stderr?.on('data', (c) => {
        err += c;
      });
      child.stdout?.on('data', (c: Buffer) => {
        if (c.toString().includes('listening')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`server in ${ns} exited ${code}: ${err}`)));
    });

  /** One call from a grpc-js client in `ns`. */
  const call = (ns: string, o: Record<string, unknown>) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, program], {
        env: env({ role: 'client', ...o }),
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

  /** A certificate of the mesh CA for a workload on this node, written to files. */
  const issue = async (identity: string, name: string): Promise<Tls> => {
    const client = createCaClient({
      address: ca.address,
      token: () => readFileSync(ca.tokenFiles[NODE] as string, 'utf8').trim(),
    });
    const manager = createCertManager({ source: client, impersonatedIdentity: identity });
    try {
      manager.start();
      const c = await manager.ready();
      const files = {
        key: join(dir, `${name}.key`),
        cert: join(dir, `${name}.crt`),
        ca: join(dir, `${name}.ca`),
      };
      writeFileSync(files.key, c.keyPem);
      writeFileSync(files.cert, c.certChainPem.join('\n'));
      writeFileSync(files.ca, c.trustBundlePem);
      return files;
    } finally {
      manager.close();
      client.close();
    }
  };

  beforeAll(async () => {
    deletePods();
    createPods();
    dir = mkdtempSync(join(tmpdir(), 'weft-zp-netns-'));
    program = join(dir, 'grpc.cjs');
    writeFileSync(program, PROGRAM);

    const objects = [
      namespace('weft-system'),
      namespace('shop', { labels: { 'weft.dev/dataplane-mode': 'ambient' } }),
      pod('api', {
        namespace: 'shop',
        ip: IP.ambient,
        node: NODE,
        serviceAccount: 'api',
        labels: { app: 'api' },
        ports: [{ name: 'grpc', containerPort: APP_PORT }],
      }),
      pod('grpc', {
        namespace: 'shop',
        ip: IP.proxyless,
        node: NODE,
        serviceAccount: 'grpc',
        mode: 'proxyless',
        ports: [{ name: 'grpc', containerPort: PROXYLESS_PORT }],
      }),
      peerAuthentication('strict', { namespace: 'shop', mode: 'STRICT' }),
    ];
    const snapshot = compileOrThrow(objects as never);
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(snapshot, 'test'));
    ca = await startTestCaServer({ nodes: [NODE], workloads: () => Object.values(snapshot.workloads) });

    agent = await startFakeNodeAgent(join(dir, 'agent.sock'));
    await agent.add({ namespace: 'shop', name: 'api' }, netnsPath(NS.ambient));
    ztunnel = await createZtunnel(
      {
        nodeName: NODE,
        nodeIp: `127.0.${octet}.2`,
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

    // The ambient pod's app: plain h2c gRPC. The proxyless pod's server: mesh mTLS on its port.
    await serve(NS.ambient, { name: 'api', port: APP_PORT });
    await serve(NS.proxyless, { name: 'grpc', port: PROXYLESS_PORT, tls: await issue(ID.grpc, 'grpc') });
  }, 60_000);

  afterAll(async () => {
    try {
      for (const c of children) c.kill();
      await ztunnel?.close();
      await agent?.close();
      await ca?.close();
    } finally {
      deletePods();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('proxyless -> ambient: mesh mTLS to the pod IP is terminated by the in-pod 15006', async () => {
    const before = accessLog.lines.length;
    const r = await call(NS.proxyless, {
      target: `${IP.ambient}:${APP_PORT}`,
      tls: await issue(ID.grpc, 'grpc-client'),
      expect: ID.api,
      message: 'from proxyless',
    });
    expect(r.err).toBe('');
    expect(r.out).toBe('api saw plaintext: from proxyless');
    await waitFor(() => accessLog.lines.slice(before).some((l) => l.includes('reporter=destination')));
    const line = accessLog.lines.slice(before).find((l) => l.includes('reporter=destination')) as string;
    expect(line).toContain('security=mutual_tls');
    expect(line).toContain(`src_principal=${ID.grpc}`);
    expect(line).toContain('src_workload=grpc');
    expect(line).toContain('dst_workload=api');
  });

  it('proxyless -> ambient: plaintext from the proxyless pod is refused under STRICT', async () => {
    const before = ztunnel.telemetry.rejects.count('strict_mtls');
    const r = await call(NS.proxyless, { target: `${IP.ambient}:${APP_PORT}`, message: 'plain' });
    expect(r.code).not.toBe(0);
    expect(ztunnel.telemetry.rejects.count('strict_mtls')).toBeGreaterThan(before);
  });

  it('ambient -> proxyless: the app speaks h2c, ztunnel originates mesh mTLS from the pod netns', async () => {
    const before = accessLog.lines.length;
    const r = await call(NS.ambient, {
      target: `${IP.proxyless}:${PROXYLESS_PORT}`,
      message: 'from ambient',
    });
    expect(r.err).toBe('');
    expect(r.out).toBe(`grpc saw URI:${ID.api}: from ambient`);
    await waitFor(() => accessLog.lines.slice(before).some((l) => l.includes('reporter=source')));
    const line = accessLog.lines.slice(before).find((l) => l.includes('reporter=source')) as string;
    expect(line).toContain('security=mutual_tls');
    expect(line).toContain(`dst_principal=${ID.grpc}`);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
