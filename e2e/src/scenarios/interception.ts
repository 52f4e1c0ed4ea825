// Scenarios only real interception can show (the netns tier): apps that know nothing of the mesh
// dial plain pod IPs and service VIPs and are meshed by their pod's rules; a running pod joins and
// leaves the mesh without a restart; node probes reach apps under STRICT; a sidecar's own traffic
// is not captured again; the node agent and ztunnel restart under traffic; IPv6 works as IPv4 does.
import { judgeCall } from '../denial.ts';
import type { CallResult, MeshDriver } from '../driver.ts';
import { eventually } from '../wait.ts';
import { CLIENT_ID, check, describeCall, ECHO_URL, type Scenario } from './l4.ts';

/** What the interception scenarios ask of a driver beyond MeshDriver (the netns driver has it). */
export interface InterceptionDriver extends MeshDriver {
  /** Sets (or, with undefined, removes) a running pod's data-plane mode label. */
  setPodMode(pod: string, mode: 'ambient' | 'sidecar' | 'none' | undefined): Promise<void>;
  /** The OS process id of a pod's app. */
  appPid(pod: string): number | undefined;
  /** An HTTP GET from the pod's node (a kubelet probe): the status, 0 when it failed. */
  probe(pod: string, port: number, path: string): Promise<number>;
  /** The nat rules inside a pod's netns (IPv4 then IPv6), counters and comments removed. */
  podRules(pod: string): Promise<string>;
  /** A pod's IPv6 address. */
  podIp6(pod: string): string | undefined;
  /** A service's IPv6 VIP, by its cluster DNS name. */
  serviceIp6(host: string): string;
}

const ok200 = (r: CallResult): boolean => r.ok && r.response.status === 200;
const ECHO_DIRECT = 'echo-direct';
const PLAIN_ECHO = 'plain-echo';
const SIDECAR_CLIENT = 'sidecar-client';
const urlFor = (ip: string, path = '/'): string => `http://${ip.includes(':') ? `[${ip}]` : ip}:8080${path}`;

function interception(driver: MeshDriver): InterceptionDriver {
  const d = driver as Partial<InterceptionDriver>;
  check(typeof d.setPodMode === 'function', `the ${driver.name} driver has no interception`);
  return driver as InterceptionDriver;
}

async function ztunnelSaw(driver: MeshDriver, node: string, needle: string, since: number): Promise<boolean> {
  const lines = await driver.accessLog(node);
  return lines.slice(since).some((l) => l.includes(needle));
}

const NODES = ['node-a', 'node-b'] as const;
const logLengths = async (d: MeshDriver): Promise<number[]> =>
  Promise.all(NODES.map(async (n) => (await d.accessLog(n)).length));
async function anyZtunnelSaw(d: MeshDriver, needle: string, since: readonly number[]): Promise<boolean> {
  const seen = await Promise.all(NODES.map((n, i) => ztunnelSaw(d, n, needle, since[i] ?? 0)));
  return seen.some((v) => v);
}

const meshedUnaware: Scenario = {
  name: 'unaware-app',
  title: 'an app with no mesh awareness dials a pod IP and a service VIP, over IPv4 and IPv6, and is meshed',
  async run(driver, log) {
    const d = interception(driver);
    for (const [what, url] of [
      ['echo-direct by pod IPv4', urlFor(d.podIp(ECHO_DIRECT))],
      ['echo-direct by pod IPv6', urlFor(d.podIp6(ECHO_DIRECT) ?? '::1')],
      ['echo by service VIP (IPv4, through the waypoint)', ECHO_URL],
      [
        'echo by service VIP (IPv6, through the waypoint)',
        urlFor(d.serviceIp6('echo.demo.svc.cluster.local')),
      ],
    ] as const) {
      const before = await logLengths(d);
      const r = await eventually(
        `client -> ${what}`,
        () => d.request('client', url, { timeoutMs: 3000 }),
        ok200,
      );
      log(`client (ambient, plain socket) -> ${what}: ${describeCall(r)}`);
      // The destination side ran through a ztunnel that saw the caller's mesh identity (directly,
      // or the waypoint's on the second hop).
      const seen = await eventually(
        `a ztunnel to log the call to ${what} with a mesh identity`,
        () => anyZtunnelSaw(d, 'spiffe://cluster.local/ns/demo/sa/', before),
        (v) => v,
        { timeoutMs: 3000 },
      );
      check(seen, `no mesh identity in the ztunnels' access logs for ${what}`);
    }
  },
};

