// Multi-core proxies: `--concurrency N` runs N worker processes (node:cluster) that share every
// listening port; the supervising process only forks, restarts and stops them.
//
// One config store per worker, each fed by its own xDS stream. Why not one stream fanned out by
// the supervisor: every worker must be able to decide alone (no IPC on the request path), a
// worker that crashes resyncs by itself like any proxy, and weftd already serves thousands of
// streams; the price is N streams and N copies of the config per node, which the xDS bench sizes.
//
// The node-level HTTP endpoints (admin, metrics, readiness) are shared ports too, so a request
// lands on any one worker. Per-process answers would lie, so two kinds of path are answered for
// the whole proxy: Prometheus metrics (`/metrics`, `/stats/prometheus`) are gathered from every
// worker and merged (series summed), and readiness (`/healthz/ready`, `/ready`) is 200 only when
// every worker answers 200. Config dumps and the rest come from the worker that took the request:
// every worker holds the same config from its own stream.
import cluster, { type Worker } from 'node:cluster';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '@weft/telemetry';
import { isLocalRequestSocket, type LocalResponse, localGet } from './local-request.ts';
import { mergePrometheusTexts } from './prometheus-merge.ts';

const ENV_ID = 'WEFT_WORKER_ID';
const ENV_COUNT = 'WEFT_WORKERS';

export type Aggregation = 'prometheus' | 'ready';

/** Paths answered for the whole proxy, and how. */
export const AGGREGATED_PATHS: Readonly<Record<string, Aggregation>> = {
  '/metrics': 'prometheus',
  '/stats/prometheus': 'prometheus',
  '/healthz/ready': 'ready',
  '/ready': 'ready',
};

export interface WorkerIdentity {
  /** 1-based. */
  readonly id: number;
  readonly count: number;
}

/** This process's place among its proxy's workers; undefined outside a multi-worker proxy. */
export function workerIdentity(): WorkerIdentity | undefined {
  if (!cluster.isWorker) return undefined;
  const id = Number(process.env[ENV_ID]);
  const count = Number(process.env[ENV_COUNT]);
  return Number.isInteger(id) && Number.isInteger(count) ? { id, count } : undefined;
}

// --- messages between workers and their supervisor ---------------------------------------
type Msg =
  | { weft: 'ready' }
  | { weft: 'gather'; id: number; key: string; path: string }
  | { weft: 'render'; id: number; key: string; path: string }
  | { weft: 'rendered'; id: number; status: number; body: string; error?: string }
  | { weft: 'gathered'; id: number; answers: GatherAnswer[] };

export interface GatherAnswer {
  readonly worker: number;
  readonly status: number;
  readonly body: string;
  readonly error?: string;
}

function isMsg(m: unknown): m is Msg {
  return typeof m === 'object' && m !== null && typeof (m as { weft?: unknown }).weft === 'string';
}

// --- worker side ---------------------------------------------------------------------------
const endpoints = new Map<string, Server>();
const pendingGathers = new Map<number, (answers: GatherAnswer[]) => void>();
let nextGather = 1;
let workerListening = false;

function send(msg: Msg): void {
  process.send?.(msg);
}

function listenAsWorker(): void {
  if (workerListening) return;
  workerListening = true;
  process.on('message', (m: unknown) => {
    if (!isMsg(m)) return;
    if (m.weft === 'render') {
      const server = endpoints.get(m.key);
      if (server === undefined) {
        send({
          weft: 'rendered',
          id: m.id,
          status: 503,
          body: '',
          error: 'endpoint not open in this worker',
        });
        return;
      }
      localGet(server, m.path).then(
        (r: LocalResponse) => send({ weft: 'rendered', id: m.id, status: r.status, body: r.body }),
        (err: Error) => send({ weft: 'rendered', id: m.id, status: 503, body: '', error: err.message }),
      );
    } else if (m.weft === 'gathered') {
      const done = pendingGathers.get(m.id);
      pendingGathers.delete(m.id);
      done?.(m.answers);
    }
  });
}

