// Delta xDS fan-out: N delta clients in this process, over loopback, all subscribed to the same
// W workloads. Measures time to full sync, then how long one changed workload takes to reach
// every client. The server runs on the main thread; the clients run in worker threads of the
// same process (default 2), so clients and server share the machine's cores: on a 2-core
// machine every client's decode competes with the server's sends. Before that, one client's
// own work per resource (decode + validate + apply, no sockets) is timed on the main thread.
// Usage: pnpm bench:xds [--clients 1000] [--workloads 10000] [--updates 5] [--workers 2]
//                       [--runtime node|bun] [--decoder inplace|generated]
// Prints `key value` lines: xds-client-us-per-resource, full-sync-ms, full-sync-cpu-s,
// update-p99-ms (the worst of the updates' p99s), prefixed `bun-` under --runtime bun.
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  Worker,
  workerData,
} from 'node:worker_threads';
import {
  createAdsServer,
  createDeltaAdsClient,
  type DeltaAdsClient,
  type DeltaAdsHandler,
  listenAds,
  ResourceCache,
  type ResourceTypeConfig,
  type UpdateBatch,
  validateWeft,
  Workload,
  weftResource,
  weftResourceType,
} from '@weft/xds-protocol';
import { testWorkload } from '@weft/xds-protocol/testing';
import { rssMiB } from './lib/procstat.ts';
import { benchRounds, benchRuntime } from './lib/runtime.ts';
import { threadCpuSeconds } from './lib/thread-cpu.ts';
import { clientLoop, fullSyncResponses } from './lib/xds-client-loop.ts';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

/** `inplace`: the client's default Workload decoder; `generated`: ts-proto's, for comparison. */
type DecoderChoice = 'inplace' | 'generated';

interface WorkerConfig {
  decoder: DecoderChoice;
  address: string;
  first: number;
  count: number;
  workloads: number;
}

type ToWorker = { kind: 'connect' } | { kind: 'watch'; name: string; version: string } | { kind: 'stop' };
type FromWorker =
  | { kind: 'booted' }
  | { kind: 'full'; at: number; cpuS: number }
  | { kind: 'arrived'; times: number[] }
  | { kind: 'stats'; decoded: number; rejected: number };

/** Wall-clock ms comparable across threads. */
const now = () => performance.timeOrigin + performance.now();

