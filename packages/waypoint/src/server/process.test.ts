// The waypoint binary as a process: certificates from a real CA server (static token), config
// from a manifest file, the endpoint behind its own HBONE server. Workloads reach it the only way
// they can, HBONE CONNECT to its 15008; one of them floods its HTTP/2 listener with streams opened
// and cancelled at once. Hostile callers of the proxyless listener (garbage, plaintext, TLS without
// a client certificate) are refused there. The process must stay up, the flood and the refusals
// be counted, everyone else served.
// Node runs the built dist/main.js (`pnpm build` first, as `make test` does); Bun runs src/main.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as h1request } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { type CaServer, createCaServer, createStaticTokenAuthenticator } from '@weft/ca/server';
import { createTestCa } from '@weft/ca/testing';
import {
  createCertStore,
  createHboneClient,
  createHboneServer,
  type HboneClient,
  type HboneServer,
} from '@weft/hbone';
import { allowAll } from '@weft/hbone/testing';
import {
  H2_ERROR,
  type HttpUpstream,
  openAndCancelBurst,
  readFrames,
  SHOP,
  serviceWith,
  startHttpUpstream,
  WEB_VIP,
} from '@weft/l7/testing';
import { waypointGateway } from '@weft/policy/testing';
import { parseKvLine, parsePrometheusText } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
const PKG = fileURLToPath(new URL('../../', import.meta.url));
const WAYPOINT_ID = 'spiffe://cluster.local/ns/shop/sa/waypoint';
const CLIENT_ID = 'spiffe://cluster.local/ns/legacy/sa/client';
const WEB_ID = 'spiffe://cluster.local/ns/shop/sa/web';
const ENDPOINT_IP = '127.0.0.47';

function waypointCommand(): { cmd: string; args: string[] } {
  if (isBun)
    return { cmd: process.execPath, args: ['--conditions=weft-source', join(PKG, 'src', 'main.ts')] };
  const file = join(PKG, 'dist', 'main.js');
  if (!existsSync(file))
    throw new Error(`${file} is missing: run \`pnpm --filter @weft/waypoint build\` first`);
  return { cmd: process.execPath, args: [file] };
}

interface Started {
  readonly child: ChildProcess;
  readonly hbonePort: number;
  readonly proxylessPort: number;
  readonly metricsPort: number;
  readonly readinessPort: number;
  stderr(): string;
}

/** Spawns the waypoint and resolves with the ports it logs at startup. */
function startWaypoint(flags: readonly string[]): Promise<Started> {
  const { cmd, args } = waypointCommand();
  const child = spawn(cmd, [...args, ...flags], { cwd: PKG, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const port = (v: string | undefined) => Number(v?.slice(v.lastIndexOf(':') + 1));
    child.on('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`waypoint exited (${code ?? signal}):\n${err}`)));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const from = err.length;
      err += chunk;
      for (const line of err.slice(err.lastIndexOf('\n', from) + 1).split('\n')) {
        if (!line.includes('waypoint started')) continue;
        const f = parseKvLine(line);
        resolve({
          child,
          hbonePort: port(f.hbone),
          proxylessPort: port(f.proxyless),
          metricsPort: port(f.metrics),
          readinessPort: port(f.readiness),
          stderr: () => err,
        });
      }
    });
  });
}

