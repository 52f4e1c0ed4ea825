// pnpm bench:waypoint [--runtime node|bun] — requests/s, CPU and memory of the waypoint against
// nginx (one worker) doing the same proxy job, in two comparisons that share one upstream (nginx
// answering a fixed 20-byte body):
//
// 1. plaintext: wrk (1 thread) -> the L7 engine behind its plaintext HTTP/1.1 listener (a child
//    process) -> upstream, against wrk -> nginx reverse proxy (upstream keep-alive) -> upstream.
//    The engine has a route (prefix match + request header modifier), the default filter chain
//    (trace, rbac, route, fault, rewrite, headers, mirror, router) and an ALLOW
//    AuthorizationPolicy; access logs off (Istio's default); nginx sets one request header too.
//    wrk runs at 32 connections (throughput) and 1 (CPU per request at low load).
// 2. mutual TLS, the full waypoint hop: load generator -> HBONE (mutual TLS 1.3, HTTP/2
//    CONNECT) -> the waypoint (createWaypoint: HBONE inbound, engine, same route and policy,
//    endpoints over HBONE) -> HBONE -> the endpoint's HBONE inbound (@weft/hbone's server, as
//    its ztunnel) -> upstream; against load generator -> mutual TLS 1.3 -> nginx (TLS
//    terminated, client certificate required) -> TLS 1.3 with a client certificate (keep-alive)
//    -> nginx terminating TLS in front of the same upstream. nginx does not check the upstream
//    certificate's name (SPIFFE certificates carry a URI, which nginx cannot match); the
//    waypoint checks the endpoint's SPIFFE identity. The load generator (bench/lib/mesh-peers.ts,
//    on Node, 32 keep-alive connections, one request in flight each) is the same program on
//    both sides. CPU is the proxy's own: the waypoint process, nginx proxy's master + worker.
//
// BENCH_ROUNDS (default 3) rounds alternate the peers (nginx, waypoint, nginx, waypoint, ...);
// every run lasts BENCH_SECONDS (default 5). The `key value` lines at the end are medians:
//   waypoint-vs-nginx            engine req/s over nginx's, plaintext, c=32
//   waypoint-mtls-vs-nginx-tls   waypoint req/s over nginx's, mutual TLS, c=32
//   waypoint-cpu-per-1k-rps      engine vCPU per 1,000 req/s, plaintext, c=1
//   waypoint-mtls-cpu-vs-nginx-tls  waypoint CPU per request over nginx's, mutual TLS, c=32
//   waypoint-rss-mb              engine VmRSS at the end of the run (waypoint-rss-peak-mb: VmHWM)
// Under --runtime bun the engine and the waypoint run on Bun and every key gets a `bun-` prefix;
// nginx, wrk and the mesh peers are the same. Loopback only. Every process it starts is stopped
// on the way out (finally, and on SIGINT/SIGTERM), failures included.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { workerExecArgv } from '@weft/proxy-core/process';
import type { LoadResult, LoadSpec } from './lib/mesh-peers.ts';
import { cpuSeconds, processTree, statusKiB } from './lib/procstat.ts';
import { benchRounds, benchRuntime, benchSeconds, median } from './lib/runtime.ts';
import { ensurePackages, which } from './lib/system.ts';
import { formatTable } from './lib/table.ts';
import { meshSnapshot, PLAIN_VIP, plainSnapshot } from './lib/waypoint-config.ts';
import { runWrk } from './lib/wrk.ts';

const BENCH_PATH = '/bench/item?id=1';
const WAYPOINT_ID = 'spiffe://cluster.local/ns/shop/sa/waypoint';
const CLIENT_ID = 'spiffe://cluster.local/ns/legacy/sa/client';
const WEB_ID = 'spiffe://cluster.local/ns/shop/sa/web';
const THROUGHPUT_CONNECTIONS = 32;
const LATENCY_CONNECTIONS = 1;
const HERE = fileURLToPath(new URL('.', import.meta.url));

interface CertFiles {
  readonly keyPem: string;
  readonly certChainPem: readonly string[];
  readonly trustBundlePem: string;
}

