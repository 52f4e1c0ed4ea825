// pnpm bench:sidecar — what two Weft sidecars add to a call, against the same call made directly,
// in the same run: client -> client pod's sidecar -> HBONE mutual TLS -> server pod's sidecar ->
// server, as in Istio's sidecar mode.
//
// weftd (local mode, a folder of manifests: bench/manifests/sidecar) issues both sidecars their
// certificates and config over xDS. The server pod (127.0.82.2) runs nginx (one worker, 2-byte
// body) behind its sidecar; the client pod's sidecar (127.0.81.2) sends its outbound listener
// (:15001) to the server's Service. Both sidecars run the built binary (packages/sidecar/dist)
// with access logs off (Istio's default).
//
// The load client is the bench's own (keep-alive HTTP/1.1 over raw sockets, closed loop): a
// sidecar serves only its own pod's app, so calls must come from the client pod's address, and
// wrk cannot bind a source address. The same client, from the same address, measures every path.
// Each round runs the cells in turn: direct, then the sidecars with each worker count of
// BENCH_WORKERS (default "1,2": both sidecars restarted with --concurrency 1, then 2), so a noisy
// machine hurts every cell alike. BENCH_ROUNDS (default 3) rounds of BENCH_SECONDS (default 5) at
// BENCH_CONNECTIONS (default 4). `--runtime bun` runs the sidecars on Bun and prefixes the keys
// with `bun-`. CPU and memory cover each sidecar's whole process tree. Loopback only.
//
// Last lines: `sidecar-added-p90-ms <ms>` (pooled p90 through the sidecars minus pooled p90
// direct), `sidecar-cpu-per-1k-rps <vCPU>` (the busier sidecar's CPU per 1,000 req/s through it),
// `sidecar-rss-mb <MiB>` (the larger sidecar's resident set at the end), all for the first worker
// count, and `sidecar-rps-2-vs-1-workers <ratio>` (throughput with 2 workers over 1).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { cpuSeconds, peakRssMiB, rssMiB } from './lib/procstat.ts';
import { benchRounds, benchRuntime, benchSeconds } from './lib/runtime.ts';
import { ensurePackages, which } from './lib/system.ts';
import { formatTable } from './lib/table.ts';

const runtime = benchRuntime();
const SECONDS = benchSeconds();
const ROUNDS = benchRounds();
// Worker counts to compare (--concurrency of both sidecars); the first is the headline.
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2').split(',').map((w) => {
  const n = Number(w);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new Error(`BENCH_WORKERS: ${JSON.stringify(w)} is not a worker count`);
  return n;
});
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);

const XDS = '127.0.80.1:15010';
const ADMIN = '127.0.80.1:15014';
const CLIENT_IP = '127.0.81.2'; // the client pod; its sidecar listens here
const SERVER_IP = '127.0.82.2'; // the server pod; nginx on :8080, its sidecar's HBONE on :15008
const SERVICE = 'server.bench.svc.cluster.local:8080';
const REPO = join(import.meta.dirname, '..');

await ensurePackages(['nginx']);
const work = join(REPO, '.weft', 'bench-sidecar');
rmSync(work, { recursive: true, force: true });
for (const d of ['config', 'ca', join('nginx', 'tmp')]) mkdirSync(join(work, d), { recursive: true });

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

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latencies in ms, sorted. */
  readonly latencies: Float64Array;
}

/**
 * Closed-loop keep-alive HTTP/1.1 load from the client pod's address: `connections` sockets,
 * each sending the next request when the previous response (Content-Length framed) has fully arrived.
 */
