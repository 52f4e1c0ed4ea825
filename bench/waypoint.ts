// pnpm bench:waypoint — requests/s and CPU of the waypoint's L7 engine against the same upstream
// reached directly and through nginx (one worker) as a reverse proxy.
//
// The upstream is nginx answering a fixed 20-byte body. The engine runs in a child process
// behind its plaintext HTTP/1.1 listener (the waypoint's HBONE/mTLS front is not measured here)
// with a route (prefix match + request header modifier), the default filter chain (trace, rbac,
// route, fault, rewrite, headers, mirror, router) and an ALLOW AuthorizationPolicy on the
// service; access logs off (Istio's default). nginx proxies with upstream keep-alive and sets
// one request header. wrk (1 thread) runs 5 s at 1, 4 and 32 connections per target, loopback only.
//
// Last lines: `waypoint-vs-nginx <ratio>` (requests/s at 32 connections) and
// `waypoint-cpu-per-1k-rps <vCPU>` (engine CPU seconds per second per 1,000 requests/s at 32).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { cpuSeconds, peakRssMiB } from './lib/procstat.ts';
import { formatTable } from './lib/table.ts';
import { runWrk, type WrkResult } from './lib/wrk.ts';

const SECONDS = Number(process.env.SECONDS ?? 5);
const CONNECTIONS = [1, 4, 32];
const VIP = '10.96.0.1';

