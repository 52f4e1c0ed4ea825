// Ambient L4 scenarios: mutual TLS with identities, live authorization changes, STRICT
// peer authentication, and the telemetry that proves each of them. The demo's services are bound
// to the namespace waypoint, so every call is two HBONE hops (client's ztunnel -> waypoint ->
// echo's ztunnel): each ztunnel sees the identity of the hop it talks to, and a policy that must
// see the client's identity targets the service (the waypoint enforces it).
import { httpVerdict, judgeCall } from '../denial.ts';
import type { CallResult, MeshDriver, StepLogger } from '../driver.ts';
import { eventually } from '../wait.ts';

export const ECHO_URL = 'http://echo.demo.svc.cluster.local:8080/';
export const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
export const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';
export const WAYPOINT_ID = 'spiffe://cluster.local/ns/demo/sa/waypoint';

export interface Scenario {
  readonly name: string;
  readonly title: string;
  run(driver: MeshDriver, log: StepLogger): Promise<void>;
}

export class ScenarioError extends Error {}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ScenarioError(message);
}

export function describeCall(result: CallResult): string {
  if (!result.ok) return `connection failed (${result.error})`;
  const r = result.response;
  let who = '';
  try {
    const body = JSON.parse(r.body) as { version?: string; pod?: string };
    if (body.pod) who = ` from ${body.pod}`;
  } catch {}
  return `HTTP ${r.status}${who}`;
}

const ok200 = (r: CallResult): boolean => r.ok && r.response.status === 200;

const DENY_CLIENT = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-client
  namespace: demo
spec:
  targetRefs:
    - group: ""
      kind: Service
      name: echo
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/demo/sa/client"]
`;

const PERMISSIVE_ECHO = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: echo-permissive
  namespace: demo
spec:
  selector:
    matchLabels:
      app: echo
  mtls:
    mode: PERMISSIVE
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: echo-direct-permissive
  namespace: demo
spec:
  selector:
    matchLabels:
      app: echo-direct
  mtls:
    mode: PERMISSIVE
`;

/** Lines of Prometheus text for `metric` whose labels contain every `want` pair. */
export function metricLines(text: string, metric: string, want: Record<string, string>): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`))
    .filter((line) => Object.entries(want).every(([k, v]) => line.includes(`${k}="${v}"`)));
}

export const mtlsIdentities: Scenario = {
  name: 'mtls-identities',
  title: 'client -> waypoint -> echo, HBONE mutual TLS on each hop, every SPIFFE identity seen',
  async run(driver, log) {
    const result = await eventually(
      'client -> echo to succeed',
      () => driver.request('client', ECHO_URL),
      ok200,
      {
        timeoutMs: 20_000,
      },
    );
    log(`client -> ${ECHO_URL}: ${describeCall(result)}`);
    const out = await eventually(
      "the client node's access log to show the hop to the waypoint",
      async () =>
        (await driver.accessLog('node-b')).filter(
          (l) => l.includes('reporter=source') && l.includes(CLIENT_ID) && l.includes(WAYPOINT_ID),
        ),
      (lines) => lines.length > 0,
    );
    log(`node-b ztunnel (client's node): ${out.at(-1)}`);
    // echo-v1 (node-a) serves 90% of echo's calls. The waypoint keeps its tunnels to endpoints
    // open (pooled), and ztunnel writes an access-log line when a connection closes: the opened
    // connection shows in node-a's metrics at once.
    const into = await eventually(
      "echo-v1's node to count a tunnel from the waypoint",
      async () => {
        await driver.request('client', ECHO_URL);
        return metricLines(await driver.metrics('node-a'), 'istio_tcp_connections_opened_total', {
          reporter: 'destination',
          source_principal: WAYPOINT_ID,
          destination_principal: ECHO_ID,
          connection_security_policy: 'mutual_tls',
        });
      },
      (lines) => lines.length > 0,
    );
    log(`node-a ztunnel (echo-v1's node): ${into.at(-1)}`);
  },
};

export const denyPolicyLive: Scenario = {
  name: 'deny-policy-live',
  title:
    'a DENY AuthorizationPolicy on the echo Service blocks the client within a second (the waypoint enforces it); removing it restores the call',
  async run(driver, log) {
    check(ok200(await driver.request('client', ECHO_URL)), 'client -> echo must work before the policy');
    const t0 = Date.now();
    await driver.apply('deny-client.yaml', DENY_CLIENT);
    log(
      'applied AuthorizationPolicy demo/deny-client (targetRefs Service echo, DENY from principal cluster.local/ns/demo/sa/client)',
    );
    // The waypoint enforces it at L7: a denial is its 403, not any failed call.
    const denied = await eventually(
      'the DENY policy to block client -> echo (HTTP 403 from the waypoint)',
      () => driver.request('client', ECHO_URL, { timeoutMs: 2000 }),
      (r) => httpVerdict(r) === 'denied',
      { timeoutMs: 5000, intervalMs: 50 },
    );
    const blockedMs = Date.now() - t0;
    log(`client -> echo: ${describeCall(denied)} (blocked ${blockedMs} ms after the write)`);
    check(blockedMs <= 1000, `the DENY policy took ${blockedMs} ms to apply; the goal is 1 s`);
    const t1 = Date.now();
    await driver.remove('deny-client.yaml');
    const restored = await eventually(
      'client -> echo to work again',
      () => driver.request('client', ECHO_URL),
      ok200,
      {
        timeoutMs: 5000,
        intervalMs: 50,
      },
    );
    log(
      `removed the policy: client -> echo: ${describeCall(restored)} (${Date.now() - t1} ms after the removal)`,
    );
  },
};

