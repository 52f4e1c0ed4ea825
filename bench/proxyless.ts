// pnpm bench:proxyless — what the proxyless mode (@weft/proxyless-sdk: grpc-js-xds configured by
// weftd, the SDK's xDS relay, rotated certificates and authorization interceptor) adds to a unary
// gRPC call, against the same call over plain gRPC with mutual TLS, in the same run.
//
// (a) plain: a grpc-js client and server with `credentials.createSsl` / `ServerCredentials.createSsl`
//     and mesh certificates (each process obtains its own from weftd's CA API, as the SDK does);
//     the client checks the server's SPIFFE ID, the server requires a client certificate. No xDS.
// (b) proxyless: `createProxylessServer` (an XdsServer with the authorization interceptor, its
//     Listener and TLS from weftd) and `createProxylessClient` (`xds:///` target: Listener, routes,
//     Cluster, endpoints and mesh mTLS from weftd).
// A third row, the plain client calling the proxyless server (same mesh certificates), splits
// the overhead between the server side and the client side.
//
// weftd (local mode, a folder of manifests: bench/manifests/proxyless) serves both proxyless pods
// and issues every certificate. Each server and each load client is a child process of the bench
// (this file, `--role <name>`), so CPU and memory are read per process from /proc. A load client
// keeps `BENCH_CONCURRENCY` (default 4) unary calls outstanding on one channel (closed loop, 64-byte
// message echoed). Rounds alternate the paths (BENCH_ROUNDS, default 3, of BENCH_SECONDS,
// default 5), so a noisy machine hurts both. Loopback only.
//
// Fixed addresses: weftd 127.0.100.1:15010/15014, the plain server 127.0.102.2:19091, the
// proxyless server port 19090 on all addresses (an XdsServer binds `::`). The package script runs
// under `flock /tmp/weft-e2e.lock`, so it waits for an e2e run (or another bench) holding the lock.
//
// grpc-js comes from the SDK's own dependency (resolved from @weft/proxyless-sdk): the `xds:`
// resolver is registered on that copy, and the plain path uses the same copy.
//
// Last lines: `proxyless-overhead-pct <pct>` (pooled p50 of (b) over pooled p50 of (a), minus 1)
// and `proxyless-client-rss-mb <MiB>` (the proxyless load client's resident set at the end).
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCaClient, createCertManager, type WorkloadCertificate } from '@weft/ca/client';
import {
  createProxylessClient,
  createProxylessServer,
  type ProxylessClient,
  type ProxylessServer,
} from '@weft/proxyless-sdk';
import { execa } from 'execa';
import { cpuSeconds, peakRssMiB } from './lib/procstat.ts';
import { formatTable } from './lib/table.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);

const WEFTD_IP = '127.0.100.1';
const XDS = `${WEFTD_IP}:15010`;
const ADMIN = `${WEFTD_IP}:15014`;
const SERVER_IP = '127.0.102.2'; // the server pod (bench/manifests/proxyless)
const PLAIN_PORT = 19091;
const PROXYLESS_PORT = 19090; // the Service's port and the pod's container port
const SERVICE_HOST = 'server.bench.svc.cluster.local';
const SERVER_ID = 'spiffe://cluster.local/ns/bench/sa/server';
const REPO = join(import.meta.dirname, '..');
const WORK = join(REPO, '.weft', 'bench-proxyless');
const PODS = {
  server: { token: 'bench-proxyless-server-token' },
  client: { token: 'bench-proxyless-client-token' },
} as const;
type PodName = keyof typeof PODS;
const tokenFile = (pod: PodName): string => join(WORK, `${pod}.token`);

// --- gRPC: the SDK's copy, typed by the few members used here -------------------------------

