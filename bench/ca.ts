// pnpm bench:ca — certificates issued per second over gRPC on loopback.
// 1. signing backends compared in-process (forge-built TBSCertificate, signed by forge vs node:crypto);
// 2. a CA server on 127.0.0.1 and a client firing REQUESTS CSRs with CONCURRENCY calls in flight.
// Key generation and CSR building happen before the clock starts.
import { availableParallelism, loadavg } from 'node:os';
import { createCertificateAuthority, createCsr, generateRsaKeyPair, type KeyPairPem } from '@weft/ca';
import { createCaClient } from '@weft/ca/client';
import { createCaServer, createStaticTokenAuthenticator } from '@weft/ca/server';

const REQUESTS = Number(process.env.REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const KEYS = Number(process.env.KEYS ?? 64);
const TOKEN = 'bench-token-0123456789abcdef';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

function table(rows: (string | number)[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length))) ?? [];
  for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join('  '));
}

const t0 = performance.now();
const keys: KeyPairPem[] = await Promise.all(Array.from({ length: KEYS }, () => generateRsaKeyPair()));
// Distinct CSRs: the (ignored) SAN hint differs per request.
const csrs = Array.from({ length: REQUESTS }, (_, i) =>
  createCsr(keys[i % KEYS] as KeyPairPem, { spiffeId: `spiffe://cluster.local/ns/bench/sa/w${i}` }),
);
console.log(
  `setup: ${KEYS} RSA-2048 keys, ${REQUESTS} CSRs in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

// 1. Signing backends, in-process, one at a time.
const signing: (string | number)[][] = [['backend', 'certs', 'ms/cert', 'certs/s']];
for (const [backend, n] of [
  ['forge', 40],
  ['native', 400],
] as const) {
  const ca = await createCertificateAuthority({ signatureBackend: backend });
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const r = await ca.issue({
      csrPem: csrs[i] as string,
      identity: { namespace: 'bench', serviceAccount: 'w' },
    });
    if (!r.ok) throw new Error(r.error.message);
  }
  const ms = (performance.now() - start) / n;
  signing.push([backend, n, ms.toFixed(2), Math.round(1000 / ms)]);
}
console.log('\nsigning, sequential, in-process (CSR check + forge TBS + signature):');
table(signing);

// 2. Over gRPC.
const server = await createCaServer({
  authenticators: [await createStaticTokenAuthenticator({ text: `${TOKEN} bench w` })],
});
const client = createCaClient({ address: server.address, token: () => TOKEN });
// Warm up the connection and JIT.
for (let i = 0; i < 50; i++) await client.createCertificate({ csr: csrs[i] as string });

const latencies: number[] = [];
let errors = 0;
let next = 0;
const load = loadavg();
const cpu0 = process.cpuUsage();
const start = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < REQUESTS; i = next++) {
      const t = performance.now();
      const r = await client.createCertificate({ csr: csrs[i] as string });
      latencies.push(performance.now() - t);
      if (!r.ok) errors++;
    }
  }),
);
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpu0);
// Process CPU (main thread + signing threads) per certificate: less sensitive to other load than certs/s.
const cpuMs = (cpu.user + cpu.system) / 1000 / REQUESTS;
client.close();
await server.close();
latencies.sort((a, b) => a - b);
const rate = Math.round((REQUESTS - errors) / seconds);
console.log('\ngRPC CreateCertificate on 127.0.0.1 (server and client in one process):');
table([
  ['requests', 'concurrency', 'errors', 'seconds', 'p50 ms', 'p99 ms', 'cpu ms/cert', 'certs/s'],
  [
    REQUESTS,
    CONCURRENCY,
    errors,
    seconds.toFixed(2),
    pct(latencies, 50).toFixed(1),
    pct(latencies, 99).toFixed(1),
    cpuMs.toFixed(2),
    rate,
  ],
]);
console.log(
  `load average before the run: ${load.map((l) => l.toFixed(2)).join(' ')} on ${availableParallelism()} CPUs`,
);
console.log(`certs/s ${rate}`);