function workload(i: number, generation: number) {
  const ip = new Uint8Array([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]);
  return weftResource(
    'workload',
    testWorkload(`wl-${i}`, {
      namespace: `ns-${i % 50}`,
      node: `node-${i % 100}`,
      addresses: [ip],
      labels: { app: `app-${i % 500}`, version: `v${generation}` },
    }),
  );
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/**
 * The Workload type config a client subscribes with. `generated` decodes each resource with the
 * generated `Workload.decode` from a view of its bytes, then the same checks: the client path
 * before the in-place decoder, kept to compare both on one machine under one load.
 */
function workloadType(decoder: DecoderChoice): ResourceTypeConfig {
  const inPlace = weftResourceType('workload');
  if (decoder === 'inplace') return inPlace;
  return {
    typeUrl: inPlace.typeUrl,
    decode: (bytes, name) => {
      let w: Workload;
      try {
        w = Workload.decode(bytes);
      } catch (err) {
        return { ok: false, error: `malformed: ${err instanceof Error ? err.message : String(err)}` };
      }
      const problem = validateWeft.workload(w);
      if (problem !== undefined) return { ok: false, error: problem };
      return w.uid === name ? { ok: true, value: w } : { ok: false, error: `name: ${w.uid} sent as ${name}` };
    },
  };
}

/** Counts what a client received and when a watched resource version arrived. */
class BenchHandler implements DeltaAdsHandler {
  received = 0;
  watch = '';
  watchVersion = '';
  arrivedAt = 0;
  readonly #total: number;
  readonly #onFull: () => void;
  readonly #onArrived: () => void;
  constructor(total: number, onFull: () => void, onArrived: () => void) {
    this.#total = total;
    this.#onFull = onFull;
    this.#onArrived = onArrived;
  }
  applyUpdate(batch: UpdateBatch): void {
    const before = this.received;
    this.received += batch.upserts.length;
    if (before < this.#total && this.received >= this.#total) this.#onFull();
    if (this.watch === '' || this.arrivedAt !== 0) return;
    for (const u of batch.upserts) {
      if (u.name === this.watch && u.version === this.watchVersion) {
        this.arrivedAt = now();
        this.#onArrived();
      }
    }
  }
}

function runClients(config: WorkerConfig, port: MessagePort): void {
  let full = 0;
  let arrived = 0;
  const handlers: BenchHandler[] = [];
  const clients: DeltaAdsClient[] = [];
  let cpuAtConnect = 0;
  const onFull = () => {
    if (++full === config.count) {
      const cpuS = threadCpuSeconds() - cpuAtConnect;
      port.postMessage({ kind: 'full', at: now(), cpuS } satisfies FromWorker);
    }
  };
  const onArrived = () => {
    if (++arrived === config.count) {
      port.postMessage({ kind: 'arrived', times: handlers.map((h) => h.arrivedAt) } satisfies FromWorker);
    }
  };
  const connect = () => {
    cpuAtConnect = threadCpuSeconds();
    for (let i = 0; i < config.count; i++) {
      const handler = new BenchHandler(config.workloads, onFull, onArrived);
      handlers.push(handler);
      clients.push(
        createDeltaAdsClient({
          target: config.address,
          node: { id: `ztunnel~bench-${config.first + i}` },
          types: [workloadType(config.decoder)],
          handler,
        }),
      );
    }
  };
  port.postMessage({ kind: 'booted' } satisfies FromWorker);
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'connect') return connect();
    if (m.kind === 'watch') {
      arrived = 0;
      for (const h of handlers) {
        h.watch = m.name;
        h.watchVersion = m.version;
        h.arrivedAt = 0;
      }
      return;
    }
    let decoded = 0;
    let rejected = 0;
    for (const c of clients) {
      decoded += c.stats().resourcesApplied;
      rejected += c.stats().resourcesRejected;
      c.close();
    }
    port.postMessage({ kind: 'stats', decoded, rejected } satisfies FromWorker);
    port.close();
  });
}