type GrpcServer = ReturnType<ProxylessServer['createServer']>;
type ChannelCredentials = ProxylessClient['channelCredentials'];
type ChannelOptions = ProxylessClient['channelOptions'];
type ServerCredentials = ProxylessServer['serverCredentials'];
type Codec = (b: Buffer) => Buffer;
interface GrpcClient {
  makeUnaryRequest(
    method: string,
    serialize: Codec,
    deserialize: Codec,
    argument: Buffer,
    options: { deadline: number },
    callback: (err: Error | null, value?: Buffer) => void,
  ): unknown;
  close(): void;
}
interface Grpc {
  Server: new () => GrpcServer;
  Client: new (address: string, credentials: ChannelCredentials, options: ChannelOptions) => GrpcClient;
  credentials: {
    createSsl(
      rootCerts: Buffer,
      privateKey: Buffer,
      certChain: Buffer,
      verifyOptions: { checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined },
    ): ChannelCredentials;
  };
  ServerCredentials: {
    createSsl(
      rootCerts: Buffer,
      keyCertPairs: { private_key: Buffer; cert_chain: Buffer }[],
      checkClientCertificate: boolean,
    ): ServerCredentials;
  };
}
const loadGrpc = (): Grpc =>
  createRequire(import.meta.resolve('@weft/proxyless-sdk'))('@grpc/grpc-js') as Grpc;

// One unary method on raw bytes: no protobuf work on either side, the same on both paths.
const METHOD = '/weft.bench.v1.Echo/Echo';
const same: Codec = (b) => b;
const ECHO_SERVICE = {
  Echo: {
    path: METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: same,
    requestDeserialize: same,
    responseSerialize: same,
    responseDeserialize: same,
  },
};
const PAYLOAD = Buffer.alloc(64, 'w');
type AddService = GrpcServer['addService'];
function addEcho(server: GrpcServer): void {
  const echo = (call: { request: Buffer }, cb: (err: null, value: Buffer) => void): void =>
    cb(null, call.request);
  server.addService(
    ECHO_SERVICE as unknown as Parameters<AddService>[0],
    { Echo: echo } as unknown as Parameters<AddService>[1],
  );
}

// --- child processes: servers and load clients ----------------------------------------------

type Role =
  | 'plain-server'
  | 'proxyless-server'
  | 'plain-client'
  | 'plain-to-proxyless-client'
  | 'proxyless-client';
type ToChild = { type: 'run'; seconds: number; concurrency: number } | { type: 'stop' };
type FromChild =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'result'; latencies: Float64Array; errors: number; seconds: number; lastError?: string };

const send = (m: FromChild): void => {
  process.send?.(m);
};

/** A mesh certificate from weftd's CA for the pod's service account (what the SDK obtains too). */
async function meshCertificate(pod: PodName): Promise<WorkloadCertificate> {
  const source = createCaClient({ address: XDS, token: () => readFileSync(tokenFile(pod), 'utf8').trim() });
  const manager = createCertManager({ source });
  // The manager's timers do not hold the process open, and nothing else does yet.
  const keepAlive = setInterval(() => undefined, 1000);
  manager.start();
  try {
    return await manager.ready();
  } finally {
    clearInterval(keepAlive);
    manager.close();
    source.close();
  }
}

/** Closed loop: `concurrency` calls outstanding, each followed by the next until the deadline. */
async function runLoad(
  client: GrpcClient,
  seconds: number,
  concurrency: number,
): Promise<Extract<FromChild, { type: 'result' }>> {
  const latencies: number[] = [];
  let errors = 0;
  let lastError: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = (): Promise<void> =>
    new Promise((resolve) => {
      const next = (): void => {
        if (performance.now() >= deadline) {
          resolve();
          return;
        }
        const sentAt = performance.now();
        client.makeUnaryRequest(
          METHOD,
          same,
          same,
          PAYLOAD,
          { deadline: Date.now() + 10_000 },
          (err, value) => {
            if (err === null && value?.length === PAYLOAD.length) {
              latencies.push(performance.now() - sentAt);
              next();
            } else {
              errors++;
              lastError = err?.message ?? `reply of ${value?.length} bytes`;
              setTimeout(next, 10);
            }
          },
        );
      };
      next();
    });
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return {
    type: 'result',
    latencies: Float64Array.from(latencies).sort(),
    errors,
    seconds: elapsed,
    ...(lastError !== undefined ? { lastError } : {}),
  };
}