const probeUnderStrict: Scenario = {
  name: 'probe-under-strict',
  title: 'under STRICT a plaintext caller is refused, while the node still probes the app',
  async run(driver, log) {
    const d = interception(driver);
    // Refused by echo-direct's ztunnel, which counts it: not merely a call that failed.
    const plain = await judgeCall(d, [{ component: d.nodeOf(ECHO_DIRECT), reasons: ['strict_mtls'] }], () =>
      d.plaintextRequest(ECHO_DIRECT, 8080, '/healthz'),
    );
    log(`outside caller -> echo-direct:8080 (STRICT): ${plain.detail}`);
    check(
      plain.verdict === 'denied',
      `a plaintext caller was not refused by echo-direct's ztunnel: ${plain.detail}`,
    );
    for (const pod of [ECHO_DIRECT, 'sidecar-echo']) {
      const status = await d.probe(pod, 8080, '/healthz');
      log(`node probe -> ${pod}:8080/healthz: HTTP ${status}`);
      check(status === 200, `the node's probe of ${pod} got ${status}, not 200`);
    }
  },
};

const enrollRunning: Scenario = {
  name: 'enroll-running-pod',
  title: 'a running pod joins the ambient mesh and leaves it again without a restart',
  async run(driver, log) {
    const d = interception(driver);
    const pid = d.appPid(PLAIN_ECHO);
    const before = await d.plaintextRequest(PLAIN_ECHO, 8080, '/');
    log(`outside caller -> plain-echo (not in the mesh): ${describeCall(before)}`);
    check(
      ok200(before),
      `plain-echo should answer a plaintext caller before it joins: ${describeCall(before)}`,
    );
    check(!(await d.podRules(PLAIN_ECHO)).includes('WEFT'), 'plain-echo has Weft rules before it joins');

    await d.setPodMode(PLAIN_ECHO, 'ambient');
    await eventually(
      'plain-echo to get its rules',
      () => d.podRules(PLAIN_ECHO),
      (r) => r.includes('WEFT'),
      {
        timeoutMs: 10_000,
      },
    );
    const refused = await eventually(
      "plain-echo's ztunnel to refuse plaintext (STRICT) once enrolled",
      () =>
        judgeCall(d, [{ component: d.nodeOf(PLAIN_ECHO), reasons: ['strict_mtls'] }], () =>
          d.plaintextRequest(PLAIN_ECHO, 8080, '/'),
        ),
      (j) => j.verdict === 'denied',
      { timeoutMs: 10_000 },
    );
    log(`enrolled: outside caller -> plain-echo: ${refused.detail}`);
    const meshed = await eventually(
      'client -> plain-echo through HBONE',
      () => d.request('client', urlFor(d.podIp(PLAIN_ECHO)), { timeoutMs: 3000 }),
      ok200,
    );
    log(`enrolled: client -> plain-echo: ${describeCall(meshed)}`);
    check(d.appPid(PLAIN_ECHO) === pid, 'plain-echo was restarted to join the mesh');

    await d.setPodMode(PLAIN_ECHO, undefined);
    await eventually(
      'plain-echo to lose its rules',
      () => d.podRules(PLAIN_ECHO),
      (r) => !r.includes('WEFT'),
      {
        timeoutMs: 10_000,
      },
    );
    const direct = await eventually(
      'plain-echo to answer plaintext again',
      () => d.plaintextRequest(PLAIN_ECHO, 8080, '/'),
      ok200,
      { timeoutMs: 10_000 },
    );
    log(
      `unenrolled: outside caller -> plain-echo: ${describeCall(direct)} (same process: ${d.appPid(PLAIN_ECHO) === pid})`,
    );
    check(d.appPid(PLAIN_ECHO) === pid, 'plain-echo was restarted to leave the mesh');
  },
};