async function main(): Promise<void> {
  const runtime = benchRuntime();
  if (runtime.name === 'bun' && !isBun) {
    // The same bench, re-executed under Bun (server, clients and worker threads all on Bun).
    const { cmd, args } = runtime.command(fileURLToPath(import.meta.url), process.argv.slice(2));
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  if (!isBun) setFlagsFromString('--max-semi-space-size=32');
  const { values } = parseArgs({
    options: {
      runtime: { type: 'string', default: 'node' },
      clients: { type: 'string', default: '1000' },
      workloads: { type: 'string', default: '10000' },
      updates: { type: 'string', default: '5' },
      workers: { type: 'string', default: '2' },
      'max-response-kib': { type: 'string', default: '1024' },
      decoder: { type: 'string', default: 'inplace' },
    },
  });
  const N = Number(values.clients);
  const W = Number(values.workloads);
  const U = Number(values.updates);
  // 0 worker threads: the clients share the main thread with the server (for profiling).
  const inThread = Number(values.workers) === 0;
  const decoder = values.decoder as DecoderChoice;
  if (decoder !== 'inplace' && decoder !== 'generated') {
    throw new Error(`--decoder must be inplace or generated, not ${JSON.stringify(values.decoder)}`);
  }
  const K = inThread ? 1 : Math.max(1, Math.min(N, Number(values.workers)));

  const cache = new ResourceCache({ name: 'bench' });
  const t0 = performance.now();
  cache.apply(Array.from({ length: W }, (_, i) => workload(i, 0)));
  const cacheMs = performance.now() - t0;
  const maxResponseBytes = Number(values['max-response-kib']) * 1024;

  // One client's own work per resource: before any thread or socket exists, on a quiet process.
  const loop = clientLoop(
    fullSyncResponses(cache, weftResourceType('workload').typeUrl, maxResponseBytes),
    Math.max(5, benchRounds()),
    () => workloadType(decoder),
  );

  const ads = createAdsServer({ cache, maxResponseBytes });
  const server = await listenAds(ads);

  /** A worker thread, or the in-thread stand-in. */
  type Peer = Pick<Worker, 'postMessage'>;
  const workers: Peer[] = [];
  const exited: Array<Promise<unknown>> = [];
  const inbox = new Map<Peer, FromWorker[]>();
  const waiters: Array<() => void> = [];
  const receive = (w: Peer, m: FromWorker) => {
    inbox.get(w)?.push(m);
    for (const f of waiters.splice(0)) f();
  };
  /** Waits for one message of `kind` from every worker. */
  async function fromAll<T extends FromWorker['kind']>(
    kind: T,
  ): Promise<Array<Extract<FromWorker, { kind: T }>>> {
    for (;;) {
      const ready = workers.every((w) => inbox.get(w)?.some((m) => m.kind === kind));
      if (ready) {
        return workers.map((w) => {
          const list = inbox.get(w) as FromWorker[];
          const i = list.findIndex((m) => m.kind === kind);
          return list.splice(i, 1)[0] as Extract<FromWorker, { kind: T }>;
        });
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  }

  let first = 0;
  for (let k = 0; k < K; k++) {
    const count = Math.floor(N / K) + (k < N % K ? 1 : 0);
    const config: WorkerConfig = { decoder, address: server.address, first, count, workloads: W };
    first += count;
    if (inThread) {
      const { port1, port2 } = new MessageChannel();
      inbox.set(port1, []);
      port1.on('message', (m: FromWorker) => receive(port1, m));
      exited.push(new Promise((r) => port1.once('close', r)));
      workers.push(port1);
      runClients(config, port2);
      continue;
    }
    // Module hooks (tsx) do not follow into worker threads on Node 20: the worker registers them
    // itself, then loads this file.
    if (isBun) {
      // Bun runs TypeScript in workers itself (and ignores V8 resource limits).
      const w = new Worker(new URL(import.meta.url), { workerData: config });
      inbox.set(w, []);
      exited.push(new Promise((r) => w.once('exit', r)));
      w.on('message', (m: FromWorker) => receive(w, m));
      w.on('error', (err) => {
        console.error('worker failed:', err);
        process.exit(1);
      });
      workers.push(w);
      continue;
    }
    const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const w = new Worker(boot, {
      eval: true,
      // `node --cpu-prof` on the bench profiles the client threads too.
      execArgv: ['--conditions=weft-source', ...process.execArgv.filter((a) => a.startsWith('--cpu-prof'))],
      // Each full-sync response decodes into thousands of short-lived objects: a larger young
      // generation lets them die there instead of being promoted (halves client CPU here).
      resourceLimits: { maxYoungGenerationSizeMb: 96 },
      workerData: config,
    });
    inbox.set(w, []);
    exited.push(new Promise((r) => w.once('exit', r)));
    w.on('message', (m: FromWorker) => receive(w, m));
    w.on('error', (err) => {
      console.error('worker failed:', err);
      process.exit(1);
    });
    workers.push(w);
  }
  // Clients start once every worker thread has loaded (thread start-up is not part of the sync).
  await fromAll('booted');
  const load = loadavg()[0] ?? 0;
  const syncStart = now();
  const cpuStart = process.cpuUsage();
  const mainCpuStart = threadCpuSeconds();
  for (const w of workers) w.postMessage({ kind: 'connect' } satisfies ToWorker);
  const fulls = await fromAll('full');
  const fullSyncMs = Math.max(...fulls.map((f) => f.at)) - syncStart;
  // Every thread of this process (server, clients, GC): what the sync cost the machine.
  const cpu = process.cpuUsage(cpuStart);
  const fullSyncCpuS = (cpu.user + cpu.system) / 1e6;
  const serverThreadCpuS = threadCpuSeconds() - mainCpuStart;
  const clientThreadsCpuS = fulls.reduce((a, f) => a + f.cpuS, 0);
  const rssAfterSync = rssMiB(process.pid);

  const latencies: number[] = [];
  const perUpdate: Array<{ p50: number; p99: number; max: number }> = [];
  for (let u = 1; u <= U; u++) {
    await new Promise((r) => setTimeout(r, 200));
    const next = workload((u * 7919) % W, u);
    for (const w of workers)
      w.postMessage({ kind: 'watch', name: next.name, version: next.version } satisfies ToWorker);
    // Let the workers take the watch before the change goes out.
    await new Promise((r) => setTimeout(r, 50));
    const start = now();
    cache.apply([next]);
    const these = (await fromAll('arrived'))
      .flatMap((a) => a.times.map((t) => t - start))
      .sort((a, b) => a - b);
    latencies.push(...these);
    perUpdate.push({
      p50: percentile(these, 50),
      p99: percentile(these, 99),
      max: these[these.length - 1] ?? 0,
    });
  }
  latencies.sort((a, b) => a - b);
  const worstP99 = Math.max(...perUpdate.map((p) => p.p99));

  for (const w of workers) w.postMessage({ kind: 'stop' } satisfies ToWorker);
  const clientStats = await fromAll('stats');
  const stats = ads.stats();
  const where = inThread
    ? 'the server thread'
    : `${K} worker threads of the server's process, sharing its ${availableParallelism()} cores`;
  const rows: Array<[string, string]> = [
    ['runtime', isBun ? `bun ${process.versions.bun}` : `node ${process.version}`],
    ['clients / worker threads', `${N} / ${K}`],
    ['client Workload decoder', decoder === 'inplace' ? 'in place (default)' : 'generated (comparison)'],
    ['clients run in', where],
    ['load average (1 min) before the sync', load.toFixed(2)],
    ['workloads', String(W)],
    ['cache build (ms)', cacheMs.toFixed(0)],
    [
      `one client: decode+validate+apply, CPU µs/resource (median of ${loop.rounds} fresh clients x ${loop.resources})`,
      `${loop.cpuUsPerResource.toFixed(2)} (rounds: ${loop.perRound.map((r) => r.toFixed(2)).join(' ')})`,
    ],
    ['one client: the same, wall µs/resource (median)', loop.wallUsPerResource.toFixed(2)],
    ['responses sent', String(stats.responses)],
    ['resources sent', String(stats.resourcesSent)],
    ['resources decoded by clients', String(clientStats.reduce((a, s) => a + s.decoded, 0))],
    ['bytes sent (MiB)', (stats.bytesSent / 2 ** 20).toFixed(1)],
    ['full sync (ms)', fullSyncMs.toFixed(0)],
    ['full sync CPU, all threads (s)', fullSyncCpuS.toFixed(1)],
    ['RSS after the sync (MiB)', rssAfterSync.toFixed(0)],
    [
      inThread ? 'of which the one thread (s)' : 'of which server thread / client threads (s)',
      inThread
        ? serverThreadCpuS.toFixed(1)
        : `${serverThreadCpuS.toFixed(1)} / ${clientThreadsCpuS.toFixed(1)} (the rest: GC helpers, I/O threads)`,
    ],
    ...perUpdate.map((p, k): [string, string] => [
      `update ${k + 1} p50 / p99 / max (ms)`,
      `${p.p50.toFixed(1)} / ${p.p99.toFixed(1)} / ${p.max.toFixed(1)}`,
    ]),
    ['update p50 (ms)', percentile(latencies, 50).toFixed(1)],
    ['update p99 over all updates (ms)', percentile(latencies, 99).toFixed(1)],
    [`update p99, worst of ${U} (ms)`, worstP99.toFixed(1)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log('xds delta fan-out: weft.v1.Workload, loopback, one process');
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(runtime.key('xds-client-us-per-resource', loop.cpuUsPerResource.toFixed(2)));
  console.log(runtime.key('full-sync-ms', Math.round(fullSyncMs)));
  console.log(runtime.key('full-sync-cpu-s', fullSyncCpuS.toFixed(1)));
  console.log(runtime.key('update-p99-ms', Math.round(worstP99)));
  await Promise.all(exited);
  await server.close();
  process.exit(0);
}

if (isMainThread) await main();
else if (parentPort !== null) runClients(workerData as WorkerConfig, parentPort);
