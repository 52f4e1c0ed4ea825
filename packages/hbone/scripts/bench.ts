// Micro-benchmark of the HBONE data path on loopback: round-trip latency added by a tunnel over
// direct TCP, stream setup on a pooled connection, and bulk throughput. Prints a table.
//   node --conditions=weft-source --import tsx scripts/bench.ts     (or: bun --conditions=weft-source scripts/bench.ts)
import { createServer, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createTestCa } from '@weft/ca/testing';
import { createCertStore, createHboneClient, createHboneServer } from '../src/index.ts';

// Packages may not use console; this script prints its table to stdout.
const print = (line: string) => process.stdout.write(`${line}\n`);

const ROUNDS = Number(process.env.ROUNDS ?? 5000);
const STREAMS = Number(process.env.STREAMS ?? 1000);
const BULK_MB = Number(process.env.BULK_MB ?? 512);

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function pingPong(stream: Duplex, rounds: number): Promise<number[]> {
  const msg = Buffer.alloc(64, 1);
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      const onData = (c: Buffer) => {
        got += c.length;
        if (got >= msg.length) {
          stream.off('data', onData);
          resolve();
        }
      };
      stream.on('data', onData);
      stream.write(msg);
    });
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

const ca = await createTestCa();
const serverId = 'spiffe://cluster.local/ns/bench/sa/server';
const clientId = 'spiffe://cluster.local/ns/bench/sa/client';
const [s, c] = await Promise.all([ca.issue(serverId), ca.issue(clientId)]);
const mat = (x: typeof s) => ({
  keyPem: x.keyPem,
  certChainPem: x.certChainPem,
  trustBundlePem: ca.trustBundlePem,
});

const echo = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
  sock.on('error', () => {});
  sock.pipe(sock);
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
const echoAddr = { ip: '127.0.0.1', port: (echo.address() as { port: number }).port };

const server = createHboneServer({ certs: createCertStore(mat(s)), authorize: () => ({ allow: true }) });
const via = await server.listen({ host: '127.0.0.1', port: 0 });
const client = createHboneClient({ certs: createCertStore(mat(c)) });
const req = { via, dest: echoAddr, expectedIdentity: serverId };

// Warm up: JIT, pooled connection.
{
  const t = await client.connect(req);
  await pingPong(t, 500);
  t.end();
}

const direct: Socket = netConnect({ host: echoAddr.ip, port: echoAddr.port, noDelay: true });
await new Promise((r) => direct.once('connect', r));
await pingPong(direct, 500);
const directRtt = await pingPong(direct, ROUNDS);
direct.destroy();

const tunnel = await client.connect(req);
const tunnelRtt = await pingPong(tunnel, ROUNDS);
tunnel.end();

const setup: number[] = [];
for (let i = 0; i < STREAMS; i++) {
  const t0 = performance.now();
  const t = await client.connect(req);
  setup.push((performance.now() - t0) * 1000);
  t.end();
  t.resume();
}

const bulk = await client.connect(req);
const total = BULK_MB * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 7);
const t0 = performance.now();
await new Promise<void>((resolve) => {
  let back = 0;
  bulk.on('data', (d: Buffer) => {
    back += d.length;
    if (back >= total) resolve();
  });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!bulk.write(chunk)) {
        bulk.once('drain', pump);
        return;
      }
    }
  };
  pump();
});
const secs = (performance.now() - t0) / 1000;
bulk.end();

const row = (name: string, xs: number[]) =>
  `${name.padEnd(34)} ${pct(xs, 50).toFixed(1).padStart(8)} ${pct(xs, 90).toFixed(1).padStart(8)} ${pct(xs, 99).toFixed(1).padStart(8)}`;
const runtime =
  typeof (process.versions as Record<string, string | undefined>).bun === 'string'
    ? `bun ${process.versions.bun}`
    : `node ${process.version}`;
print(`HBONE loopback micro-benchmark (${runtime}, ${ROUNDS} round trips of 64 B, ${STREAMS} stream setups)`);
print(`${'microseconds'.padEnd(34)} ${'p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)}`);
print(row('direct TCP round trip', directRtt));
print(row('HBONE tunnel round trip', tunnelRtt));
print(
  `${'added by the tunnel'.padEnd(34)} ${(pct(tunnelRtt, 50) - pct(directRtt, 50)).toFixed(1).padStart(8)} ${(pct(tunnelRtt, 90) - pct(directRtt, 90)).toFixed(1).padStart(8)} ${(pct(tunnelRtt, 99) - pct(directRtt, 99)).toFixed(1).padStart(8)}`,
);
print(row('new stream on pooled connection', setup));
print(
  `bulk echo through one tunnel: ${BULK_MB} MiB each way in ${secs.toFixed(2)} s = ${(BULK_MB / secs).toFixed(0)} MiB/s`,
);

await client.close({ graceMs: 100 });
await server.close({ graceMs: 100 });
echo.close();