async function waitReady(port: number, deadline: number): Promise<void> {
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${port}/healthz/ready`).catch(() => undefined);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error('waypoint not ready');
    await new Promise((res) => setTimeout(res, 50));
  }
}

function h1Over(tunnel: Duplex, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = h1request(
      { path, headers: { host: 'web.shop.svc.cluster.local' }, createConnection: () => tunnel as never },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function h2Over(tunnel: Duplex, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = h2connect('http://web', { createConnection: () => tunnel as never });
    session.on('error', reject);
    const s = session.request({ ':path': path, ':authority': 'web.shop.svc.cluster.local' });
    s.on('response', (h) => {
      s.resume();
      s.on('end', () => {
        session.close();
        resolve(Number(h[':status']));
      });
    });
    s.on('error', reject);
    s.end();
  });
}

describe('the waypoint process under an HTTP/2 open-and-cancel burst through HBONE', () => {
  let dir: string;
  let caServer: CaServer;
  let upstream: HttpUpstream;
  let endpointHbone: HboneServer;
  let client: HboneClient;
  let wp: Started;
  let trustBundlePem: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waypoint-process-'));
    const ca = await createTestCa();
    trustBundlePem = ca.trustBundlePem;
    const token = 'waypoint-process-test-token-0123456789';
    caServer = await createCaServer({
      ca: ca.authority,
      authenticators: [await createStaticTokenAuthenticator({ text: `${token} shop waypoint\n` })],
    });
    writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
    const [cl, web] = await Promise.all([ca.issue(CLIENT_ID), ca.issue(WEB_ID)]);
    const material = (c: typeof cl) => ({
      keyPem: c.keyPem,
      certChainPem: c.certChainPem,
      trustBundlePem: ca.trustBundlePem,
    });
    upstream = await startHttpUpstream({ name: 'web-1', ip: ENDPOINT_IP });
    endpointHbone = createHboneServer({ certs: createCertStore(material(web)), authorize: allowAll });
    const ep = await endpointHbone.listen({ host: ENDPOINT_IP, port: 0 });
    const objects = [
      ...SHOP,
      waypointGateway('waypoint', { namespace: 'shop' }),
      ...serviceWith([{ name: 'web-1', ip: upstream.ip, port: upstream.port }]),
    ];
    writeFileSync(join(dir, 'mesh.yaml'), objects.map((o) => JSON.stringify(o)).join('\n---\n'));
    wp = await startWaypoint([
      '--name=shop/waypoint',
      `--ca-address=${caServer.address}`,
      `--token-file=${join(dir, 'token')}`,
      `--config-file=${join(dir, 'mesh.yaml')}`,
      '--hbone=127.0.0.1:0',
      '--admin=127.0.0.1:0',
      '--metrics=127.0.0.1:0',
      '--readiness=127.0.0.1:0',
      `--upstream-hbone-port=${ep.port}`,
    ]);
    await waitReady(wp.readinessPort, Date.now() + 20_000);
    client = createHboneClient({ certs: createCertStore(material(cl)) });
  }, 40_000);

  afterAll(async () => {
    await client?.close({ graceMs: 0 });
    if (wp !== undefined && wp.child.exitCode === null) {
      const exited = new Promise((res) => wp.child.once('exit', res));
      wp.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((res) => setTimeout(res, 5_000))]);
      if (wp.child.exitCode === null) wp.child.kill('SIGKILL');
    }
    await endpointHbone?.close({ graceMs: 0 });
    await upstream?.close();
    await caServer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tunnel = () =>
    client.connect({
      via: { ip: '127.0.0.1', port: wp.hbonePort },
      dest: { ip: WEB_VIP, port: 80 },
      expectedIdentity: WAYPOINT_ID,
    });
  const rapidResets = async () => {
    const text = await fetch(`http://127.0.0.1:${wp.metricsPort}/stats/prometheus`).then((r) => r.text());
    return parsePrometheusText(text)
      .find('weft_rejected_total', { reason: 'rapid_reset' })
      .reduce((n, s) => n + s.value, 0);
  };
  const alive = () => wp.child.exitCode === null && wp.child.signalCode === null;

  it('serves HTTP/1.1 and HTTP/2 through HBONE before the burst', async () => {
    expect(await h1Over(await tunnel(), '/before')).toBe(200);
    expect(await h2Over(await tunnel(), '/before')).toBe(200);
  });

  it('three tunnels each open and cancel 2000 streams: each closed, the process alive, others served, counted', async () => {
    const before = await rapidResets();
    const codes = [H2_ERROR.CANCEL, H2_ERROR.REFUSED_STREAM, H2_ERROR.INTERNAL_ERROR];
    const outcomes = await Promise.all(
      codes.map(async (code) => {
        const t = await tunnel();
        const out = readFrames(t, { timeoutMs: 15_000 });
        t.write(openAndCancelBurst(2000, 'web.shop.svc.cluster.local', code));
        return out;
      }),
    );
    for (const o of outcomes) expect(o.closed).toBe(true);
    expect(alive(), wp.stderr()).toBe(true);
    expect(await h1Over(await tunnel(), '/after-burst')).toBe(200);
    expect(await h2Over(await tunnel(), '/after-burst')).toBe(200);
    for (const o of outcomes) {
      // Under Bun the session's teardown can overtake its GOAWAY inside the tunnel (seen about one
      // run in five): the frame, when it arrives, must say ENHANCE_YOUR_CALM; the counter below
      // proves each connection was cut for the flood either way. Node always delivers it.
      if (isBun && o.goaways.length === 0) continue;
      expect(o.goaways).toContain(H2_ERROR.ENHANCE_YOUR_CALM);
    }
    expect(await rapidResets()).toBeGreaterThanOrEqual(before + codes.length);
    expect(alive(), wp.stderr()).toBe(true);
  }, 40_000);

  it('refuses garbage, plaintext and certificate-less callers on the proxyless port, counted, alive', async () => {
    const rejected = async (reason: string) => {
      const text = await fetch(`http://127.0.0.1:${wp.metricsPort}/stats/prometheus`).then((r) => r.text());
      return parsePrometheusText(text)
        .find('weft_rejected_total', { component: 'waypoint', reason })
        .reduce((n, s) => n + s.value, 0);
    };
    expect(wp.proxylessPort).toBeGreaterThan(0);
    const before = {
      notTls: await rejected('proxyless_not_tls'),
      noCert: await rejected('proxyless_mtls_no_client_cert'),
    };
    const raw = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port: wp.proxylessPort });
        s.on('error', () => {});
        s.on('data', () => {});
        s.on('close', () => resolve());
        s.write(bytes);
      });
    await Promise.all([
      raw(Buffer.from([0xff, 0x00, 0x16, 0x03, 0x01, 0x02, 0x03])),
      raw(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')),
      raw(Buffer.from('POST /weft.test.Echo/Say HTTP/1.1\r\nhost: web.shop.svc.cluster.local:80\r\n\r\n')),
    ]);
    // TLS with the mesh's roots but no client certificate
    await new Promise<void>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: wp.proxylessPort,
        ca: trustBundlePem,
        ALPNProtocols: ['h2'],
        servername: 'waypoint.weft.test',
        checkServerIdentity: () => undefined,
      });
      s.on('error', () => {});
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.on('secureConnect', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    });
    expect(alive(), wp.stderr()).toBe(true);
    expect(await rejected('proxyless_not_tls')).toBe(before.notTls + 3);
    expect(await rejected('proxyless_mtls_no_client_cert')).toBe(before.noCert + 1);
    expect(await h2Over(await tunnel(), '/after-proxyless')).toBe(200);
  }, 20_000);

  it('exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((res) => wp.child.once('exit', (code) => res(code)));
    wp.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 15_000);
});