async function serve(upstreamPort: number): Promise<void> {
  // Child mode: the engine behind a plaintext listener; prints its port.
  const { applyUpdate, batchFromSnapshot, createEngine, listenPlaintext } = await import('@weft/l7');
  const { compile } = await import('@weft/policy');
  const { authorizationPolicy, httpRoute, namespace, pod, service } = await import('@weft/policy/testing');
  const { snapshot, errors } = compile([
    namespace('bench'),
    pod('echo-1', {
      namespace: 'bench',
      ip: '127.0.0.1',
      labels: { app: 'echo' },
      ports: [{ name: 'http', containerPort: upstreamPort }],
    }),
    service('echo', {
      namespace: 'bench',
      clusterIP: VIP,
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    }),
    httpRoute('echo', {
      namespace: 'bench',
      service: 'echo',
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'x-bench', value: 'waypoint' }] },
            },
          ],
          backendRefs: [{ name: 'echo', port: 80 }],
        },
      ],
    }),
    authorizationPolicy('allow-get', {
      namespace: 'bench',
      targetRefs: [{ kind: 'Service', name: 'echo' }],
      rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/*'] } }] }],
    }),
  ]);
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  const engine = createEngine({});
  applyUpdate(engine.store, batchFromSnapshot(snapshot));
  const listener = await listenPlaintext(engine, { protocol: 'http1', destination: { ip: VIP, port: 80 } });
  process.stdout.write(`port ${listener.address.port}\n`);
  // exit cleanly on SIGTERM so `node --cpu-prof` writes its profile
  process.once('SIGTERM', () => process.exit(0));
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

async function ensureTools(): Promise<void> {
  const missing: string[] = [];
  for (const [bin, pkg] of [
    ['nginx', 'nginx'],
    ['wrk', 'wrk'],
  ] as const) {
    const found = await execa('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], {
      reject: false,
    });
    if (found.exitCode !== 0) missing.push(pkg);
  }
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(', ')} with apt-get`);
  await execa('apt-get', ['update'], { stdio: 'inherit' });
  await execa('apt-get', ['install', '-y', ...missing], {
    stdio: 'inherit',
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function nginxBin(): string {
  try {
    readFileSync('/usr/sbin/nginx');
    return '/usr/sbin/nginx';
  } catch {
    return 'nginx';
  }
}

async function startNginx(
  dir: string,
  name: string,
  body: string,
): Promise<{ pid: number; stop: () => Promise<void> }> {
  const prefix = join(dir, name);
  await execa('mkdir', ['-p', prefix]);
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
  const child = spawn(nginxBin(), ['-c', conf, '-p', prefix], { stdio: 'ignore' });
  await sleep(300);
  if (child.exitCode !== null)
    throw new Error(`nginx ${name} exited: ${readFileSync(join(prefix, 'error.log'), 'utf8')}`);
  return {
    pid: child.pid ?? 0,
    stop: async () => {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The master's pid and its workers. */
async function pidsOf(master: number): Promise<number[]> {
  const r = await execa('pgrep', ['-P', String(master)], { reject: false });
  return [master, ...r.stdout.split('\n').filter(Boolean).map(Number)];
}

function cpuOf(pids: readonly number[]): number {
  return pids.reduce((s, p) => {
    try {
      return s + cpuSeconds(p);
    } catch {
      return s;
    }
  }, 0);
}

async function main(): Promise<void> {
  await ensureTools();
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-waypoint-'));
  chmodSync(dir, 0o777);
  const upstreamPort = await freePort();
  const proxyPort = await freePort();
  const upstream = await startNginx(
    dir,
    'upstream',
    `  server { listen 127.0.0.1:${upstreamPort}; location / { return 200 "hello from upstream\\n"; } }`,
  );
  const proxy = await startNginx(
    dir,
    'proxy',
    `  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${proxyPort};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header x-bench nginx; } }`,
  );
  const engine = spawn(
    process.execPath,
    [...process.execArgv, new URL(import.meta.url).pathname, '--serve', String(upstreamPort)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const enginePort = await new Promise<number>((resolve, reject) => {
    let out = '';
    engine.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    engine.once('exit', (code) => reject(new Error(`engine exited with ${code}`)));
  });
  const proxyPids = await pidsOf(proxy.pid);
  const targets: { name: string; port: number; pids: number[] }[] = [
    { name: 'direct (nginx upstream)', port: upstreamPort, pids: [] },
    { name: 'waypoint engine (HTTP/1.1)', port: enginePort, pids: [engine.pid ?? 0] },
    { name: 'nginx proxy (1 worker)', port: proxyPort, pids: proxyPids },
  ];
  console.log(
    `loopback, wrk -t1, ${SECONDS} s per run; load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  // warm up (JIT, connection pools)
  for (const t of targets) await runWrk(`http://127.0.0.1:${t.port}/warmup`, { connections: 8, seconds: 1 });

  const rows: (string | number)[][] = [];
  const at32 = new Map<string, { r: WrkResult; cpu: number }>();
  for (const c of CONNECTIONS) {
    for (const t of targets) {
      const cpu0 = cpuOf(t.pids);
      const r = await runWrk(`http://127.0.0.1:${t.port}/bench/item?id=1`, {
        connections: c,
        seconds: SECONDS,
      });
      const cpu = (cpuOf(t.pids) - cpu0) / r.seconds;
      if (c === 32) at32.set(t.name, { r, cpu });
      rows.push([
        t.name,
        String(c),
        String(Math.round(r.rps)),
        r.p50.toFixed(2),
        r.p99.toFixed(2),
        r.errors,
        t.pids.length === 0 ? '-' : cpu.toFixed(2),
        t.pids.length === 0 || r.rps === 0 ? '-' : ((cpu * 1000) / r.rps).toFixed(3),
      ]);
    }
  }
  console.log(
    formatTable(['target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vCPU', 'vCPU per 1k rps'], rows),
  );
  console.log(`waypoint engine peak RSS: ${peakRssMiB(engine.pid ?? 0).toFixed(0)} MiB`);
  engine.kill('SIGTERM');
  await proxy.stop();
  await upstream.stop();
  const wp = at32.get(targets[1]?.name ?? '');
  const ng = at32.get(targets[2]?.name ?? '');
  const ratio = wp && ng && ng.r.rps > 0 ? wp.r.rps / ng.r.rps : Number.NaN;
  const cpuPer1k = wp && wp.r.rps > 0 ? (wp.cpu * 1000) / wp.r.rps : Number.NaN;
  console.log(`waypoint-vs-nginx ${ratio.toFixed(2)}`);
  console.log(`waypoint-cpu-per-1k-rps ${cpuPer1k.toFixed(3)}`);
}

if (process.argv.includes('--serve')) {
  await serve(Number(process.argv[process.argv.indexOf('--serve') + 1]));
} else {
  await main();
  process.exit(0);
}
