// pnpm bench:ambient [--runtime node|bun] — the same HTTP upstream (nginx returning a small body)
// reached (a) directly, (b) through two ztunnels over HBONE mutual TLS, and (c) through two
// haproxy instances doing mutual TLS. BENCH_ROUNDS (default 3) rounds alternate the three paths
// (direct, ztunnels, haproxy, direct, ...) so a drift of the machine hits all of them alike; each
// round runs wrk at 1 connection (latency) and 32 (throughput) for BENCH_SECONDS (default 5) each.
// The `key value` lines at the end are medians over rounds:
//   throughput-vs-haproxy   ztunnels' req/s over haproxy's, c=32
//   added-p90-ms            ztunnels' p90 minus direct's, c=1
//   ztunnel-cpu-vs-haproxy  CPU seconds per request of both ztunnels over that of both haproxy, c=32
//   ztunnel-rss-mb          VmRSS of the larger ztunnel at the end of the run (ztunnel-rss-peak-mb: VmHWM;
//                           ztunnel-rss-anon-mb: RssAnon, its private memory without the runtime's
//                           shared file-backed pages)
// BENCH_CONCURRENCY (default 1): ztunnel --concurrency and haproxy nbthread, so both sides get
// the same number of cores. CPU and memory count every process of a ztunnel (supervisor and
// workers; with several, the VmRSS sum counts the runtime binary's shared pages once per process).
// Under --runtime bun the ztunnels (and weftd) run on Bun and every key gets a `bun-` prefix.
// BENCH_ZTUNNEL_NODE_OPTIONS is handed to the mesh processes as NODE_OPTIONS (profiling, e.g.
// `--import ./bench/lib/cpu-profile.mjs`, which see). Loopback only; every process it starts is stopped on
// the way out, failure and Ctrl-C included.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCa } from '@weft/ca/testing';
import { LocalDriver } from '@weft/e2e';
import { execa } from 'execa';
import { rssMiB } from './lib/procstat.ts';
import { processTree, treeCpuSeconds, treePeakRssMiB, treeRssAnonMiB, treeRssMiB } from './lib/proctree.ts';
import { benchRounds, benchRuntime, benchSeconds, median } from './lib/runtime.ts';
import { ensurePackages, which } from './lib/system.ts';
import { formatTable } from './lib/table.ts';
import { runWrk, type WrkResult } from './lib/wrk.ts';

const rt = benchRuntime();
const SECONDS = benchSeconds();
const ROUNDS = benchRounds();
// Processes (ztunnel --concurrency) and threads (haproxy nbthread) per proxy: like for like.
const CONCURRENCY = benchConcurrency();
const LATENCY_CONNECTIONS = 1;
const THROUGHPUT_CONNECTIONS = 32;
// Addresses of its own (manifests/ambient), so the benchmark can run beside the demo.
const UPSTREAM = '127.0.60.1:8080'; // the upstream pod
const NODES = [
  { name: 'node-a', ip: '127.0.51.1' },
  { name: 'node-b', ip: '127.0.52.1' },
];
const ZTUNNEL_IN = '127.0.52.1:18080'; // node-b's fixed forward, as the client pod
const HAPROXY_IN = '127.0.53.1:18080';
const HAPROXY_TLS = '127.0.53.2:18443';

function benchConcurrency(): number {
  const raw = process.env.BENCH_CONCURRENCY;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`BENCH_CONCURRENCY must be a positive integer, not ${raw}`);
  return n;
}

type PathName = 'direct' | 'ztunnels' | 'haproxy';
interface Cell {
  readonly round: number;
  readonly path: PathName;
  readonly c1: WrkResult;
  readonly c32: WrkResult;
  /** CPU seconds per request of the path's two proxies during the c=32 run (NaN for direct). */
  readonly cpuPerRequest: number;
}

const work = join(process.cwd(), '..', '.weft', `bench-ambient-${rt.name}`);
const children: { kill(): void; done: Promise<unknown>; pid: number | undefined }[] = [];
let driver: LocalDriver | undefined;
let stopping: Promise<void> | undefined;

// Every process of the mesh, launchers' children included: under Bun a launcher shell dies on
// SIGTERM and leaves its runtime behind, still holding the output pipe the driver waits on.
const MESH_PROCESSES = ['weftd', 'ztunnel-node-a', 'ztunnel-node-b'];
let meshProcesses: number[] = [];

