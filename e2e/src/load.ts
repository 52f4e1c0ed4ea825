// A steady request stream through the mesh and a component killed (SIGKILL) and restarted under
// it: what the e2e restart scenario asserts and what `pnpm bench:restart` prints. Requests go out
// at a fixed rate whatever the answers (open loop), each on a new connection, and every one is
// recorded with its start and end, so a failure can be placed before the kill, in flight at the
// kill, while the component was down, or after it was ready again.
import { performance } from 'node:perf_hooks';
import type { CallResult, MeshDriver } from './driver.ts';
import { sleep } from './wait.ts';

/** One path through the mesh: a URL the client calls. */
export interface StreamPath {
  readonly name: string;
  readonly url: string;
}

export interface RequestRecord {
  readonly path: string;
  /** ms on performance.now()'s clock. */
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  /** "HTTP <status>" or the connection error. */
  readonly detail: string;
}

export interface StreamOptions {
  /** Requests per second over all paths, sent round-robin. */
  readonly ratePerSecond: number;
  /** Per-request timeout (a request that hangs longer counts as failed). */
  readonly timeoutMs: number;
}

export interface Stream {
  /** Stops sending, waits for the requests in flight, returns every request in start order. */
  stop(): Promise<RequestRecord[]>;
}

function describe(result: CallResult): { ok: boolean; detail: string } {
  if (!result.ok) return { ok: false, detail: result.error };
  return { ok: result.response.status === 200, detail: `HTTP ${result.response.status}` };
}

/** Sends `ratePerSecond` requests from `fromPod`, spread over `paths`, until stopped. */
export function steadyStream(
  driver: MeshDriver,
  fromPod: string,
  paths: readonly StreamPath[],
  opts: StreamOptions,
): Stream {
  const period = 1000 / opts.ratePerSecond;
  const t0 = performance.now();
  const records: RequestRecord[] = [];
  const pending = new Set<Promise<void>>();
  let sent = 0;
  const send = (path: StreamPath): void => {
    const start = performance.now();
    const p = driver
      .request(fromPod, path.url, { timeoutMs: opts.timeoutMs })
      .then(describe, (err: unknown) => ({ ok: false, detail: String(err) }))
      .then(({ ok, detail }) => {
        records.push({ path: path.name, start, end: performance.now(), ok, detail });
        pending.delete(p);
      });
    pending.add(p);
  };
  // A coarse timer that sends whatever is due: the rate holds even when the event loop lags.
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - t0) / period);
    while (sent < due) {
      send(paths[sent % paths.length] as StreamPath);
      sent++;
    }
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      while (pending.size > 0) await Promise.all([...pending]);
      return records.sort((a, b) => a.start - b.start);
    },
  };
}

export interface RestartOptions extends StreamOptions {
  /** What the driver calls the component: "weftd", a node name, a waypoint pod's name. */
  readonly component: string;
  readonly fromPod: string;
  readonly paths: readonly StreamPath[];
  /** Stream time before the kill. */
  readonly beforeMs: number;
  /** Time between the process being gone and its restart (a supervisor's restart delay). */
  readonly downMs: number;
  /** Stream time after the restarted component is ready. */
  readonly afterMs: number;
}

/** The requests of one path through a restarted component, by when they started. */
export interface PathOutcome {
  readonly path: string;
  readonly sent: number;
  readonly failed: number;
  /** Failed requests that started and ended before the kill (the mesh was not steady). */
  readonly failedBeforeKill: number;
  /** Failed requests started before the kill and still running at it. */
  readonly failedInFlight: number;
  /** Failed requests started between the kill and the component being ready again. */
  readonly failedWhileDown: number;
  /** Failed requests started after the component was ready again. */
  readonly failedAfterReady: number;
  /** Requests started while the process was gone (before its restart) that still succeeded. */
  readonly succeededWhileGone: number;
  /** First failure (its end) to the first success after it (its end); 0 without failures. */
  readonly outageMs: number;
  /** Failure details and how often each was seen. */
  readonly errors: ReadonlyMap<string, number>;
}

export interface RestartOutcome {
  readonly component: string;
  /** Kill sent to ready again (readiness endpoint 200), including `downMs`. */
  readonly killToReadyMs: number;
  /** Restart (spawn) to ready again. */
  readonly startToReadyMs: number;
  readonly paths: readonly PathOutcome[];
  readonly sent: number;
  readonly failed: number;
  readonly successPct: number;
}

/** Kills `component` with SIGKILL under a steady stream, restarts it, and accounts for every request. */
export async function restartUnderLoad(driver: MeshDriver, opts: RestartOptions): Promise<RestartOutcome> {
  const stream = steadyStream(driver, opts.fromPod, opts.paths, opts);
  let records: RequestRecord[];
  let killAt: number;
  let goneAt: number;
  let restartAt: number;
  let readyAt: number;
  try {
    await sleep(opts.beforeMs);
    killAt = performance.now();
    await driver.killComponent(opts.component);
    goneAt = performance.now();
    await sleep(opts.downMs);
    restartAt = performance.now();
    await driver.startComponent(opts.component);
    readyAt = performance.now();
    await sleep(opts.afterMs);
  } finally {
    records = await stream.stop();
  }
  const paths = opts.paths.map((p) =>
    pathOutcome(
      p.name,
      records.filter((r) => r.path === p.name),
      { killAt, goneAt, restartAt, readyAt },
    ),
  );
  const sent = paths.reduce((a, p) => a + p.sent, 0);
  const failed = paths.reduce((a, p) => a + p.failed, 0);
  return {
    component: opts.component,
    killToReadyMs: readyAt - killAt,
    startToReadyMs: readyAt - restartAt,
    paths,
    sent,
    failed,
    successPct: sent === 0 ? 0 : (100 * (sent - failed)) / sent,
  };
}

function pathOutcome(
  path: string,
  records: readonly RequestRecord[],
  t: { killAt: number; goneAt: number; restartAt: number; readyAt: number },
): PathOutcome {
  const failed = records.filter((r) => !r.ok);
  const errors = new Map<string, number>();
  for (const r of failed) errors.set(r.detail, (errors.get(r.detail) ?? 0) + 1);
  const firstFailureEnd = Math.min(...failed.map((r) => r.end));
  const firstSuccessAfter = Math.min(
    ...records.filter((r) => r.ok && r.end > firstFailureEnd).map((r) => r.end),
  );
  return {
    path,
    sent: records.length,
    failed: failed.length,
    failedBeforeKill: failed.filter((r) => r.end < t.killAt).length,
    failedInFlight: failed.filter((r) => r.start < t.killAt && r.end >= t.killAt).length,
    failedWhileDown: failed.filter((r) => r.start >= t.killAt && r.start < t.readyAt).length,
    failedAfterReady: failed.filter((r) => r.start >= t.readyAt).length,
    succeededWhileGone: records.filter((r) => r.ok && r.start >= t.goneAt && r.start < t.restartAt).length,
    outageMs: failed.length === 0 ? 0 : firstSuccessAfter - firstFailureEnd,
    errors,
  };
}