async function load(host: string, port: number, connections: number, seconds: number): Promise<LoadResult> {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${SERVICE}\r\nUser-Agent: weft-bench\r\n\r\n`);
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
        socket = connect({ host, port, localAddress: CLIENT_IP, noDelay: true });
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
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: sorted.length,
    errors,
    seconds: elapsed,
    rps: sorted.length / elapsed,
    latencies: sorted,
  };
}

const pct = (sorted: Float64Array, p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN);

// Upstream: nginx, one worker, a fixed 2-byte body, no logs, on the server pod's address.
const nginxDir = join(work, 'nginx');
const tmp = join(nginxDir, 'tmp');
writeFileSync(
  join(nginxDir, 'nginx.conf'),
  `worker_processes 1;
daemon off;
pid ${join(nginxDir, 'nginx.pid')};
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  keepalive_requests 1000000;
  server { listen ${SERVER_IP}:8080; location / { return 200 "ok"; } }
}
`,
);

// weftd: the manifests, one token per sidecar pod (its service account), a CA of its own.
writeFileSync(
  join(work, 'config', 'mesh.yaml'),
  readFileSync(join(import.meta.dirname, 'manifests', 'sidecar', 'mesh.yaml')),
);
const pods = [
  { name: 'client', ip: CLIENT_IP, token: 'bench-sidecar-client-token' },
  { name: 'server', ip: SERVER_IP, token: 'bench-sidecar-server-token' },
];
writeFileSync(join(work, 'tokens.txt'), `${pods.map((p) => `${p.token} bench ${p.name}`).join('\n')}\n`, {
  mode: 0o600,
});
for (const p of pods) writeFileSync(join(work, `${p.name}.token`), `${p.token}\n`, { mode: 0o600 });

const dist = (pkg: string): string => join(REPO, pkg, 'dist', 'main.js');
// Node runs the built binary (as deployed); Bun runs the TypeScript source.
const sidecarMain =
  runtime.name === 'bun' ? join(REPO, 'packages', 'sidecar', 'src', 'main.ts') : dist('packages/sidecar');

let exitCode = 0;
try {
  const nginx = spawn(await which('nginx'), ['-c', join(nginxDir, 'nginx.conf'), '-p', nginxDir]);
  const weftd = spawn(process.execPath, [
    dist('apps/control-plane'),
    '--config-dir',
    join(work, 'config'),
    '--xds-address',
    XDS,
    '--admin-address',
    ADMIN,
    '--xds-tls-address',
    'off',
    '--injection-address',
    'off',
    '--token-file',
    join(work, 'tokens.txt'),
    '--ca-dir',
    join(work, 'ca'),
    '--log-level',
    'warn',
  ]);
  await waitReady(`http://${ADMIN}/healthz/ready`, weftd);
  // Sidecars are (re)started per cell, with the cell's worker count (--concurrency).
  let sidecars: Child[] = [];
  const startSidecars = async (workers: number): Promise<number[]> => {
    await stopSidecars();
    sidecars = pods.map((p) => {
      const args = [
        '--pod',
        `bench/${p.name}`,
        '--pod-ip',
        p.ip,
        '--service-account',
        p.name,
        '--xds-address',
        XDS,
        '--token-file',
        join(work, `${p.name}.token`),
        '--log-level',
        'warn',
        '--access-log',
        'off',
        '--concurrency',
        String(workers),
        ...(p.name === 'client' ? ['--outbound-target', SERVICE] : []),
      ];
      if (runtime.name === 'node') return spawn(process.execPath, [sidecarMain, ...args]);
      const bun = runtime.command(sidecarMain, args);
      return spawn(bun.cmd, bun.args);
    });
    await Promise.all(
      pods.map((p, i) => waitReady(`http://${p.ip}:15021/healthz/ready`, sidecars[i] as Child)),
    );
    const pids = sidecars.map((c) => c.pid).filter((p): p is number => p !== undefined);
    if (pids.length !== 2) throw new Error('a sidecar has no pid');
    // Warm up (TLS sessions, HBONE pool, JIT) before measuring.
    const w = await load(CLIENT_IP, 15001, CONNECTIONS, 2);
    if (w.requests === 0)
      throw new Error(`sidecars with ${workers} worker(s): no request succeeded while warming up`);
    return pids;
  };
  const stopSidecars = async (): Promise<void> => {
    for (const c of sidecars) c.kill();
    await Promise.all(sidecars.map((c) => c.done));
    sidecars = [];
  };
  await waitReady(`http://${SERVER_IP}:8080/`, nginx);

  const cellName = (workers: number): string =>
    `sidecar x2 (HBONE mTLS), ${workers} worker${workers > 1 ? 's' : ''} each`;
  const warm = await load(SERVER_IP, 8080, CONNECTIONS, 1);
  if (warm.requests === 0) throw new Error('direct: no request succeeded while warming up');

  const load0 = loadavg()[0] ?? 0;
  const rows: (string | number)[][] = [];
  const pooled = new Map<
    string,
    {
      lat: Float64Array[];
      requests: number;
      seconds: number;
      errors: number;
      cpu: number[];
      rss: number[];
      peak: number[];
    }
  >();
  for (let round = 1; round <= ROUNDS; round++) {
    const cells: Array<{ name: string; workers: number }> = [{ name: 'direct', workers: 0 }];
    for (const w of WORKERS) cells.push({ name: cellName(w), workers: w });
    for (const cell of cells) {
      const pids = cell.workers > 0 ? await startSidecars(cell.workers) : [];
      const before = pids.map(cpuSeconds);
      const r =
        cell.workers > 0
          ? await load(CLIENT_IP, 15001, CONNECTIONS, SECONDS)
          : await load(SERVER_IP, 8080, CONNECTIONS, SECONDS);
      const used = pids.map((p, i) => cpuSeconds(p) - (before[i] ?? 0));
      const acc = pooled.get(cell.name) ?? {
        lat: [],
        requests: 0,
        seconds: 0,
        errors: 0,
        cpu: [0, 0],
        rss: [0, 0],
        peak: [0, 0],
      };
      acc.lat.push(r.latencies);
      acc.requests += r.requests;
      acc.seconds += r.seconds;
      acc.errors += r.errors;
      used.forEach((u, i) => {
        acc.cpu[i] = (acc.cpu[i] ?? 0) + u;
      });
      // Memory at the end of this cell's run (each cell starts fresh sidecars): keep the largest.
      pids.forEach((p, i) => {
        acc.rss[i] = Math.max(acc.rss[i] ?? 0, rssMiB(p));
        acc.peak[i] = Math.max(acc.peak[i] ?? 0, peakRssMiB(p));
      });
      pooled.set(cell.name, acc);
      const [c = 0, sv = 0] = used.map((u) => u / r.seconds);
      rows.push([
        String(round),
        cell.name,
        Math.round(r.rps),
        r.latencies.length ? pct(r.latencies, 50) : Number.NaN,
        pct(r.latencies, 90),
        pct(r.latencies, 99),
        cell.workers > 0 ? `${c.toFixed(2)} / ${sv.toFixed(2)}` : '-',
        String(r.errors),
      ]);
      if (cell.workers > 0) await stopSidecars();
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
      return [name, { ...a, lat, rps: a.requests / a.seconds }];
    }),
  );
  for (const [name, a] of all) {
    const vcpu =
      name === 'direct'
        ? '-'
        : `${((a.cpu[0] ?? 0) / a.seconds).toFixed(2)} / ${((a.cpu[1] ?? 0) / a.seconds).toFixed(2)}`;
    rows.push([
      'all',
      name,
      Math.round(a.rps),
      pct(a.lat, 50),
      pct(a.lat, 90),
      pct(a.lat, 99),
      vcpu,
      String(a.errors),
    ]);
  }

  console.log(
    `\nsidecar data path on ${runtime.name}, ${ROUNDS} alternating rounds of ${SECONDS} s per cell, ${CONNECTIONS} connections (closed loop), upstream nginx (1 worker) on loopback; sidecars restarted per cell with --concurrency ${WORKERS.join(' / ')}; ${availableParallelism()} cores; load average ${load0.toFixed(1)} before\n`,
  );
  console.log(
    formatTable(
      ['round', 'path', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'vCPU client / server sidecar', 'errors'],
      rows,
    ),
  );
  const direct = all.get('direct');
  if (direct === undefined) throw new Error('missing results');
  const headline = all.get(cellName(WORKERS[0] as number));
  if (headline === undefined) throw new Error('missing results');
  for (const w of WORKERS) {
    const a = all.get(cellName(w));
    if (a === undefined) continue;
    const per1k = a.cpu.map((c) => (c / a.requests) * 1000);
    console.log(
      `\n${w} worker(s): CPU per 1,000 req/s through it: client sidecar ${(per1k[0] ?? 0).toFixed(3)} vCPU, server sidecar ${(per1k[1] ?? 0).toFixed(3)} vCPU; RSS at the end (all processes of a sidecar): ${(a.rss[0] ?? 0).toFixed(1)} / ${(a.rss[1] ?? 0).toFixed(1)} MiB (peaks ${(a.peak[0] ?? 0).toFixed(1)} / ${(a.peak[1] ?? 0).toFixed(1)} MiB)`,
    );
  }
  const per1k = headline.cpu.map((c) => (c / headline.requests) * 1000);
  console.log('');
  console.log(runtime.key('sidecar-added-p90-ms', (pct(headline.lat, 90) - pct(direct.lat, 90)).toFixed(3)));
  console.log(runtime.key('sidecar-cpu-per-1k-rps', Math.max(...per1k).toFixed(3)));
  console.log(runtime.key('sidecar-rss-mb', Math.max(...headline.rss).toFixed(1)));
  const two = all.get(cellName(2));
  const one = all.get(cellName(1));
  if (one !== undefined && two !== undefined) {
    console.log(runtime.key('sidecar-rps-2-vs-1-workers', (two.rps / one.rps).toFixed(2)));
  }
} catch (err) {
  console.error(`bench:sidecar failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  // Sidecars first (they would log weftd's going), then weftd and nginx.
  for (const group of [children.slice(2), children.slice(0, 2)]) {
    for (const c of group) c.kill();
    await Promise.all(group.map((c) => c.done));
  }
}
process.exit(exitCode);