async function runRole(role: Role): Promise<void> {
  let close: () => Promise<void> | void;
  let client: GrpcClient | undefined;
  switch (role) {
    case 'plain-server': {
      const grpc = loadGrpc();
      const cert = await meshCertificate('server');
      const server = new grpc.Server();
      addEcho(server);
      const creds = grpc.ServerCredentials.createSsl(
        Buffer.from(cert.trustBundlePem),
        [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certChainPem.join('\n')) }],
        true,
      );
      await new Promise<void>((resolve, reject) =>
        server.bindAsync(`${SERVER_IP}:${PLAIN_PORT}`, creds, (err) => (err ? reject(err) : resolve())),
      );
      close = () => server.forceShutdown();
      break;
    }
    case 'proxyless-server': {
      const mesh = await createProxylessServer({
        pod: 'bench/server',
        serviceAccount: 'server',
        xdsAddress: XDS,
        tokenFile: tokenFile('server'),
      });
      const server = mesh.createServer();
      addEcho(server);
      await mesh.listen(server, PROXYLESS_PORT);
      close = async () => {
        server.forceShutdown();
        await mesh.close();
      };
      break;
    }
    case 'plain-client':
    case 'plain-to-proxyless-client': {
      const grpc = loadGrpc();
      const cert = await meshCertificate('client');
      const creds = grpc.credentials.createSsl(
        Buffer.from(cert.trustBundlePem),
        Buffer.from(cert.keyPem),
        Buffer.from(cert.certChainPem.join('\n')),
        {
          // Mesh certificates name a SPIFFE ID, not a host: check that instead.
          checkServerIdentity: (_host, peer) =>
            (peer.subjectaltname ?? '').split(', ').includes(`URI:${SERVER_ID}`)
              ? undefined
              : new Error(`server is not ${SERVER_ID}: ${peer.subjectaltname}`),
        },
      );
      // The TLS server name is the Service's host (an IP address is not a valid SNI).
      const port = role === 'plain-client' ? PLAIN_PORT : PROXYLESS_PORT;
      client = new grpc.Client(`${SERVER_IP}:${port}`, creds, {
        'grpc.ssl_target_name_override': SERVICE_HOST,
      });
      close = () => client?.close();
      break;
    }
    case 'proxyless-client': {
      // First: nothing may load grpc-js-xds before the SDK has written the bootstrap.
      const mesh = await createProxylessClient({
        pod: 'bench/client',
        serviceAccount: 'client',
        xdsAddress: XDS,
        tokenFile: tokenFile('client'),
      });
      const grpc = loadGrpc();
      client = new grpc.Client(
        mesh.target(SERVICE_HOST, PROXYLESS_PORT),
        mesh.channelCredentials,
        mesh.channelOptions,
      );
      close = async () => {
        client?.close();
        await mesh.close();
      };
      break;
    }
    default: {
      const never: never = role;
      throw new Error(`unknown role ${String(never)}`);
    }
  }
  if (client !== undefined) {
    // Ready once a call goes through (xDS resources received, TLS handshake done).
    const until = Date.now() + 30_000;
    for (;;) {
      const r = await runLoad(client, 0.2, 1);
      if (r.latencies.length > 0) break;
      if (Date.now() > until) throw new Error(`no call succeeded within 30 s (${r.lastError})`);
    }
  }
  const load = client;
  process.on('message', (m: ToChild) => {
    if (m.type === 'run' && load !== undefined) void runLoad(load, m.seconds, m.concurrency).then(send);
    else if (m.type === 'stop') void Promise.resolve(close()).finally(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

// --- the bench ------------------------------------------------------------------------------

interface Worker {
  readonly role: Role;
  readonly child: ChildProcess;
  readonly pid: number;
  request(m: ToChild): Promise<FromChild>;
}

const children: ChildProcess[] = [];

/** Forks this file as `role` and resolves once it reports ready. */
function startWorker(role: Role): Promise<Worker> {
  const child = fork(fileURLToPath(import.meta.url), ['--role', role], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  children.push(child);
  const next = (): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`${role} exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m: FromChild) => {
        child.off('exit', onExit);
        resolve(m);
      });
    });
  return next().then((m) => {
    if (m.type !== 'ready') throw new Error(m.type === 'error' ? m.message : `${role}: unexpected ${m.type}`);
    if (child.pid === undefined) throw new Error(`${role} has no pid`);
    return {
      role,
      child,
      pid: child.pid,
      request: (msg) => {
        const reply = next();
        child.send(msg);
        return reply;
      },
    };
  });
}

async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

const pct = (sorted: Float64Array, p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  for (const d of ['config', 'ca']) mkdirSync(join(WORK, d), { recursive: true });
  writeFileSync(
    join(WORK, 'config', 'mesh.yaml'),
    readFileSync(join(import.meta.dirname, 'manifests', 'proxyless', 'mesh.yaml')),
  );
  const names = Object.keys(PODS) as PodName[];
  writeFileSync(join(WORK, 'tokens.txt'), `${names.map((n) => `${PODS[n].token} bench ${n}`).join('\n')}\n`, {
    mode: 0o600,
  });
  for (const n of names) writeFileSync(tokenFile(n), `${PODS[n].token}\n`, { mode: 0o600 });

  const weftd = execa(
    process.execPath,
    [
      join(REPO, 'apps', 'control-plane', 'dist', 'main.js'),
      '--config-dir',
      join(WORK, 'config'),
      '--xds-address',
      XDS,
      '--admin-address',
      ADMIN,
      '--xds-tls-address',
      'off',
      '--injection-address',
      'off',
      '--token-file',
      join(WORK, 'tokens.txt'),
      '--ca-dir',
      join(WORK, 'ca'),
      '--log-level',
      'warn',
    ],
    { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' },
  );
  let exitCode = 0;
  try {
    await Promise.race([
      waitReady(`http://${ADMIN}/healthz/ready`),
      weftd.then(() => Promise.reject(new Error('weftd exited'))),
    ]);
    // Servers first, then the clients (which make a first call before reporting ready).
    const servers = await Promise.all([startWorker('plain-server'), startWorker('proxyless-server')]);
    const clients = await Promise.all([
      startWorker('plain-client'),
      startWorker('proxyless-client'),
      startWorker('plain-to-proxyless-client'),
    ]);
    const paths = [
      { name: 'plain gRPC + mTLS', client: clients[0], server: servers[0] },
      { name: 'plain client -> proxyless server', client: clients[2], server: servers[1] },
      { name: 'proxyless (SDK, xDS)', client: clients[1], server: servers[1] },
    ].map((p) => {
      if (p.client === undefined || p.server === undefined) throw new Error('a worker is missing');
      return { name: p.name, client: p.client, server: p.server };
    });

    const run = async (w: Worker, seconds: number): Promise<Extract<FromChild, { type: 'result' }>> => {
      const r = await w.request({ type: 'run', seconds, concurrency: CONCURRENCY });
      if (r.type !== 'result') throw new Error(`${w.role}: ${r.type === 'error' ? r.message : r.type}`);
      return r;
    };
    // Warm up both paths (JIT, HTTP/2 windows) before measuring.
    for (const p of paths) {
      const w = await run(p.client, 2);
      if (w.latencies.length === 0) throw new Error(`${p.name}: no call succeeded while warming up`);
    }

    const load0 = loadavg()[0] ?? 0;
    const rows: (string | number)[][] = [];
    const pooled = new Map<
      string,
      { lat: Float64Array[]; calls: number; seconds: number; errors: number; cpu: number[] }
    >();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const p of paths) {
        const pids = [p.client.pid, p.server.pid];
        const before = pids.map(cpuSeconds);
        const r = await run(p.client, SECONDS);
        const used = pids.map((pid, i) => cpuSeconds(pid) - (before[i] ?? 0));
        const acc = pooled.get(p.name) ?? { lat: [], calls: 0, seconds: 0, errors: 0, cpu: [0, 0] };
        acc.lat.push(r.latencies);
        acc.calls += r.latencies.length;
        acc.seconds += r.seconds;
        acc.errors += r.errors;
        acc.cpu = acc.cpu.map((c, i) => c + (used[i] ?? 0));
        pooled.set(p.name, acc);
        rows.push([
          String(round),
          p.name,
          Math.round(r.latencies.length / r.seconds),
          pct(r.latencies, 50),
          pct(r.latencies, 90),
          pct(r.latencies, 99),
          `${((used[0] ?? 0) / r.seconds).toFixed(2)} / ${((used[1] ?? 0) / r.seconds).toFixed(2)}`,
          String(r.errors),
        ]);
      }
    }
    const all = new Map(
      [...pooled].map(([name, a]) => {
        const lat = new Float64Array(a.lat.reduce((n, l) => n + l.length, 0));
        let o = 0;
        for (const l of a.lat) {
          lat.set(l, o);
          o += l.length;
        }
        lat.sort();
        return [name, { ...a, lat }];
      }),
    );
    for (const [name, a] of all) {
      rows.push([
        'all',
        name,
        Math.round(a.calls / a.seconds),
        pct(a.lat, 50),
        pct(a.lat, 90),
        pct(a.lat, 99),
        `${((a.cpu[0] ?? 0) / a.seconds).toFixed(2)} / ${((a.cpu[1] ?? 0) / a.seconds).toFixed(2)}`,
        String(a.errors),
      ]);
    }

    console.log(
      `\nunary gRPC, ${ROUNDS} alternating rounds of ${SECONDS} s per path, ${CONCURRENCY} calls outstanding on one channel (closed loop), 64-byte echo, client and server in separate processes on loopback; load average ${load0.toFixed(1)} before\n`,
    );
    console.log(
      formatTable(
        ['round', 'path', 'calls/s', 'p50 ms', 'p90 ms', 'p99 ms', 'vCPU client / server', 'errors'],
        rows,
      ),
    );
    const plain = all.get(paths[0]?.name ?? '');
    const proxyless = all.get(paths[2]?.name ?? '');
    if (plain === undefined || proxyless === undefined) throw new Error('missing results');
    console.log('');
    for (const [name, a] of all) {
      const per1k = a.cpu.map((c) => ((c / a.calls) * 1000).toFixed(3));
      console.log(`${name}: CPU per 1,000 calls: client ${per1k[0]} s, server ${per1k[1]} s`);
    }
    const rss = (w: Worker): string =>
      `${rssMiB(w.pid).toFixed(1)} MiB (peak ${peakRssMiB(w.pid).toFixed(1)})`;
    console.log(
      `RSS at the end: plain client ${rss(clients[0] as Worker)}, proxyless client ${rss(clients[1] as Worker)}; plain server ${rss(servers[0] as Worker)}, proxyless server ${rss(servers[1] as Worker)}`,
    );
    console.log(
      `proxyless-overhead-pct ${((pct(proxyless.lat, 50) / pct(plain.lat, 50) - 1) * 100).toFixed(1)}`,
    );
    console.log(`proxyless-client-rss-mb ${rssMiB((clients[1] as Worker).pid).toFixed(1)}`);
  } catch (err) {
    console.error(`bench:proxyless failed: ${(err as Error).message}`);
    exitCode = 1;
  } finally {
    // Clients, then servers (they would log weftd's going), then weftd.
    for (const group of [children.slice(2), children.slice(0, 2)]) {
      await Promise.all(
        group.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              if (child.connected) child.send({ type: 'stop' } satisfies ToChild);
              else child.kill('SIGTERM');
            }),
        ),
      );
    }
    weftd.kill('SIGTERM');
    await weftd;
  }
  process.exit(exitCode);
}

const roleAt = process.argv.indexOf('--role');
if (roleAt >= 0) {
  const role = process.argv[roleAt + 1] as Role;
  try {
    await runRole(role);
  } catch (err) {
    const message = `${role}: ${(err as Error).message}`;
    console.error(`bench:proxyless ${message}`);
    send({ type: 'error', message });
    process.exit(1);
  }
} else {
  await main();
}