/** Still one of ours: running, with this run's directory on its command line (no reused pid). */
const ours = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(work);
  } catch {
    return false;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function stopAll(): Promise<void> {
  stopping ??= (async () => {
    const now = MESH_PROCESSES.map((n) => driver?.pid(n)).filter((p): p is number => p !== undefined);
    const all = [...new Set([...meshProcesses, ...now.flatMap(processTree)])];
    const stopped = driver?.stop().catch(() => undefined);
    for (const pid of all) if (ours(pid)) process.kill(pid, 'SIGTERM');
    await Promise.race([stopped, sleep(10_000)]);
    for (const pid of all) if (ours(pid)) process.kill(pid, 'SIGKILL');
    await Promise.race([stopped, sleep(2_000)]);
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.done));
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench:ambient: ${signal}, stopping what it started\n`);
    void stopAll().then(() => process.exit(130));
  });
}

function spawn(cmd: string, args: string[]): number | undefined {
  const child = execa(cmd, args, { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
  children.push({ kill: () => child.kill('SIGTERM'), done: child.catch(() => undefined), pid: child.pid });
  return child.pid;
}

async function startPeers(): Promise<number[]> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'nginx', 'tmp'), { recursive: true });
  // Upstream: nginx, one worker, a fixed 2-byte body, no logs.
  const nginxConf = join(work, 'nginx', 'nginx.conf');
  const tmp = join(work, 'nginx', 'tmp');
  writeFileSync(
    nginxConf,
    `worker_processes 1;
daemon off;
pid ${join(work, 'nginx', 'nginx.pid')};
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  keepalive_requests 1000000;
  server { listen ${UPSTREAM}; location / { return 200 "ok"; } }
}
`,
  );
  spawn(await which('nginx'), ['-c', nginxConf, '-p', join(work, 'nginx')]);

  // haproxy pair with mutual TLS 1.3, certificates from Weft's CA code (the same RSA-2048 leaves).
  const ca = await createTestCa();
  const pem = async (id: string): Promise<string> => {
    const c = await ca.issue(id);
    return `${c.certChainPem.join('\n')}\n${c.keyPem}`;
  };
  writeFileSync(join(work, 'client.pem'), await pem('spiffe://cluster.local/ns/bench/sa/client'));
  writeFileSync(join(work, 'server.pem'), await pem('spiffe://cluster.local/ns/bench/sa/server'));
  writeFileSync(join(work, 'root.pem'), ca.trustBundlePem);
  const haproxyGlobal = `global
  nbthread ${CONCURRENCY}
  maxconn 8192
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
`;
  writeFileSync(
    join(work, 'haproxy-client.cfg'),
    `${haproxyGlobal}frontend plain
  bind ${HAPROXY_IN}
  default_backend mtls
backend mtls
  server peer ${HAPROXY_TLS} ssl crt ${join(work, 'client.pem')} ca-file ${join(work, 'root.pem')} verify required ssl-min-ver TLSv1.3
`,
  );
  writeFileSync(
    join(work, 'haproxy-server.cfg'),
    `${haproxyGlobal}frontend mtls
  bind ${HAPROXY_TLS} ssl crt ${join(work, 'server.pem')} ca-file ${join(work, 'root.pem')} verify required ssl-min-ver TLSv1.3
  default_backend upstream
backend upstream
  server up ${UPSTREAM}
`,
  );
  const haproxy = await which('haproxy');
  return [
    spawn(haproxy, ['-db', '-f', join(work, 'haproxy-client.cfg')]),
    spawn(haproxy, ['-db', '-f', join(work, 'haproxy-server.cfg')]),
  ].filter((p): p is number => p !== undefined);
}

async function startMesh(): Promise<number[]> {
  // Weft: weftd + two ztunnels, the client pod entering through node-b's fixed forward.
  const profiling = process.env.BENCH_ZTUNNEL_NODE_OPTIONS;
  const savedNodeOptions = process.env.NODE_OPTIONS;
  if (profiling !== undefined && profiling !== '') process.env.NODE_OPTIONS = profiling;
  driver = new LocalDriver({
    workDir: join(work, 'mesh'),
    manifestsDir: join(import.meta.dirname, 'manifests', 'ambient'),
    nodes: NODES,
    xdsAddress: '127.0.50.1:15010',
    adminAddress: '127.0.50.1:15014',
    startWorkloads: false,
    runtime: rt.name,
    ztunnelArgs: (node) => [
      '--log-level',
      'warn',
      '--concurrency',
      String(CONCURRENCY),
      ...(node.name === 'node-b'
        ? ['--forward', '18080=127.0.60.2>upstream.bench.svc.cluster.local:8080']
        : []),
    ],
  });
  try {
    await driver.start();
  } finally {
    if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = savedNodeOptions;
  }
  const d = driver;
  const pids = MESH_PROCESSES.map((n) => {
    const pid = d.pid(n);
    if (pid === undefined) throw new Error(`${n} has no process id`);
    return pid;
  });
  meshProcesses = pids.flatMap(processTree);
  return pids.slice(1);
}

const sumCpu = (pids: readonly number[]): number => pids.reduce((a, p) => a + treeCpuSeconds(p), 0);
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');

let exitCode = 0;
try {
  await ensurePackages(['nginx', 'haproxy', 'wrk']);
  const haproxyPids = await startPeers();
  const ztunnelPids = await startMesh();
  const paths: { name: PathName; url: string; pids: number[] }[] = [
    { name: 'direct', url: `http://${UPSTREAM}/`, pids: [] },
    { name: 'ztunnels', url: `http://${ZTUNNEL_IN}/`, pids: ztunnelPids },
    { name: 'haproxy', url: `http://${HAPROXY_IN}/`, pids: haproxyPids },
  ];
  // Warm up every path (TLS sessions, pools, JIT) before measuring.
  for (const p of paths) await runWrk(p.url, { connections: THROUGHPUT_CONNECTIONS, seconds: 1 });

  const cells: Cell[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of paths) {
      const c1 = await runWrk(p.url, { connections: LATENCY_CONNECTIONS, seconds: SECONDS });
      const cpu0 = sumCpu(p.pids);
      const c32 = await runWrk(p.url, { connections: THROUGHPUT_CONNECTIONS, seconds: SECONDS });
      const cpu = sumCpu(p.pids) - cpu0;
      cells.push({
        round,
        path: p.name,
        c1,
        c32,
        cpuPerRequest: p.pids.length === 0 ? Number.NaN : cpu / c32.requests,
      });
    }
  }

  const of = (path: PathName, round: number): Cell =>
    cells.find((c) => c.path === path && c.round === round) as Cell;
  const rounds = Array.from({ length: ROUNDS }, (_, i) => i + 1);
  const perRound = (f: (r: number) => number): number => median(rounds.map(f));

  console.log(
    `\nambient L4 data path on ${rt.name}, ${ROUNDS} alternating rounds, wrk ${SECONDS} s per cell, upstream nginx (1 worker) on loopback, ${CONCURRENCY} process(es) per ztunnel and thread(s) per haproxy\n`,
  );
  console.log(
    formatTable(
      ['round', 'path', 'c=1 p50/p90/p99 ms', 'c=32 req/s', 'c=32 p90 ms', 'CPU ms / 1k req', 'errors'],
      cells.map((c) => [
        String(c.round),
        c.path,
        `${ms(c.c1.p50)} / ${ms(c.c1.p90)} / ${ms(c.c1.p99)}`,
        Math.round(c.c32.rps),
        ms(c.c32.p90),
        Number.isFinite(c.cpuPerRequest) ? (c.cpuPerRequest * 1e6).toFixed(1) : '-',
        String(c.c1.errors + c.c32.errors),
      ]),
    ),
  );
  console.log('\nmedians over rounds\n');
  console.log(
    formatTable(
      ['path', 'c=1 p50 ms', 'c=1 p90 ms', 'c=1 p99 ms', 'c=32 req/s', 'CPU ms / 1k req'],
      paths.map((p) => {
        const mine = cells.filter((c) => c.path === p.name);
        const cpu = median(mine.map((c) => c.cpuPerRequest));
        return [
          p.name,
          ms(median(mine.map((c) => c.c1.p50))),
          ms(median(mine.map((c) => c.c1.p90))),
          ms(median(mine.map((c) => c.c1.p99))),
          Math.round(median(mine.map((c) => c.c32.rps))),
          Number.isFinite(cpu) ? (cpu * 1e6).toFixed(1) : '-',
        ];
      }),
    ),
  );

  const rssEnd = Math.max(...ztunnelPids.map(treeRssMiB));
  const rssPeak = Math.max(...ztunnelPids.map(treePeakRssMiB));
  const rssAnon = Math.max(...ztunnelPids.map(treeRssAnonMiB));
  const haproxyRss = Math.max(...haproxyPids.map(rssMiB));
  console.log(
    `\nztunnel RSS (larger of the two): ${rssEnd.toFixed(1)} MiB at the end, ${rssPeak.toFixed(1)} MiB peak; haproxy ${haproxyRss.toFixed(1)} MiB\n`,
  );
  const throughput = perRound((r) => of('ztunnels', r).c32.rps / of('haproxy', r).c32.rps);
  const addedP90 = perRound((r) => of('ztunnels', r).c1.p90 - of('direct', r).c1.p90);
  const haproxyAddedP90 = perRound((r) => of('haproxy', r).c1.p90 - of('direct', r).c1.p90);
  const cpuRatio = perRound((r) => of('ztunnels', r).cpuPerRequest / of('haproxy', r).cpuPerRequest);
  console.log(rt.key('throughput-vs-haproxy', throughput.toFixed(2)));
  console.log(rt.key('added-p90-ms', addedP90.toFixed(3)));
  console.log(rt.key('haproxy-added-p90-ms', haproxyAddedP90.toFixed(3)));
  console.log(rt.key('ztunnel-cpu-vs-haproxy', cpuRatio.toFixed(2)));
  console.log(rt.key('ztunnel-rss-mb', rssEnd.toFixed(1)));
  console.log(rt.key('ztunnel-rss-peak-mb', rssPeak.toFixed(1)));
  console.log(rt.key('ztunnel-rss-anon-mb', rssAnon.toFixed(1)));
} catch (err) {
  console.error(`bench:ambient failed: ${(err as Error).stack ?? String(err)}`);
  exitCode = 1;
} finally {
  await stopAll();
}
process.exit(exitCode);