// ---- processes ---------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function start(cmd: string, args: readonly string[], name: string): ChildProcess {
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', (e) => process.stderr.write(`bench:waypoint: ${name}: ${e.message}\n`));
  return child;
}

/** Waits for a `port <n>` line on the child's stdout. */
function portOf(child: ChildProcess, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name}: no port within 30 s`)), 30_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}`));
    });
  });
}

/** SIGTERM (nginx: fast shutdown, its workers follow the master), SIGKILL after 3 s. */
async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), 3000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function startNginx(nginx: string, dir: string, name: string, body: string): Promise<ChildProcess> {
  const prefix = join(dir, name);
  mkdirSync(prefix, { recursive: true });
  chmodSync(prefix, 0o777);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
${body}
}
`,
  );
  const child = start(nginx, ['-c', conf, '-p', prefix], `nginx ${name}`);
  await sleep(300);
  if (child.exitCode !== null)
    throw new Error(`nginx ${name} exited: ${readFileSync(join(prefix, 'error.log'), 'utf8')}`);
  return child;
}

/** CPU seconds of each root's whole process tree (nginx master + worker; Bun's launcher + Bun). */
function cpuOf(roots: readonly number[]): number {
  return roots.reduce((s, p) => s + cpuSeconds(p), 0);
}

async function runLoad(dir: string, spec: LoadSpec): Promise<LoadResult> {
  const file = join(dir, `load-${spec.mode}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const child = start(
    process.execPath,
    ['--conditions=weft-source', '--import', 'tsx', join(HERE, 'lib', 'mesh-peers.ts'), 'load', file],
    'load generator',
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  // A load generator that stalls (a tunnel that never opens, a close never answered) must not
  // hold the bench forever: it gets the run's length plus a minute.
  const limitS = spec.seconds + 60;
  const timer = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  if (child.signalCode === 'SIGKILL')
    throw new Error(`load generator (${spec.mode}) did not finish within ${limitS} s: ${out}`);
  if (code !== 0) throw new Error(`load generator exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoadResult;
}

// ---- the run -----------------------------------------------------------------------------------

interface Sample {
  readonly rps: number;
  /** The proxy's CPU seconds per second of the run. */
  readonly cpu: number;
  readonly p99: number | undefined;
  readonly errors: number;
}

async function main(): Promise<void> {
  const rt = benchRuntime();
  const seconds = benchSeconds();
  const rounds = benchRounds();
  const began = performance.now();
  await ensurePackages(['nginx', 'wrk']);
  const nginx = await which('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-waypoint-'));
  chmodSync(dir, 0o777);
  try {
    // certificates: one test CA, the same RSA leaves for both sides
    const { createTestCa } = await import('@weft/ca/testing');
    const ca = await createTestCa();
    const files = async (id: string, name: string) => {
      const c = await ca.issue(id);
      const m: CertFiles = {
        keyPem: c.keyPem,
        certChainPem: c.certChainPem,
        trustBundlePem: ca.trustBundlePem,
      };
      writeFileSync(join(dir, `${name}.json`), JSON.stringify(m));
      writeFileSync(join(dir, `${name}.key`), c.keyPem);
      writeFileSync(join(dir, `${name}.crt`), c.certChainPem.join('\n'));
      return m;
    };
    const [, clientCerts] = await Promise.all([files(WAYPOINT_ID, 'waypoint'), files(CLIENT_ID, 'client')]);
    await files(WEB_ID, 'web');
    writeFileSync(join(dir, 'bundle.pem'), ca.trustBundlePem);
    const tls = (name: string) =>
      `ssl_certificate ${dir}/${name}.crt; ssl_certificate_key ${dir}/${name}.key;
    ssl_client_certificate ${dir}/bundle.pem; ssl_verify_client on; ssl_protocols TLSv1.3;`;

    const [up, upTls, proxyPort, proxyTlsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const body = 'hello from upstream\\n';
    await startNginx(
      nginx,
      dir,
      'upstream',
      `  server { listen 127.0.0.1:${up}; location / { return 200 "${body}"; } }
  server { listen 127.0.0.1:${upTls} ssl; ${tls('web')} location / { return 200 "${body}"; } }`,
    );
    const proxy = await startNginx(
      nginx,
      dir,
      'proxy',
      `  upstream up { server 127.0.0.1:${up}; keepalive 64; }
  upstream up_tls { server 127.0.0.1:${upTls}; keepalive 64; }
  server { listen 127.0.0.1:${proxyPort};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header x-bench nginx; } }
  server { listen 127.0.0.1:${proxyTlsPort} ssl; ${tls('waypoint')}
    location / { proxy_pass https://up_tls; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header x-bench nginx;
      proxy_ssl_certificate ${dir}/waypoint.crt; proxy_ssl_certificate_key ${dir}/waypoint.key;
      proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on; } }`,
    );
    const proxyPids = [proxy.pid ?? 0];

    const child = join(HERE, 'lib', 'waypoint-child.mjs');
    // On Node the child runs with the flags a proxy's supervisor gives its workers (the default
    // --concurrency is the cores available, so a production waypoint here runs as workers).
    const nodeFlags = workerExecArgv([], process.env.NODE_OPTIONS, false);
    const childCmd = (args: string[]) =>
      rt.name === 'bun'
        ? rt.command(child, args)
        : { cmd: process.execPath, args: [...nodeFlags, child, ...args] };
    const plainFile = join(dir, 'plain-snapshot.json');
    writeFileSync(plainFile, JSON.stringify({ vip: PLAIN_VIP, snapshot: plainSnapshot(up) }));
    const meshFile = join(dir, 'mesh-snapshot.json');
    writeFileSync(meshFile, JSON.stringify({ snapshot: meshSnapshot(up) }));
    const plainCmd = childCmd(['plain', plainFile]);
    const engine = start(plainCmd.cmd, plainCmd.args, 'engine');
    const enginePort = await portOf(engine, 'engine');

    const endpoint = start(
      process.execPath,
      [
        '--conditions=weft-source',
        '--import',
        'tsx',
        join(HERE, 'lib', 'mesh-peers.ts'),
        'endpoint',
        join(dir, 'web.json'),
        '127.0.0.1',
      ],
      'endpoint HBONE',
    );
    const endpointPort = await portOf(endpoint, 'endpoint HBONE');
    const meshCmd = childCmd(['mesh', join(dir, 'waypoint.json'), meshFile, String(endpointPort)]);
    const waypoint = start(meshCmd.cmd, meshCmd.args, 'waypoint');
    const waypointPort = await portOf(waypoint, 'waypoint');

    console.log(
      `loopback, ${rt.name}${rt.name === 'bun' ? '' : ` (${nodeFlags.join(' ') || 'no flags'})`}, ${rounds} rounds x ${seconds} s per run; load average before: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );

    const wrk = async (
      port: number,
      pids: readonly number[],
      connections: number,
      s: number,
    ): Promise<Sample> => {
      const cpu0 = cpuOf(pids);
      const r = await runWrk(`http://127.0.0.1:${port}${BENCH_PATH}`, { connections, seconds: s });
      return { rps: r.rps, cpu: (cpuOf(pids) - cpu0) / r.seconds, p99: r.p99, errors: r.errors };
    };
    const load = async (
      spec: Omit<LoadSpec, 'connections' | 'seconds' | 'certs' | 'path'>,
      pids: readonly number[],
      s: number,
    ): Promise<Sample> => {
      const cpu0 = cpuOf(pids);
      const r = await runLoad(dir, {
        ...spec,
        path: BENCH_PATH,
        connections: THROUGHPUT_CONNECTIONS,
        seconds: s,
        certs: clientCerts,
      });
      return { rps: r.rps, cpu: (cpuOf(pids) - cpu0) / r.seconds, p99: undefined, errors: r.errors };
    };
    const nginxTls = { mode: 'tls', host: '127.0.0.1', port: proxyTlsPort, authority: 'web' } as const;
    const waypointHbone = {
      mode: 'hbone',
      host: '127.0.0.1',
      port: waypointPort,
      dest: { ip: '10.96.0.10', port: 80 },
      expectedIdentity: WAYPOINT_ID,
      authority: 'web.shop.svc.cluster.local',
    } as const;
    const enginePids = [engine.pid ?? 0];
    const waypointPids = [waypoint.pid ?? 0];

    // warm up: JIT, pools, TLS sessions
    await wrk(proxyPort, [], 8, 1);
    await wrk(enginePort, [], 8, 1);
    await load(nginxTls, [], 1);
    await load(waypointHbone, [], 1);

    type Key =
      | 'nginx c32'
      | 'waypoint c32'
      | 'nginx c1'
      | 'waypoint c1'
      | 'nginx-tls c32'
      | 'waypoint-mtls c32';
    const samples = new Map<Key, Sample[]>();
    const add = (k: Key, s: Sample) => samples.set(k, [...(samples.get(k) ?? []), s]);
    for (let r = 0; r < rounds; r++) {
      add('nginx c32', await wrk(proxyPort, proxyPids, THROUGHPUT_CONNECTIONS, seconds));
      add('waypoint c32', await wrk(enginePort, enginePids, THROUGHPUT_CONNECTIONS, seconds));
      add('nginx c1', await wrk(proxyPort, proxyPids, LATENCY_CONNECTIONS, seconds));
      add('waypoint c1', await wrk(enginePort, enginePids, LATENCY_CONNECTIONS, seconds));
      add('nginx-tls c32', await load(nginxTls, proxyPids, seconds));
      add('waypoint-mtls c32', await load(waypointHbone, waypointPids, seconds));
    }
    const med = (k: Key, f: (s: Sample) => number) => median((samples.get(k) ?? []).map(f));
    const rows = [...samples.keys()].map((k) => {
      const rps = med(k, (s) => s.rps);
      const cpu = med(k, (s) => s.cpu);
      const p99 = med(k, (s) => s.p99 ?? Number.NaN);
      return [
        k,
        String(Math.round(rps)),
        Number.isNaN(p99) ? '-' : p99.toFixed(2),
        String((samples.get(k) ?? []).reduce((a, s) => a + s.errors, 0)),
        cpu.toFixed(2),
        rps > 0 ? ((cpu * 1000) / rps).toFixed(3) : '-',
      ];
    });
    console.log(formatTable(['target', 'req/s', 'p99 ms', 'errors', 'vCPU', 'vCPU per 1k rps'], rows));
    console.log(
      `per round req/s: ${[...samples.entries()].map(([k, v]) => `${k}: ${v.map((s) => Math.round(s.rps)).join('/')}`).join('; ')}`,
    );
    const ratio = (a: Key, b: Key) => med(a, (s) => s.rps) / med(b, (s) => s.rps);
    const perReq = (k: Key) => med(k, (s) => (s.rps > 0 ? s.cpu / s.rps : Number.NaN));
    // the largest process of the tree: the runtime, not Bun's launcher script
    const largest = (root: number, field: 'VmRSS' | 'VmHWM') =>
      Math.max(...processTree(root).map((p) => statusKiB(p, field))) / 1024;
    const rss = largest(engine.pid ?? 0, 'VmRSS');
    const peak = largest(engine.pid ?? 0, 'VmHWM');
    const wpRss = largest(waypoint.pid ?? 0, 'VmRSS');
    console.log(rt.key('waypoint-vs-nginx', ratio('waypoint c32', 'nginx c32').toFixed(2)));
    console.log(rt.key('waypoint-mtls-vs-nginx-tls', ratio('waypoint-mtls c32', 'nginx-tls c32').toFixed(2)));
    console.log(rt.key('waypoint-cpu-per-1k-rps', (perReq('waypoint c1') * 1000).toFixed(3)));
    console.log(
      rt.key(
        'waypoint-mtls-cpu-vs-nginx-tls',
        (perReq('waypoint-mtls c32') / perReq('nginx-tls c32')).toFixed(2),
      ),
    );
    console.log(rt.key('waypoint-rss-mb', rss.toFixed(0)));
    console.log(rt.key('waypoint-rss-peak-mb', peak.toFixed(0)));
    console.log(rt.key('waypoint-mtls-rss-mb', wpRss.toFixed(0)));
    console.log(`run took ${((performance.now() - began) / 1000).toFixed(0)} s`);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    process.stderr.write(`bench:waypoint: ${signal}, stopping what it started\n`);
    void stopAll().then(() => process.exit(130));
  });
let exitCode = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`bench:waypoint: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  exitCode = 1;
}
process.exit(exitCode);