export const strictRefusesPlaintext: Scenario = {
  name: 'strict-refuses-plaintext',
  title:
    'STRICT PeerAuthentication refuses a plaintext caller; PERMISSIVE lets it in, except to a port a waypoint guards',
  async run(driver, log) {
    // echo-direct's ztunnel refuses plaintext under STRICT, and counts it; echo-v1's refuses a
    // plaintext caller skipping the waypoint, and counts that.
    const strict = [{ component: driver.nodeOf('echo-direct'), reasons: ['strict_mtls'] }];
    const bypass = [{ component: driver.nodeOf('echo-v1'), reasons: ['waypoint_bypass'] }];
    const refused = await judgeCall(driver, strict, () => driver.plaintextRequest('echo-direct', 8080, '/'));
    log(`plaintext caller -> echo-direct:8080 under mesh-wide STRICT: ${refused.detail}`);
    check(refused.verdict === 'denied', `a plaintext caller must be refused under STRICT: ${refused.detail}`);
    await driver.apply('echo-permissive.yaml', PERMISSIVE_ECHO);
    const allowed = await eventually(
      'PERMISSIVE to let the plaintext caller in',
      () => driver.plaintextRequest('echo-direct', 8080, '/'),
      ok200,
      { timeoutMs: 5000, intervalMs: 50 },
    );
    log(`with PeerAuthentication demo/echo-direct-permissive (PERMISSIVE): ${describeCall(allowed)}`);
    // echo-v1 is PERMISSIVE too, but the services that select it are bound to the waypoint: a
    // plaintext caller would skip the waypoint's L7 policy, so it is refused.
    const guarded = await judgeCall(driver, bypass, () => driver.plaintextRequest('echo-v1', 8080, '/'));
    log(`plaintext caller -> echo-v1:8080 (PERMISSIVE, behind the waypoint): ${guarded.detail}`);
    check(
      guarded.verdict === 'denied',
      `a plaintext caller must not reach a port the waypoint guards, even under PERMISSIVE: ${guarded.detail}`,
    );
    await driver.remove('echo-permissive.yaml');
    await eventually(
      'STRICT to apply again',
      () => judgeCall(driver, strict, () => driver.plaintextRequest('echo-direct', 8080, '/')),
      (j) => j.verdict === 'denied',
      { timeoutMs: 5000, intervalMs: 50 },
    );
    log('removed them: plaintext refused again');
  },
};

export const tcpMetrics: Scenario = {
  name: 'tcp-metrics',
  title: 'Istio TCP metrics from both ztunnels prove what happened (client -> waypoint, waypoint -> echo)',
  async run(driver, log) {
    check(ok200(await driver.request('client', ECHO_URL)), 'client -> echo must work');
    const src = await eventually(
      'source-side TCP metrics on node-b (client -> waypoint)',
      async () =>
        metricLines(await driver.metrics('node-b'), 'istio_tcp_connections_opened_total', {
          source_workload: 'client',
          destination_workload: 'waypoint-0',
          reporter: 'source',
          connection_security_policy: 'mutual_tls',
        }),
      (lines) => lines.length > 0,
    );
    const into = { source_principal: WAYPOINT_ID, destination_workload: 'echo-v1' };
    const dest = await eventually(
      'destination-side TCP metrics on node-a (waypoint -> echo-v1)',
      async () => {
        await driver.request('client', ECHO_URL);
        return metricLines(await driver.metrics('node-a'), 'istio_tcp_connections_opened_total', {
          ...into,
          reporter: 'destination',
          connection_security_policy: 'mutual_tls',
        });
      },
      (lines) => lines.length > 0,
    );
    for (const line of [...src, ...dest]) log(line);
    // Bytes are counted when a connection closes: the client's connections do, the waypoint's
    // pooled tunnels to echo stay open.
    const sent = metricLines(await driver.metrics('node-b'), 'istio_tcp_sent_bytes_total', {
      source_workload: 'client',
      destination_workload: 'waypoint-0',
    });
    check(sent.length > 0, 'istio_tcp_sent_bytes_total must be reported on node-b');
    log(sent[0] ?? '');
  },
};

export const L4_SCENARIOS: readonly Scenario[] = [
  mtlsIdentities,
  denyPolicyLive,
  strictRefusesPlaintext,
  tcpMetrics,
];
