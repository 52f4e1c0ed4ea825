// Delta xDS fan-out: N delta clients in this process, over loopback, all subscribed to the same
// W workloads. Measures time to full sync, then how long one changed workload takes to reach
// every client. The server runs on the main thread; the clients run in worker threads of the
// same process (default 2) so that both cores of a small machine do client work.
// Usage: pnpm bench:xds [--clients 1000] [--workloads 10000] [--updates 5] [--workers 2]
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
  type UpdateBatch,
  weftResource,
  weftResourceType,
} from '@weft/xds-protocol';
import { testWorkload } from '@weft/xds-protocol/testing';

interface WorkerConfig {
  address: string;
  first: number;
  count: number;
  workloads: number;
}

type ToWorker = { kind: 'connect' } | { kind: 'watch'; name: string; version: string } | { kind: 'stop' };
type FromWorker =
  | { kind: 'booted' }
  | { kind: 'full'; at: number }
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
  const onFull = () => {
    if (++full === config.count) port.postMessage({ kind: 'full', at: now() } satisfies FromWorker);
  };
  const onArrived = () => {
    if (++arrived === config.count) {
      port.postMessage({ kind: 'arrived', times: handlers.map((h) => h.arrivedAt) } satisfies FromWorker);
    }
  };
  const connect = () => {
    for (let i = 0; i < config.count; i++) {
      const handler = new BenchHandler(config.workloads, onFull, onArrived);
      handlers.push(handler);
      clients.push(
        createDeltaAdsClient({
          target: config.address,
          node: { id: `ztunnel~bench-${config.first + i}` },
          types: [weftResourceType('workload')],
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
  setFlagsFromString('--max-semi-space-size=32');
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '1000' },
      workloads: { type: 'string', default: '10000' },
      updates: { type: 'string', default: '5' },
      workers: { type: 'string', default: '2' },
      'max-response-kib': { type: 'string', default: '1024' },
    },
  });
  const N = Number(values.clients);
  const W = Number(values.workloads);
  const U = Number(values.updates);
  // 0 worker threads: the clients share the main thread with the server (for profiling).
  const inThread = Number(values.workers) === 0;
  const K = inThread ? 1 : Math.max(1, Math.min(N, Number(values.workers)));

  const cache = new ResourceCache({ name: 'bench' });
  const t0 = performance.now();
  cache.apply(Array.from({ length: W }, (_, i) => workload(i, 0)));
  const cacheMs = performance.now() - t0;
  const ads = createAdsServer({ cache, maxResponseBytes: Number(values['max-response-kib']) * 1024 });
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
    const config: WorkerConfig = { address: server.address, first, count, workloads: W };
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
    const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const w = new Worker(boot, {
      eval: true,
      execArgv: ['--conditions=weft-source'],
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
  const syncStart = now();
  for (const w of workers) w.postMessage({ kind: 'connect' } satisfies ToWorker);
  const fulls = await fromAll('full');
  const fullSyncMs = Math.max(...fulls.map((f) => f.at)) - syncStart;

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

  for (const w of workers) w.postMessage({ kind: 'stop' } satisfies ToWorker);
  const clientStats = await fromAll('stats');
  const stats = ads.stats();
  const rows: Array<[string, string]> = [
    ['clients / worker threads', `${N} / ${K}`],
    ['workloads', String(W)],
    ['cache build (ms)', cacheMs.toFixed(0)],
    ['responses sent', String(stats.responses)],
    ['resources sent', String(stats.resourcesSent)],
    ['resources decoded by clients', String(clientStats.reduce((a, s) => a + s.decoded, 0))],
    ['bytes sent (MiB)', (stats.bytesSent / 2 ** 20).toFixed(1)],
    ['full sync (ms)', fullSyncMs.toFixed(0)],
    ...perUpdate.map((p, k): [string, string] => [
      `update ${k + 1} p50 / p99 / max (ms)`,
      `${p.p50.toFixed(1)} / ${p.p99.toFixed(1)} / ${p.max.toFixed(1)}`,
    ]),
    ['update p50 (ms)', percentile(latencies, 50).toFixed(1)],
    ['update p99 (ms)', percentile(latencies, 99).toFixed(1)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log('xds delta fan-out: weft.v1.Workload, loopback, one process');
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(`full-sync-ms ${Math.round(fullSyncMs)}`);
  console.log(`update-p99-ms ${Math.round(percentile(latencies, 99))}`);
  await Promise.all(exited);
  await server.close();
  process.exit(0);
}

if (isMainThread) await main();
else if (parentPort !== null) runClients(workerData as WorkerConfig, parentPort);
