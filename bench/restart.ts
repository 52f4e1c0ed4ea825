// pnpm bench:restart — a steady request stream from a client pod (node-b) to two servers on node-a,
// one over the L4 path (ztunnel to ztunnel) and one through the waypoint, while each component is
// killed with SIGKILL and restarted in turn: node-b's ztunnel (source), node-a's ztunnel
// (destination), the waypoint, weftd. Prints, per component and path, requests sent and failed,
// when the failed ones started (in flight at the kill, while down, after ready), the outage and
// the time to ready. Loopback only, bounded: about (BEFORE + DOWN + AFTER + restart) x 4.
import { join } from 'node:path';
import {
  describeOutcome,
  eventually,
  LocalDriver,
  RESTART_CLIENT,
  RESTART_TARGETS,
  type RestartOutcome,
  restartMeshOptions,
  restartUnderLoad,
} from '@weft/e2e';
import { formatTable } from './lib/table.ts';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const BEFORE_MS = Number(process.env.BENCH_BEFORE_MS ?? 2000);
const DOWN_MS = Number(process.env.BENCH_DOWN_MS ?? 500);
const AFTER_MS = Number(process.env.BENCH_AFTER_MS ?? 5000);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 3000);

// Its own work directory and addresses (127.0.8x.y), so it can run beside the demo.
const driver = new LocalDriver(restartMeshOptions(join(process.cwd(), '..', '.weft', 'bench-restart')));

let exitCode = 0;
try {
  await driver.start();
  const outcomes: { label: string; outcome: RestartOutcome }[] = [];
  for (const target of RESTART_TARGETS) {
    // Each restart starts from a working mesh (the previous one may have left a path broken).
    for (const path of target.paths) {
      await eventually(
        `client -> ${path.name} before killing ${target.label}`,
        () => driver.request(RESTART_CLIENT, path.url, { timeoutMs: 2000 }),
        (r) => r.ok && r.response.status === 200,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    }
    const outcome = await restartUnderLoad(driver, {
      component: target.component,
      fromPod: RESTART_CLIENT,
      paths: target.paths,
      ratePerSecond: RATE,
      timeoutMs: TIMEOUT_MS,
      beforeMs: BEFORE_MS,
      downMs: DOWN_MS,
      afterMs: AFTER_MS,
    });
    outcomes.push({ label: target.label, outcome });
    for (const line of describeOutcome(target.label, outcome)) console.log(line);
  }

  const rows = outcomes.flatMap(({ label, outcome }) =>
    outcome.paths.map((p) => [
      label,
      p.path,
      String(p.sent),
      String(p.failed),
      `${p.failedInFlight} / ${p.failedWhileDown} / ${p.failedAfterReady}`,
      ((100 * (p.sent - p.failed)) / Math.max(1, p.sent)).toFixed(2),
      p.failed === 0 ? '-' : Number.isFinite(p.outageMs) ? String(Math.round(p.outageMs)) : 'not recovered',
      String(Math.round(outcome.killToReadyMs)),
    ]),
  );
  console.log(
    `\nkill -9 and restart under a steady stream: ${RATE} req/s (one new connection each), ` +
      `${BEFORE_MS} ms before the kill, restarted ${DOWN_MS} ms after, ${AFTER_MS} ms after ready, ` +
      `request timeout ${TIMEOUT_MS} ms\n`,
  );
  console.log(
    formatTable(
      [
        'killed',
        'path',
        'sent',
        'failed',
        'failed: in flight / while down / after ready',
        'success %',
        'outage ms',
        'kill to ready ms',
      ],
      rows,
    ),
  );
  console.log('');
  for (const { label, outcome } of outcomes)
    console.log(`restart-success-pct-${label} ${outcome.successPct.toFixed(2)}`);
} catch (err) {
  console.error(`bench:restart failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await driver.stop();
}
process.exit(exitCode);