function gather(key: string, path: string, timeoutMs = 5_000): Promise<GatherAnswer[]> {
  listenAsWorker();
  const id = nextGather++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingGathers.delete(id);
      reject(new Error(`workers did not answer ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    pendingGathers.set(id, (answers) => {
      clearTimeout(timer);
      resolve(answers);
    });
    send({ weft: 'gather', id, key, path });
  });
}

/** The whole proxy's answer for an aggregated path, from every worker's own answer. */
export function combineAnswers(
  kind: Aggregation,
  answers: readonly GatherAnswer[],
  count: number,
): LocalResponse {
  if (kind === 'prometheus') {
    const ok = answers.filter((a) => a.status === 200);
    const merged = mergePrometheusTexts(ok.map((a) => a.body));
    let text = merged.text;
    if (ok.length < count) {
      // A scrape still gets what the others serve; the gap is said in the exposition itself.
      text += `# ${count - ok.length} of ${count} workers did not answer this scrape\n`;
    }
    return {
      status: ok.length > 0 ? 200 : 503,
      headers: { 'content-type': 'text/plain; version=0.0.4' },
      body: text,
    };
  }
  const notReady = answers.filter((a) => a.status !== 200).map((a) => a.worker);
  const missing = count - answers.length;
  const ready = notReady.length === 0 && missing === 0;
  const lines = answers.map(
    (a) => `worker ${a.worker}: ${a.status === 200 ? 'ready' : (a.error ?? `HTTP ${a.status}`)}`,
  );
  if (missing > 0) lines.push(`${missing} worker(s) did not answer`);
  return {
    status: ready ? 200 : 503,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: `${ready ? 'ready' : 'not ready'}\n${lines.join('\n')}\n`,
  };
}

/**
 * Makes a node-level HTTP endpoint answer its aggregated paths for the whole proxy when this
 * process is one of several workers (a no-op otherwise). Call once, right after creating the
 * server, with the server's path table; `key` defaults to that table (identical in every worker).
 */
export function shareEndpointAcrossWorkers(server: Server, paths: readonly string[], key?: string): void {
  const me = workerIdentity();
  if (me === undefined || me.count < 2) return;
  const k = key ?? [...paths].sort().join(' ');
  endpoints.set(k, server);
  server.once('close', () => {
    if (endpoints.get(k) === server) endpoints.delete(k);
  });
  listenAsWorker();
  const original = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const kind = Object.hasOwn(AGGREGATED_PATHS, path) ? AGGREGATED_PATHS[path] : undefined;
    if (
      kind === undefined ||
      !paths.includes(path) ||
      isLocalRequestSocket(req.socket) ||
      req.method !== 'GET'
    ) {
      for (const l of original) l.call(server, req, res);
      return;
    }
    gather(k, path).then(
      (answers) => {
        const r = combineAnswers(kind, answers, me.count);
        res.writeHead(r.status, {
          ...r.headers,
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(r.body),
        });
        res.end(r.body);
      },
      (err: Error) => {
        if (res.headersSent) return;
        const body = `${err.message}\n`;
        res.writeHead(503, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      },
    );
  });
}

// --- supervisor side -----------------------------------------------------------------------

/**
 * The V8 young-generation cap (`--max-semi-space-size`, MiB) a Node worker gets. V8 lets the
 * young generation grow to 16 MiB per semi-space under load; a proxy's garbage is short-lived
 * per-request objects, so a small one costs about the same CPU and keeps ~20 MiB off every
 * worker's RSS (measured in docs/reference/benchmarks.md). Set by the supervisor because V8
 * reads it only at start.
 */
export const WORKER_SEMI_SPACE_MIB = 2;

/**
 * The runtime flags a worker starts with: the supervisor's own, plus the young-generation cap
 * on Node unless the operator chose one (in the supervisor's flags or NODE_OPTIONS). Bun has no
 * such flag (its collector is JavaScriptCore's), so its workers get the supervisor's flags alone.
 */
export function workerExecArgv(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  isBun: boolean,
): string[] {
  const chosen = (flags: readonly string[]) =>
    flags.some((f) => f.startsWith('--max-semi-space-size') || f.startsWith('--max_semi_space_size'));
  if (isBun || chosen(execArgv) || chosen((nodeOptions ?? '').split(/\s+/))) return [...execArgv];
  return [...execArgv, `--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`];
}

export interface RunWorkersOptions {
  /** Component name for log lines, e.g. 'ztunnel'. */
  readonly component: string;
  readonly concurrency: number;
  readonly logger: Logger;
  /** Starts the proxy in this process (a worker, or the only process when concurrency is 1). */
  readonly serve: () => Promise<void>;
  /** Restart delay after a worker dies, doubled per quick death up to 30 s. Default 500 ms. */
  readonly restartDelayMs?: number;
}

