#!/usr/bin/env node
// The local mesh demo: starts weftd, two ztunnel nodes and the example workloads on loopback,
// then walks through the scenarios, printing each step. With --check (make demo CHECK=1) it exits
// after the tour, non-zero if any step failed; otherwise the mesh keeps running until Ctrl-C.
import { parseArgs } from 'node:util';
import { LocalDriver } from './drivers/local.ts';
import { parseRuntime } from './runtime.ts';
import { startDemoDashboard } from './scenarios/dashboard.ts';
import { ALL_SCENARIOS } from './scenarios/index.ts';

const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    runtime: { type: 'string', default: process.env.WEFT_RUNTIME ?? 'node' },
    only: { type: 'string' },
  },
});
let runtime: 'node' | 'bun';
try {
  runtime = parseRuntime(values.runtime, '--runtime');
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const driver = new LocalDriver({ runtime });
const say = (line: string): void => console.log(line);

let dashboard: { url: string; close(): Promise<void> } | undefined;
let stopping = false;
const shutdown = async (code: number): Promise<never> => {
  if (!stopping) {
    stopping = true;
    say('\nstopping the local mesh ...');
    await dashboard?.close();
    await driver.stop();
  }
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

say(
  `Weft local mesh: weftd + 2 ztunnel nodes + a waypoint + sidecars + proxyless gRPC apps + example workloads on loopback, on ${runtime === 'bun' ? 'Bun' : 'Node'}`,
);
try {
  await driver.start();
} catch (err) {
  console.error(`the local mesh did not start: ${(err as Error).message}`);
  console.error(`logs: ${driver.logsDir}`);
  await shutdown(1);
}
say(`endpoints written to ${driver.endpointsFile}`);
for (const n of driver.endpoints().nodes)
  say(`  ${n.name}: SOCKS5 ${n.socks5}, metrics ${n.metrics}, admin ${n.admin}`);
for (const w of driver.endpoints().waypoints)
  say(`  waypoint ${w.gateway} (${w.pod}): HBONE ${w.hbone}, metrics ${w.metrics}, admin ${w.admin}`);
for (const s of driver.endpoints().sidecars)
  say(`  sidecar of ${s.pod}: HBONE ${s.hbone}, SOCKS5 ${s.socks5}, metrics ${s.metrics}, admin ${s.admin}`);
for (const p of driver.proxylessPods().filter((p) => (p.ports[0] ?? 0) !== 0))
  say(
    `  proxyless gRPC server ${p.namespace}/${p.name}: 0.0.0.0:${p.ports[0]} (no proxy; xDS and mTLS from weftd)`,
  );
say(`  weftd: xDS ${driver.endpoints().weftd.xds}, admin ${driver.endpoints().weftd.admin}`);
say(`  config folder (edit it live): ${driver.configDir}`);
dashboard = await startDemoDashboard(driver).catch((err: Error) => {
  say(`  dashboard: not started (${err.message})`);
  return undefined;
});
if (dashboard !== undefined) say(`  dashboard (live graph: modes, rates, mTLS, DENY): ${dashboard.url}`);

let failed = 0;
const scenarios = ALL_SCENARIOS.filter(
  (s) => values.only === undefined || values.only.split(',').includes(s.name),
);
for (const [i, scenario] of scenarios.entries()) {
  say(`\n[${i + 1}/${scenarios.length}] ${scenario.title}`);
  const started = Date.now();
  try {
    await scenario.run(driver, (line) => say(`    ${line}`));
    say(`  ok (${Date.now() - started} ms)`);
  } catch (err) {
    failed += 1;
    say(`  FAILED: ${(err as Error).message}`);
  }
}
say(`\ntour: ${scenarios.length - failed} passed, ${failed} failed`);

if (values.check) await shutdown(failed > 0 ? 1 : 0);
say('\nThe mesh keeps running. Try:');
say(
  `  node apps/examples/dist/client-main.js --socks 127.0.2.1:15080 --source 127.0.10.2 http://echo.demo.svc.cluster.local:8080/`,
);
say(
  `  node apps/examples/dist/client-main.js --socks 127.0.11.1:15080 --source 127.0.11.1 http://sidecar-echo.hybrid.svc.cluster.local:8080/`,
);
say(`  curl -s http://127.0.1.1:15020/metrics | grep istio_tcp`);
say(`  curl -s http://127.0.11.2:15020/metrics | grep istio_requests_total`);
say(`  curl -s http://127.0.10.5:15020/metrics | grep istio_requests_total`);
say('Press Ctrl-C to stop.');
