// weft top: per destination workload, request rate, success rate and latency percentiles from
// the proxies' Istio-standard metrics, refreshed in the terminal.
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { unreachable, usageError } from '../errors.ts';
import { table } from '../format.ts';
import type { Mesh } from '../mesh.ts';
import { parsePrometheus, type Sample } from '../prometheus.ts';

/** Counters per destination workload, summed over the proxies that report on the server side. */
export interface WorkloadCounters {
  requests: number;
  failures: number;
  /** Histogram buckets: upper bound (ms) -> cumulative count. */
  buckets: Map<number, number>;
}

export interface TopRow {
  readonly workload: string;
  readonly rps: number;
  readonly successRate: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly requests: number;
}

// A request is counted once: by the waypoint or the server's sidecar, never by the client side.
const COUNTED = new Set(['waypoint', 'destination']);

export function countersFrom(samples: readonly Sample[]): Map<string, WorkloadCounters> {
  const out = new Map<string, WorkloadCounters>();
  const at = (l: Readonly<Record<string, string>>): WorkloadCounters => {
    const key = `${l.destination_workload_namespace ?? '?'}/${l.destination_workload ?? '?'}`;
    let c = out.get(key);
    if (c === undefined) {
      c = { requests: 0, failures: 0, buckets: new Map() };
      out.set(key, c);
    }
    return c;
  };
  for (const s of samples) {
    if (!COUNTED.has(s.labels.reporter ?? '')) continue;
    if (s.name === 'istio_requests_total') {
      const c = at(s.labels);
      c.requests += s.value;
      if ((s.labels.response_code ?? '').startsWith('5') || s.labels.response_code === '0')
        c.failures += s.value;
    } else if (s.name === 'istio_request_duration_milliseconds_bucket') {
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      const c = at(s.labels);
      c.buckets.set(le, (c.buckets.get(le) ?? 0) + s.value);
    }
  }
  return out;
}

/** The q-quantile of cumulative buckets, interpolated inside the bucket it falls in. */
export function quantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** One frame: the difference between two readings `seconds` apart (all-time when nothing moved). */
export function topRows(
  before: ReadonlyMap<string, WorkloadCounters>,
  after: ReadonlyMap<string, WorkloadCounters>,
  seconds: number,
): TopRow[] {
  const rows: TopRow[] = [];
  for (const [workload, a] of after) {
    const b = before.get(workload);
    const requests = a.requests - (b?.requests ?? 0);
    const windowed = requests > 0;
    const failures = windowed ? a.failures - (b?.failures ?? 0) : a.failures;
    const total = windowed ? requests : a.requests;
    const buckets = new Map<number, number>();
    for (const [le, n] of a.buckets) buckets.set(le, windowed ? n - (b?.buckets.get(le) ?? 0) : n);
    rows.push({
      workload,
      rps: seconds > 0 ? requests / seconds : 0,
      successRate: total > 0 ? (total - failures) / total : null,
      p50Ms: quantile(0.5, buckets),
      p99Ms: quantile(0.99, buckets),
      requests: a.requests,
    });
  }
  return rows.sort((x, y) => y.rps - x.rps || y.requests - x.requests || (x.workload < y.workload ? -1 : 1));
}

async function read(mesh: Mesh): Promise<Map<string, WorkloadCounters>> {
  const proxies = mesh.proxies();
  if (proxies.length === 0)
    throw unreachable(
      `no proxies known: ${mesh.endpointsPath} is missing; start the demo (pnpm demo) or pass --endpoints`,
    );
  const texts = await Promise.all(
    proxies.map((p) => mesh.getText(p.metrics, `${p.name} metrics`).catch(() => '')),
  );
  return countersFrom(texts.flatMap(parsePrometheus));
}

const fmt = (n: number | null, digits = 1): string => (n === null ? '-' : n.toFixed(digits));

export function topTable(rows: readonly TopRow[]): string {
  return table(
    ['WORKLOAD', 'RPS', 'SUCCESS', 'P50 MS', 'P99 MS', 'REQUESTS'],
    rows.map((r) => [
      r.workload,
      fmt(r.rps, 2),
      r.successRate === null ? '-' : `${(r.successRate * 100).toFixed(1)}%`,
      fmt(r.p50Ms),
      fmt(r.p99Ms),
      String(r.requests),
    ]),
  );
}

export function registerTop(program: Command, ctx: CommandContext): void {
  program
    .command('top')
    .description(
      "live request rate, success rate and p50/p99 per destination workload, from the proxies' metrics",
    )
    .option('--interval <seconds>', 'seconds between readings', '2')
    .option('--once', 'print one frame (two readings one interval apart) and exit')
    .addHelpText('after', '\nExit: 0, 3 when no proxy answers. Ctrl-C stops it.')
    .action(async (o: { interval: string; once?: boolean }) => {
      const seconds = Number(o.interval);
      if (!(seconds > 0)) throw usageError(`--interval ${o.interval}: not a positive number`);
      const mesh = ctx.mesh();
      let before = await read(mesh);
      for (;;) {
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const after = await read(mesh);
        const rows = topRows(before, after, seconds);
        before = after;
        if (o.once === true || !ctx.io.isTTY || ctx.globals().output !== 'table') {
          ctx.print({ workloads: rows }, () => topTable(rows));
          if (o.once === true) return;
        } else
          ctx.io.out(
            `\u001b[2J\u001b[H${ctx.colors.bold(`weft top  (every ${seconds}s, Ctrl-C to stop)`)}\n\n${topTable(rows)}`,
          );
      }
    });
}