/**
 * Runs the proxy: in-process when `concurrency` is 1; otherwise this process supervises
 * `concurrency` workers, each of which runs `serve`. Resolves once serving (or supervising).
 */
export async function runWorkers(opts: RunWorkersOptions): Promise<void> {
  if (opts.concurrency <= 1 || cluster.isWorker) {
    await opts.serve();
    if (cluster.isWorker) send({ weft: 'ready' });
    return;
  }
  supervise(opts);
}

function supervise(opts: RunWorkersOptions): void {
  const { logger, concurrency } = opts;
  // Workers accept from the shared listening socket themselves (no per-connection hand-off
  // through this process): a worker busy starting or serving simply accepts less.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, isBun) });
  const base = opts.restartDelayMs ?? 500;
  const slots = new Map<number, { worker: Worker; ready: boolean; startedAt: number; delay: number }>();
  const renders = new Map<
    number,
    { want: Set<number>; answers: GatherAnswer[]; reply: (a: GatherAnswer[]) => void }
  >();
  let nextRender = 1;
  let stopping = false;
  let everyoneReady = false;

  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const s of slots.values()) s.worker.process.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const s of slots.values()) s.worker.process.kill('SIGKILL');
      process.exit(code);
    }, 10_000);
    force.unref();
    const check = (): void => {
      if ([...slots.values()].every((s) => s.worker.isDead())) process.exit(code);
    };
    cluster.on('exit', check);
    check();
  };

  const fork = (slot: number, delay: number): void => {
    const worker = cluster.fork({ [ENV_ID]: String(slot), [ENV_COUNT]: String(concurrency) });
    const entry = { worker, ready: false, startedAt: Date.now(), delay };
    slots.set(slot, entry);
    worker.on('message', (m: unknown) => {
      if (!isMsg(m)) return;
      if (m.weft === 'ready') {
        entry.ready = true;
        if (!everyoneReady && [...slots.values()].every((s) => s.ready)) {
          everyoneReady = true;
          logger.info('workers serving', { workers: concurrency });
        }
      } else if (m.weft === 'gather') {
        const id = nextRender++;
        const live = [...slots.entries()].filter(([, s]) => !s.worker.isDead());
        const reply = (answers: GatherAnswer[]): void => {
          renders.delete(id);
          if (!worker.isDead()) worker.send({ weft: 'gathered', id: m.id, answers } satisfies Msg);
        };
        const pending = { want: new Set(live.map(([n]) => n)), answers: [] as GatherAnswer[], reply };
        renders.set(id, pending);
        // Whoever has not answered in 4 s is left out (the requester's own timeout is 5 s).
        setTimeout(() => renders.get(id)?.reply(renders.get(id)?.answers ?? []), 4_000).unref();
        for (const [, s] of live)
          s.worker.send({ weft: 'render', id, key: m.key, path: m.path } satisfies Msg);
        if (live.length === 0) reply([]);
      } else if (m.weft === 'rendered') {
        const pending = renders.get(m.id);
        if (pending === undefined || !pending.want.delete(slot)) return;
        pending.answers.push({
          worker: slot,
          status: m.status,
          body: m.body,
          ...(m.error ? { error: m.error } : {}),
        });
        if (pending.want.size === 0) pending.reply(pending.answers.sort((a, b) => a.worker - b.worker));
      }
    });
    worker.on('exit', (code, signal) => {
      if (slots.get(slot)?.worker !== worker) return;
      if (stopping) return;
      if (!entry.ready) {
        // A worker that cannot start (a port in use, a bad config) will not start on retry:
        // the proxy fails as a single process would.
        logger.error('worker failed to start; stopping', { worker: slot, code, signal });
        stopAll(code === 0 || code === null ? 1 : code);
        return;
      }
      const quick = Date.now() - entry.startedAt < 60_000;
      const next = quick ? Math.min(entry.delay * 2, 30_000) : base;
      logger.warn('worker exited; restarting', { worker: slot, code, signal, in_ms: entry.delay });
      setTimeout(() => {
        if (!stopping) fork(slot, next);
      }, entry.delay);
    });
  };

  for (let slot = 1; slot <= concurrency; slot++) fork(slot, base);
  process.on('SIGTERM', () => stopAll(0));
  process.on('SIGINT', () => stopAll(0));
  logger.info('supervising workers', { workers: concurrency });
}