const sidecarNoLoop: Scenario = {
  name: 'sidecar-no-loop',
  title: "a sidecar's own connections are not captured again (uid 1337 excluded)",
  async run(driver, log) {
    const d = interception(driver);
    const rules = await d.podRules(SIDECAR_CLIENT);
    check(rules.includes('--uid-owner 1337'), "sidecar-client's rules do not exclude the proxy's uid");
    for (const url of [urlFor(d.podIp(ECHO_DIRECT)), 'http://sidecar-echo.hybrid.svc.cluster.local:8080/']) {
      const r = await eventually(
        `sidecar-client -> ${url}`,
        () => d.request(SIDECAR_CLIENT, url, { timeoutMs: 3000 }),
        ok200,
      );
      log(`sidecar-client (plain socket, captured by its sidecar) -> ${url}: ${describeCall(r)}`);
    }
  },
};

const agentRestart: Scenario = {
  name: 'node-agent-restart',
  title: 'the node agent is killed and restarted under traffic: traffic flows, rules are reconciled',
  async run(driver, log) {
    const d = interception(driver);
    const url = urlFor(d.podIp(ECHO_DIRECT));
    const rulesBefore = await d.podRules(ECHO_DIRECT);
    let failures = 0;
    let total = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        total++;
        if (!ok200(await d.request('client', url, { timeoutMs: 3000 }))) failures++;
      }
    })();
    await d.killComponent('node-agent-node-a');
    await new Promise((r) => setTimeout(r, 500));
    await d.startComponent('node-agent-node-a');
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await traffic;
    const rulesAfter = await d.podRules(ECHO_DIRECT);
    log(`${total} requests while node-a's agent was killed and restarted: ${failures} failed`);
    check(failures === 0, `${failures} of ${total} requests failed while only the node agent restarted`);
    check(
      rulesAfter === rulesBefore,
      `echo-direct's rules changed across the agent's restart:\n${rulesBefore}\n---\n${rulesAfter}`,
    );
  },
};

const ztunnelRestart: Scenario = {
  name: 'ztunnel-restart-in-pod',
  title:
    "ztunnel is killed and restarted under traffic: in-pod listeners come back from the agent's snapshot",
  async run(driver, log) {
    const d = interception(driver);
    const url = urlFor(d.podIp(ECHO_DIRECT));
    await d.killComponent('node-a');
    const down = await d.request('client', url, { timeoutMs: 2000 });
    log(`node-a's ztunnel killed: client -> echo-direct: ${describeCall(down)}`);
    const started = Date.now();
    await d.startComponent('node-a');
    const back = await eventually(
      'client -> echo-direct after the restart',
      () => d.request('client', url, { timeoutMs: 3000 }),
      ok200,
      {
        timeoutMs: 20_000,
      },
    );
    log(`restarted: ${describeCall(back)} ${Date.now() - started} ms after the start`);
    // The access-log line is written when the connection ends, just after the answer.
    const seen = await eventually(
      "node-a's restarted ztunnel to log the client's identity",
      () => ztunnelSaw(d, 'node-a', CLIENT_ID, 0),
      (v) => v,
      { timeoutMs: 3000 },
    );
    check(seen, "node-a's restarted ztunnel did not log the client's identity");
  },
};

export const INTERCEPTION_SCENARIOS: readonly Scenario[] = [
  meshedUnaware,
  probeUnderStrict,
  enrollRunning,
  sidecarNoLoop,
  agentRestart,
  ztunnelRestart,
];
