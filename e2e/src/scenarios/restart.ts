// Restarts under load: with a steady request stream from the client (node-b) to two servers on
// node-a, one over the L4 path and one through the waypoint, each component is killed with
// SIGKILL and restarted in turn. weftd's restart must cost nothing (the data plane runs on its
// last config); a proxy's may cost the requests in flight and those sent while it is down, but
// the mesh must recover and nothing sent after the proxy is ready again may fail. Runs on its
// own mesh (e2e/manifests/restart): the demo's services all go through its waypoint.
import { fileURLToPath } from 'node:url';
import type { CallResult } from '../driver.ts';
import type { LocalDriverOptions } from '../drivers/local.ts';
import { type RestartOutcome, restartUnderLoad, type StreamPath } from '../load.ts';
import { eventually, sleep } from '../wait.ts';
import { check, describeCall, type Scenario } from './l4.ts';

export const RESTART_MANIFESTS = fileURLToPath(new URL('../../manifests/restart/', import.meta.url));

/** Local driver settings for the restart mesh: addresses of its own, so it can run beside the demo. */
export function restartMeshOptions(workDir: string): LocalDriverOptions {
  return {
    workDir,
    manifestsDir: RESTART_MANIFESTS,
    nodes: [
      { name: 'node-a', ip: '127.0.81.1' },
      { name: 'node-b', ip: '127.0.82.1' },
    ],
    xdsAddress: '127.0.80.1:15010',
    adminAddress: '127.0.80.1:15014',
  };
}

export const RESTART_CLIENT = 'client';
export const L4_PATH: StreamPath = { name: 'l4', url: 'http://server-l4.restart.svc.cluster.local:8080/' };
export const WAYPOINT_PATH: StreamPath = {
  name: 'waypoint',
  url: 'http://server-l7.restart.svc.cluster.local:8080/',
};

/** Each component in turn, with the paths it sits on. */
export const RESTART_TARGETS: readonly {
  readonly label: 'ztunnel-src' | 'ztunnel-dst' | 'waypoint' | 'weftd';
  readonly component: string;
  readonly paths: readonly StreamPath[];
  readonly proxy: boolean;
}[] = [
  { label: 'weftd', component: 'weftd', paths: [L4_PATH, WAYPOINT_PATH], proxy: false },
  { label: 'waypoint', component: 'waypoint-0', paths: [WAYPOINT_PATH], proxy: true },
  { label: 'ztunnel-src', component: 'node-b', paths: [L4_PATH, WAYPOINT_PATH], proxy: true },
  { label: 'ztunnel-dst', component: 'node-a', paths: [L4_PATH, WAYPOINT_PATH], proxy: true },
];

/** One line per path: counts by phase, outage, errors. */
export function describeOutcome(label: string, o: RestartOutcome): string[] {
  return [
    `${label}: sent ${o.sent}, failed ${o.failed} (${o.successPct.toFixed(2)} % ok), ready ${Math.round(o.killToReadyMs)} ms after the kill`,
    ...o.paths.map(
      (p) =>
        `  ${p.path}: sent ${p.sent}, failed ${p.failed} (in flight ${p.failedInFlight}, while down ${p.failedWhileDown}, after ready ${p.failedAfterReady}, before the kill ${p.failedBeforeKill})` +
        (p.failed > 0
          ? `, outage ${Math.round(p.outageMs)} ms: ${[...p.errors].map(([e, n]) => `${n}x ${e}`).join('; ')}`
          : ''),
    ),
  ];
}

export const restartUnderLoadScenario: Scenario = {
  name: 'restart-under-load',
  title:
    'kill -9 and restart each component under a steady stream: weftd loses nothing, proxies recover and lose nothing after ready',
  async run(driver, log) {
    for (const target of RESTART_TARGETS) {
      for (const path of target.paths) {
        await eventually(
          `client -> ${path.name} to work before killing ${target.label}`,
          () => driver.request(RESTART_CLIENT, path.url, { timeoutMs: 2000 }),
          (r) => r.ok && r.response.status === 200,
          { timeoutMs: 15_000 },
        );
      }
      const outcome = await restartUnderLoad(driver, {
        component: target.component,
        fromPod: RESTART_CLIENT,
        paths: target.paths,
        ratePerSecond: 100,
        timeoutMs: 3000,
        beforeMs: 1000,
        downMs: 300,
        afterMs: 1500,
      });
      for (const line of describeOutcome(target.label, outcome)) log(line);
      for (const path of target.paths) {
        const p = outcome.paths.find((x) => x.path === path.name);
        const where = `${target.label}, ${path.name} path`;
        check(p !== undefined && p.sent > 0, `${where}: no request was sent`);
        check(p.failedBeforeKill === 0, `${where}: ${p.failedBeforeKill} requests failed before the kill`);
        if (!target.proxy) {
          check(p.failed === 0, `${where}: restarting weftd must lose nothing, lost ${p.failed}`);
          continue;
        }
        check(
          p.failedAfterReady === 0,
          `${where}: ${p.failedAfterReady} requests sent after the restarted proxy was ready failed`,
        );
        check(
          p.succeededWhileGone === 0,
          `${where}: ${p.succeededWhileGone} requests succeeded while the proxy was gone (around the mesh?)`,
        );
        const after = await driver.request(RESTART_CLIENT, path.url);
        check(
          after.ok && after.response.status === 200,
          `${where}: after the restart: ${describeCall(after)}`,
        );
      }
    }
  },
};

const ok200 = (r: CallResult): boolean => r.ok && r.response.status === 200;

/**
 * A peer ztunnel killed while the source's pooled HBONE connection to it is idle: the kernel
 * closes it with FIN and no GOAWAY. The source's sockets are half-open, so before the fix nothing
 * closed that HTTP/2 session and every later CONNECT to the node waited on the dead connection
 * until the source ztunnel itself was restarted.
 */
export const idlePeerKill: Scenario = {
  name: 'idle-peer-ztunnel-kill',
  title:
    "a peer ztunnel killed while the source's pooled connection to it is idle: the next calls succeed once it is back",
  async run(driver, log) {
    const first = await eventually(
      'client -> server-l4',
      () => driver.request(RESTART_CLIENT, L4_PATH.url, { timeoutMs: 2000 }),
      ok200,
      { timeoutMs: 15_000 },
    );
    log(`client -> server-l4: ${describeCall(first)}`);
    await sleep(300); // the pooled connection is idle now
    await driver.killComponent('node-a');
    await driver.startComponent('node-a');
    const after = await eventually(
      'client -> server-l4 after node-a is back',
      () => driver.request(RESTART_CLIENT, L4_PATH.url, { timeoutMs: 3000 }),
      ok200,
      { timeoutMs: 5000 },
    );
    log(`node-a killed while idle and ready again; client -> server-l4: ${describeCall(after)}`);
  },
};

export const RESTART_SCENARIOS: readonly Scenario[] = [restartUnderLoadScenario, idlePeerKill];
