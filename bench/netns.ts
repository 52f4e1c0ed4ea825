// pnpm bench:netns — pod -> pod over the node bridges with real interception, in one run: the same
// call made (a) directly, both pods out of the mesh, (b) in ambient mode, through the client node's
// ztunnel and the server node's ztunnel (in-pod capture, HBONE mutual TLS), and (c) with sidecars,
// through the client pod's sidecar and the server pod's sidecar (capture mode, HBONE mutual TLS).
//
// The e2e tier's netns driver builds the cluster (needs root): nodes and pods are network
// namespaces, pod networking comes from Debian's bridge + host-local CNI plugins with weft-cni
// chained, interception is the node agent's iptables rules. bench/manifests/netns holds three
// pairs of pods, each a client on node-a and a server on node-b, labelled none, ambient and
// sidecar. Each server pod runs nginx (one worker, 2-byte body) in its netns on :8080. The
// driver starts sidecars with a per-request access log; the benchmark restarts them with the same
// flags and the access log off (Istio's default, as bench:sidecar does): no proxy writes a line
// per request (the ztunnels write one per connection). The cluster has its own netns prefix and
// network (address ranges), so it can run beside the e2e tier's.
//
// The load client runs inside the client pod's netns (this file, started with `--load`, through
// `ip netns exec`), so the pod's rules capture it as they would an app: closed loop, keep-alive
// HTTP/1.1, BENCH_CONNECTIONS (default 4) connections to the server pod's IP. Rounds alternate
// the three cells (BENCH_ROUNDS, default 3, of BENCH_SECONDS, default 5), so a noisy machine hurts
// all alike. CPU is read from /proc for the proxies of each cell: both ztunnels (ambient), both
// sidecars (sidecar).
//
// Last lines: `netns-ambient-added-p90-ms <ms>` and `netns-sidecar-added-p90-ms <ms>` (pooled p90
// minus pooled direct p90), `netns-ambient-cpu-per-1k-req <vCPU s>` and
// `netns-sidecar-cpu-per-1k-req <vCPU s>` (both proxies' CPU seconds per 1,000 requests).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const PORT = 8080;
const REPO = join(import.meta.dirname, '..');
const PROXY_UID = 1337; // the uid the pods' rules exempt from capture (the driver's)

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  /** Latencies in ms. */
  readonly latencies: number[];
}

/**
 * Closed-loop keep-alive HTTP/1.1 load: `connections` sockets, each sending the next request when
 * the previous response (Content-Length framed) has fully arrived. Runs in the client pod's netns.
 */
async function load(host: string, port: number, connections: number, seconds: number): Promise<LoadResult> {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: weft-bench\r\n\r\n`);
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      let socket: Socket;
      let buf: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const send = (): void => {
        if (performance.now() >= deadline) {
          socket.destroy();
          resolve();
          return;
        }
        sentAt = performance.now();
        socket.write(request);
      };
      const open = (): void => {
        buf = Buffer.alloc(0);
        socket = connect({ host, port, noDelay: true });
        socket.on('connect', send);
        socket.on('data', (chunk: Buffer) => {
          buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
          for (;;) {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = buf.subarray(0, end).toString('latin1');
            const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
            if (buf.length < end + 4 + len) return;
            if (head.startsWith('HTTP/1.1 200')) latencies.push(performance.now() - sentAt);
            else errors++;
            buf = buf.subarray(end + 4 + len);
            send();
          }
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          if (performance.now() >= deadline) return resolve();
          errors++; // closed by the other side before the end: count it and reconnect
          setTimeout(open, 10);
        });
      };
      open();
    });
  await Promise.all(Array.from({ length: connections }, one));
  return { requests: latencies.length, errors, seconds: (performance.now() - started) / 1000, latencies };
}

// The load client's role: `netns.ts --load <host> <port> <connections> <seconds>`, JSON on stdout.
if (process.argv[2] === '--load') {
  const [host = '', port, conns, secs] = process.argv.slice(3);
  const r = await load(host, Number(port), Number(conns), Number(secs));
  // A pipe takes the write asynchronously: exit once it is flushed, not before.
  const json = JSON.stringify({ ...r, latencies: r.latencies.map((l) => Math.round(l * 1000) / 1000) });
  await new Promise((resolve) => process.stdout.write(json, resolve));
  process.exit(0);
}

if (process.getuid?.() !== 0) {
  console.log('bench:netns skipped: it needs root (network namespaces, iptables)');
  process.exit(0);
}

const { cpuSeconds } = await import('./lib/procstat.ts');
const { ensurePackages, which } = await import('./lib/system.ts');
const { formatTable } = await import('./lib/table.ts');
const { NetnsDriver } = await import('../e2e/src/drivers/netns.ts');
const { underlay, underlayBridge } = await import('../e2e/src/drivers/netns-topology.ts');

await ensurePackages(['nginx']);
// Names and address ranges of its own (the e2e tier uses prefix 'wn', network 0), so the benchmark
// can run beside it.
const PREFIX = 'wb';
const NETWORK = 7;
const work = join(REPO, '.weft', 'bench-netns');
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'nginx', 'tmp'), { recursive: true });
const driver = new NetnsDriver({
  prefix: PREFIX,
  workDir: join(work, 'mesh'),
  manifestsDir: join(import.meta.dirname, 'manifests', 'netns'),
  network: NETWORK,
});

// A cluster of another prefix up on the same network would lose its routes to this one's cleanup.
for (const node of driver.nodes) {
  const r = await execa('ip', ['-o', 'route', 'show', 'exact', node.podCidr4], { reject: false });
  const other = /\bdev (\S+)/.exec(String(r.stdout))?.[1];
  if (other !== undefined && other !== underlayBridge(PREFIX)) {
    console.error(
      `bench:netns: ${node.podCidr4} is routed over ${other}: another netns cluster uses network ${NETWORK}; run the benchmark when it is down`,
    );
    process.exit(1);
  }
}

interface Child {
  readonly pid: number | undefined;
  kill(): void;
  readonly done: Promise<unknown>;
}
const children: Child[] = [];
const spawn = (cmd: string, args: string[]): Child => {
  const child = execa(cmd, args, { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
  const c = { pid: child.pid, kill: () => child.kill('SIGTERM'), done: child.catch(() => undefined) };
  children.push(c);
  return c;
};

async function waitReady(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.done.then(() => {
    exited = true;
  });
  while (Date.now() < deadline && !exited) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url} not ready${exited ? ' (process exited)' : ` after ${timeoutMs} ms`}`);
}

