// pnpm bench:ambient — one run, side by side, the same HTTP upstream (nginx returning a small
// body) reached (a) directly, (b) through two ztunnels over HBONE mutual TLS, and (c) through two
// haproxy instances doing mutual TLS. wrk at 1 and 4 connections for latency, 32 for throughput.
// Loopback only, bounded: 9 wrk runs of BENCH_SECONDS (default 5) each.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCa } from '@weft/ca/testing';
import { LocalDriver } from '@weft/e2e';
import { execa } from 'execa';
import { cpuSeconds, peakRssMiB } from './lib/procstat.ts';
import { ensurePackages, which } from './lib/system.ts';
import { formatTable } from './lib/table.ts';
import { runWrk, type WrkResult } from './lib/wrk.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
// Addresses of its own (manifests/ambient), so the benchmark can run beside the demo.
const UPSTREAM = '127.0.60.1:8080'; // the upstream pod
const NODES = [
  { name: 'node-a', ip: '127.0.51.1' },
  { name: 'node-b', ip: '127.0.52.1' },
];
const ZTUNNEL_IN = '127.0.52.1:18080'; // node-b's fixed forward, as the client pod
const HAPROXY_IN = '127.0.53.1:18080';
const HAPROXY_TLS = '127.0.53.2:18443';

await ensurePackages(['nginx', 'haproxy', 'wrk']);
const work = join(process.cwd(), '..', '.weft', 'bench-ambient');
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'nginx', 'tmp'), { recursive: true });

const children: { kill(): void; done: Promise<unknown> }[] = [];
const spawn = (cmd: string, args: string[]): void => {
  const child = execa(cmd, args, { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
  children.push({ kill: () => child.kill('SIGTERM'), done: child.catch(() => undefined) });
};

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
  nbthread 1
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
spawn(haproxy, ['-db', '-f', join(work, 'haproxy-client.cfg')]);
spawn(haproxy, ['-db', '-f', join(work, 'haproxy-server.cfg')]);

// Weft: weftd + two ztunnels (built dist), the client pod entering through a fixed forward.
const driver = new LocalDriver({
  workDir: join(work, 'mesh'),
  manifestsDir: join(import.meta.dirname, 'manifests', 'ambient'),
  nodes: NODES,
  xdsAddress: '127.0.50.1:15010',
  adminAddress: '127.0.50.1:15014',
  startWorkloads: false,
  ztunnelArgs: (node) => [
    '--log-level',
    'warn',
    ...(node.name === 'node-b'
      ? ['--forward', '18080=127.0.60.2>upstream.bench.svc.cluster.local:8080']
      : []),
  ],
});

let exitCode = 0;
try {
  await driver.start();
  const targets = [
    { name: 'direct', url: `http://${UPSTREAM}/` },
    { name: 'ztunnel x2 (HBONE mTLS)', url: `http://${ZTUNNEL_IN}/` },
    { name: 'haproxy x2 (mTLS)', url: `http://${HAPROXY_IN}/` },
  ];
  // Warm up every path (TLS sessions, pools, JIT) before measuring.
  for (const t of targets) await runWrk(t.url, { connections: 4, seconds: 1 });

  const zpids = ['ztunnel-node-a', 'ztunnel-node-b']
    .map((n) => driver.pid(n))
    .filter((p): p is number => p !== undefined);
  const results = new Map<string, Map<number, WrkResult>>();
  let ztunnelCpuPer1k = Number.NaN;
  for (const t of targets) {
    const byConn = new Map<number, WrkResult>();
    for (const connections of [1, 4, 32]) {
      const cpu0 = zpids.reduce((a, p) => a + cpuSeconds(p), 0);
      const r = await runWrk(t.url, { connections, seconds: SECONDS });
      const cpu1 = zpids.reduce((a, p) => a + cpuSeconds(p), 0);
      if (t.name.startsWith('ztunnel') && connections === 32)
        ztunnelCpuPer1k = ((cpu1 - cpu0) / r.requests) * 1000;
      byConn.set(connections, r);
    }
    results.set(t.name, byConn);
  }

  const rows = targets.map((t) => {
    const r = results.get(t.name) as Map<number, WrkResult>;
    const c1 = r.get(1) as WrkResult;
    const c4 = r.get(4) as WrkResult;
    const c32 = r.get(32) as WrkResult;
    return [
      t.name,
      `${c1.p50.toFixed(3)} / ${c1.p90.toFixed(3)} / ${c1.p99.toFixed(3)}`,
      `${c4.p50.toFixed(3)} / ${c4.p90.toFixed(3)} / ${c4.p99.toFixed(3)}`,
      Math.round(c32.rps),
      String(c1.errors + c4.errors + c32.errors),
    ];
  });
  console.log(`\nambient L4 data path, wrk ${SECONDS} s per cell, upstream nginx (1 worker) on loopback\n`);
  console.log(
    formatTable(['path', 'c=1 p50/p90/p99 ms', 'c=4 p50/p90/p99 ms', 'c=32 req/s', 'errors'], rows),
  );
  const rss = Math.max(...zpids.map((p) => peakRssMiB(p)));
  console.log(
    `\nztunnel CPU per 1,000 requests (both nodes, c=32): ${(ztunnelCpuPer1k * 1000).toFixed(1)} ms`,
  );
  console.log(`ztunnel peak RSS (largest of the two): ${rss.toFixed(1)} MiB`);
  const direct = results.get('direct') as Map<number, WrkResult>;
  const zt = results.get('ztunnel x2 (HBONE mTLS)') as Map<number, WrkResult>;
  const hap = results.get('haproxy x2 (mTLS)') as Map<number, WrkResult>;
  const addedP90 = (zt.get(4) as WrkResult).p90 - (direct.get(4) as WrkResult).p90;
  const ratio = (zt.get(32) as WrkResult).rps / (hap.get(32) as WrkResult).rps;
  console.log(`added-p90-ms ${addedP90.toFixed(3)}`);
  console.log(`throughput-vs-haproxy ${ratio.toFixed(2)}`);
} catch (err) {
  console.error(`bench:ambient failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await driver.stop();
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.done));
}
process.exit(exitCode);
