// Reliability scenarios: the data plane keeps working on its last config while the control
// plane is away, resyncs when it returns, and a restarted ztunnel serves new connections at once.
import { judgeCall } from '../denial.ts';
import type { CallResult, MeshDriver } from '../driver.ts';
import { eventually } from '../wait.ts';
import { check, describeCall, ECHO_URL, type Scenario } from './l4.ts';

const ok200 = (r: CallResult): boolean => r.ok && r.response.status === 200;

const DENY_ALL_TO_ECHO = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-after-restart
  namespace: demo
spec:
  selector:
    matchLabels:
      app: echo
  action: DENY
  rules:
    - from:
        - source:
            namespaces: ["demo"]
`;

export const controlPlaneAway: Scenario = {
  name: 'control-plane-away',
  title: 'weftd stopped: open and new connections keep working on the last config; restarted: proxies resync',
  async run(driver: MeshDriver, log) {
    const conn = await driver.openConnection('client', ECHO_URL);
    try {
      const first = await conn.get('/before');
      check(first.status === 200, `kept connection: first request got ${first.status}`);
      await driver.stopComponent('weftd');
      log('stopped weftd');
      const again = await conn.get('/during');
      check(
        again.status === 200,
        `the open connection must keep working without weftd (got ${again.status})`,
      );
      log(`open connection, another request without weftd: HTTP ${again.status}`);
      const fresh = await driver.request('client', ECHO_URL);
      check(ok200(fresh), `a new connection must work on the last config: ${describeCall(fresh)}`);
      log(`new connection without weftd: ${describeCall(fresh)}`);
      // A policy written while weftd is down takes effect once it is back and proxies resync.
      await driver.apply('deny-after-restart.yaml', DENY_ALL_TO_ECHO);
      await driver.startComponent('weftd');
      log('wrote a DENY policy while weftd was down, then started weftd');
      // The policy selects echo's pods: their ztunnels refuse the waypoint's tunnel (it comes from
      // namespace demo) and count it; the client sees the waypoint's 503.
      const refusers = ['echo-v1', 'echo-v2'].map((pod) => ({
        component: driver.nodeOf(pod),
        reasons: ['denied'],
      }));
      const denied = await eventually(
        'proxies to resync and apply the new policy',
        () => judgeCall(driver, refusers, () => driver.request('client', ECHO_URL, { timeoutMs: 2000 })),
        (j) => j.verdict === 'denied',
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      log(`after the restart: ${denied.detail} (the ztunnels resynced)`);
    } finally {
      conn.close();
      await driver.remove('deny-after-restart.yaml');
    }
    const back = await eventually(
      'client -> echo to work again',
      () => driver.request('client', ECHO_URL),
      ok200,
      {
        timeoutMs: 10_000,
      },
    );
    log(`policy removed: ${describeCall(back)}`);
  },
};

// echo-v1 alone (node-a): `echo` also routes 10% to echo-v2 on node-b.
const ECHO_V1_URL = 'http://echo-v1.demo.svc.cluster.local:8080/';

export const ztunnelRestart: Scenario = {
  name: 'ztunnel-restart',
  title: 'a restarted ztunnel serves new connections as soon as it is ready',
  async run(driver, log) {
    // The previous scenario's policy removal may still be on its way to node-a.
    await eventually('client -> echo-v1 to work first', () => driver.request('client', ECHO_V1_URL), ok200, {
      timeoutMs: 10_000,
    });
    await driver.stopComponent('node-a');
    const down = await driver.request('client', ECHO_V1_URL, { timeoutMs: 2000 });
    log(`node-a's ztunnel stopped: client -> echo-v1: ${describeCall(down)}`);
    check(!ok200(down), 'with the destination ztunnel down the call must fail, not bypass the mesh');
    const t0 = Date.now();
    await driver.startComponent('node-a');
    const up = await driver.request('client', ECHO_V1_URL);
    log(`node-a ready again after ${Date.now() - t0} ms; the first new call: ${describeCall(up)}`);
    check(ok200(up), `the first call after the restart must work: ${describeCall(up)}`);
  },
};

export const RELIABILITY_SCENARIOS: readonly Scenario[] = [controlPlaneAway, ztunnelRestart];