/** Runs the load client inside a pod's netns (captured by its rules) and reads its result. */
async function loadFrom(netns: string, host: string, seconds: number): Promise<LoadResult> {
  const r = await execa(
    'ip',
    [
      'netns',
      'exec',
      netns,
      process.execPath,
      '--conditions=weft-source',
      '--import',
      'tsx',
      join(import.meta.dirname, 'netns.ts'),
      '--load',
      host,
      String(PORT),
      String(CONNECTIONS),
      String(seconds),
    ],
    { cwd: import.meta.dirname, maxBuffer: 1 << 30 },
  );
  return JSON.parse(String(r.stdout)) as LoadResult;
}

const pct = (sorted: Float64Array, p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN);

// Upstream: nginx, one worker, a fixed 2-byte body, no logs, on every address of its pod.
const nginxConf = (name: string): string => {
  const dir = join(work, 'nginx', name);
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  keepalive_requests 1000000;
  server { listen ${PORT}; listen [::]:${PORT}; location / { return 200 "ok"; } }
}
`,
  );
  return conf;
};

const CELLS = ['direct', 'ambient', 'sidecar'] as const;
type Cell = (typeof CELLS)[number];
const CELL_NAMES: Record<Cell, string> = {
  direct: 'direct (no mesh)',
  ambient: 'ambient (ztunnel x2, HBONE mTLS)',
  sidecar: 'sidecar x2 (HBONE mTLS)',
};

let exitCode = 0;
try {
  await driver.start();
  const nginx = await which('nginx');
  for (const cell of CELLS) {
    const server = driver.pod(`${cell}-server`);
    const dir = join(work, 'nginx', cell);
    spawn('ip', ['netns', 'exec', server.netns, nginx, '-c', nginxConf(cell), '-p', dir]);
    // Readiness from the server's node, as a kubelet probes: the node's traffic is not captured.
    const deadline = Date.now() + 10_000;
    while ((await driver.probe(server.name, PORT, '/')) !== 200) {
      if (Date.now() > deadline) throw new Error(`nginx in ${server.name} did not answer`);
      await sleep(100);
    }
  }

  // The sidecars again, as the driver starts them but with no access log.
  const sidecarPids: number[] = [];
  for (const role of ['client', 'server']) {
    const pod = driver.pod(`sidecar-${role}`);
    await driver.stopComponent(pod.name);
    const s = spawn('ip', [
      'netns',
      'exec',
      pod.netns,
      'setpriv',
      `--reuid=${PROXY_UID}`,
      `--regid=${PROXY_UID}`,
      '--clear-groups',
      '--',
      process.execPath,
      join(REPO, 'packages', 'sidecar', 'dist', 'main.js'),
      '--pod',
      `${pod.namespace}/${pod.name}`,
      '--pod-ip',
      pod.ip4,
      '--service-account',
      pod.serviceAccount,
      '--xds-address',
      `${underlay(NETWORK).host4}:15010`,
      '--token-file',
      join(driver.workDir, `${pod.namespace}-${pod.name}.token`),
      '--capture',
      '--log-level',
      'warn',
      '--access-log',
      'off',
    ]);
    await waitReady(`http://${pod.ip4}:15021/healthz/ready`, s);
    if (s.pid === undefined) throw new Error(`${pod.name}'s sidecar has no pid`);
    sidecarPids.push(s.pid);
  }
  const ztunnelPids = ['ztunnel-node-a', 'ztunnel-node-b'].map((n) => driver.appPid(n));
  if (ztunnelPids.some((p) => p === undefined)) throw new Error('a ztunnel has no pid');
  const proxies: Record<Cell, number[]> = {
    direct: [],
    ambient: ztunnelPids as number[],
    sidecar: sidecarPids,
  };

  const target = (cell: Cell) => ({
    netns: driver.pod(`${cell}-client`).netns,
    host: driver.pod(`${cell}-server`).ip4,
  });
  // Warm up every path (certificates, HBONE pools, JIT) before measuring.
  for (const cell of CELLS) {
    const t = target(cell);
    const w = await loadFrom(t.netns, t.host, 2);
    if (w.requests === 0) throw new Error(`${cell}: no request succeeded while warming up`);
  }

  const load0 = loadavg()[0] ?? 0;
  const rows: (string | number)[][] = [];
  const pooled = new Map<
    Cell,
    { lat: number[][]; requests: number; seconds: number; errors: number; cpu: number[] }
  >();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const cell of CELLS) {
      const t = target(cell);
      const pids = proxies[cell];
      const before = pids.map(cpuSeconds);
      const r = await loadFrom(t.netns, t.host, SECONDS);
      const used = pids.map((p, i) => cpuSeconds(p) - (before[i] ?? 0));
      const acc = pooled.get(cell) ?? { lat: [], requests: 0, seconds: 0, errors: 0, cpu: pids.map(() => 0) };
      acc.lat.push(r.latencies);
      acc.requests += r.requests;
      acc.seconds += r.seconds;
      acc.errors += r.errors;
      acc.cpu = acc.cpu.map((c, i) => c + (used[i] ?? 0));
      pooled.set(cell, acc);
      const sorted = Float64Array.from(r.latencies).sort();
      rows.push([
        String(round),
        CELL_NAMES[cell],
        Math.round(r.requests / r.seconds),
        pct(sorted, 50),
        pct(sorted, 90),
        pct(sorted, 99),
        pids.length ? used.map((u) => (u / r.seconds).toFixed(2)).join(' / ') : '-',
        pids.length ? ((used.reduce((a, b) => a + b, 0) / r.requests) * 1000).toFixed(3) : '-',
        String(r.errors),
      ]);
    }
  }
  const all = new Map(
    [...pooled].map(([cell, a]) => {
      const lat = Float64Array.from(a.lat.flat()).sort();
      const cpu = a.cpu.reduce((x, y) => x + y, 0);
      return [cell, { ...a, lat, per1k: (cpu / a.requests) * 1000 }] as const;
    }),
  );
  for (const [cell, a] of all)
    rows.push([
      'all',
      CELL_NAMES[cell],
      Math.round(a.requests / a.seconds),
      pct(a.lat, 50),
      pct(a.lat, 90),
      pct(a.lat, 99),
      a.cpu.length ? a.cpu.map((c) => (c / a.seconds).toFixed(2)).join(' / ') : '-',
      a.cpu.length ? a.per1k.toFixed(3) : '-',
      String(a.errors),
    ]);

  console.log(
    `\npod -> pod over the node bridges (client on node-a, server nginx, 1 worker, on node-b), real interception; ${ROUNDS} alternating rounds of ${SECONDS} s per cell, ${CONNECTIONS} connections (closed loop) from inside the client pod's netns; load average ${load0.toFixed(1)} before\n`,
  );
  console.log(
    formatTable(
      [
        'round',
        'path',
        'req/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'vCPU client-side / server-side proxy',
        'proxy CPU s per 1k req',
        'errors',
      ],
      rows,
    ),
  );
  const get = (cell: Cell) => {
    const a = all.get(cell);
    if (a === undefined) throw new Error(`no result for ${cell}`);
    return a;
  };
  const direct = get('direct');
  const added = (cell: Cell): string => (pct(get(cell).lat, 90) - pct(direct.lat, 90)).toFixed(3);
  console.log('');
  console.log(`netns-ambient-added-p90-ms ${added('ambient')}`);
  console.log(`netns-sidecar-added-p90-ms ${added('sidecar')}`);
  console.log(`netns-ambient-cpu-per-1k-req ${get('ambient').per1k.toFixed(3)}`);
  console.log(`netns-sidecar-cpu-per-1k-req ${get('sidecar').per1k.toFixed(3)}`);
} catch (err) {
  console.error(`bench:netns failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
  await driver.stop();
}
process.exit(exitCode);
