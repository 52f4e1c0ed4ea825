// Ambient L7 scenarios, through the namespace waypoint: weighted routing, header matches, fault
// injection, retries hiding a flaky backend, HTTP authorization, and the waypoint's metrics.
// Every call goes client -> client's ztunnel -> (HBONE) waypoint -> (HBONE) echo's ztunnel -> echo.
import type { CallResult, MeshDriver, RequestOptions } from '../driver.ts';
import { eventually } from '../wait.ts';
import { CLIENT_ID, check, describeCall, ECHO_URL, metricLines, type Scenario } from './l4.ts';

const ECHO_V1_URL = 'http://echo-v1.demo.svc.cluster.local:8080/';
const FLAKY_URL = 'http://echo-flaky.demo.svc.cluster.local:8080/';
export const WAYPOINT_POD = 'waypoint-0';

const ok200 = (r: CallResult): boolean => r.ok && r.response.status === 200;
const statusOf = (r: CallResult): number | string => (r.ok ? r.response.status : 'error');

function bodyOf(r: CallResult): { version?: string; pod?: string; seq?: number } {
  if (!r.ok) return {};
  try {
    return JSON.parse(r.response.body) as { version?: string; pod?: string; seq?: number };
  } catch {
    return {};
  }
}

/** `count` requests from the client, `concurrency` at a time, results in order. */
async function requests(
  driver: MeshDriver,
  url: string,
  count: number,
  opts: RequestOptions & { concurrency?: number } = {},
): Promise<CallResult[]> {
  const { concurrency = 1, ...request } = opts;
  const out: CallResult[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await driver.request('client', url, { timeoutMs: 5000, ...request });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

function tally(results: readonly CallResult[], key: (r: CallResult) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of results) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
  return m;
}

const show = (m: Map<string, number>): string =>
  [...m]
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export const weightedSplit: Scenario = {
  name: 'l7-weighted-split',
  title: 'the waypoint splits echo 90/10 between v1 and v2 (HTTPRoute weights), measured over 200 requests',
  async run(driver, log) {
    await eventually('client -> echo through the waypoint', () => driver.request('client', ECHO_URL), ok200, {
      timeoutMs: 20_000,
    });
    const results = await requests(driver, ECHO_URL, 200, { concurrency: 8 });
    const byVersion = tally(results, (r) => (ok200(r) ? (bodyOf(r).version ?? '?') : `HTTP ${statusOf(r)}`));
    const v2 = byVersion.get('v2') ?? 0;
    const v1 = byVersion.get('v1') ?? 0;
    log(
      `200 requests to echo: ${show(byVersion)} (v2 share ${((100 * v2) / 200).toFixed(1)}%, route says 10%)`,
    );
    check(v1 + v2 === 200, `every request must reach v1 or v2: ${show(byVersion)}`);
    check(v2 >= 8 && v2 <= 40, `v2 share ${v2}/200 is outside the 4%..20% band`);
  },
};

export const headerMatch: Scenario = {
  name: 'l7-header-match',
  title: 'a request with x-version: v2 is pinned to v2 (HTTPRoute header match)',
  async run(driver, log) {
    const results = await requests(driver, ECHO_URL, 20, { headers: { 'x-version': 'v2' }, concurrency: 4 });
    const byPod = tally(results, (r) => (ok200(r) ? (bodyOf(r).pod ?? '?') : `HTTP ${statusOf(r)}`));
    log(`20 requests with x-version: v2: ${show(byPod)}`);
    check(byPod.get('echo-v2') === 20, `all must reach echo-v2: ${show(byPod)}`);
  },
};

const FAULT_ECHO_V1 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo-v1-fault
  namespace: demo
spec:
  hosts:
    - echo-v1.demo.svc.cluster.local
  http:
    - fault:
        abort:
          httpStatus: 503
          percentage:
            value: 50
      route:
        - destination:
            host: echo-v1.demo.svc.cluster.local
`;

export const faultAbort: Scenario = {
  name: 'l7-fault-abort',
  title:
    'an injected abort (VirtualService fault, 50%) answers 503 for about half the requests; removed, all pass',
  async run(driver, log) {
    await driver.apply('echo-v1-fault.yaml', FAULT_ECHO_V1);
    log('applied VirtualService demo/echo-v1-fault (abort 503 for 50% of requests to echo-v1)');
    try {
      await eventually(
        'the fault to apply',
        async () => requests(driver, ECHO_V1_URL, 10, { concurrency: 5 }),
        (rs) => rs.some((r) => r.ok && r.response.status === 503),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const results = await requests(driver, ECHO_V1_URL, 100, { concurrency: 8 });
      const byStatus = tally(results, (r) => `HTTP ${statusOf(r)}`);
      const aborted = byStatus.get('HTTP 503') ?? 0;
      log(`100 requests to echo-v1: ${show(byStatus)} (${aborted}% aborted by the waypoint)`);
      check(aborted >= 30 && aborted <= 70, `503 share ${aborted}% is outside 30%..70%`);
      check(
        aborted + (byStatus.get('HTTP 200') ?? 0) === 100,
        `only 200 and 503 expected: ${show(byStatus)}`,
      );
    } finally {
      await driver.remove('echo-v1-fault.yaml');
    }
    const clean = await eventually(
      'the fault to go away',
      () => requests(driver, ECHO_V1_URL, 20, { concurrency: 5 }),
      (rs) => rs.every(ok200),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    log(`removed it: 20 requests to echo-v1: ${show(tally(clean, (r) => `HTTP ${statusOf(r)}`))}`);
  },
};

const flakyRoute = (retry: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: echo-flaky
  namespace: demo
spec:
  parentRefs:
    - group: ""
      kind: Service
      name: echo-flaky
      port: 8080
  rules:
    - backendRefs:
        - name: echo-flaky
          port: 8080
      retry:
${retry}
`;

/** Request numbers the backend used that no reply showed: answers the client never got. */
function unseen(results: readonly CallResult[]): number[] {
  const seqs = results.map((r) => bodyOf(r).seq).filter((s): s is number => typeof s === 'number');
  if (seqs.length === 0) return [];
  const seen = new Set(seqs);
  const out: number[] = [];
  for (let s = Math.min(...seqs); s <= Math.max(...seqs); s++) if (!seen.has(s)) out.push(s);
  return out;
}

export const retryHidesFlaky: Scenario = {
  name: 'l7-retry',
  title: 'retries hide a flaky backend (echo-flaky answers 503 to every third request)',
  async run(driver, log) {
    await driver.apply('echo-flaky-route.yaml', flakyRoute('        attempts: 0'));
    try {
      const raw = await eventually(
        'the route without retries to apply',
        () => requests(driver, FLAKY_URL, 9),
        (rs) => rs.some((r) => r.ok && r.response.status === 503),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      log(
        `HTTPRoute demo/echo-flaky with retry.attempts 0: 9 requests: ${show(tally(raw, (r) => `HTTP ${statusOf(r)}`))}`,
      );
      await driver.apply('echo-flaky-route.yaml', flakyRoute('        attempts: 2\n        codes: [503]'));
      await eventually(
        'the route with retries to apply',
        () => requests(driver, FLAKY_URL, 9),
        (rs) => rs.every(ok200),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const results = await requests(driver, FLAKY_URL, 30);
      const byStatus = tally(results, (r) => `HTTP ${statusOf(r)}`);
      const hidden = unseen(results);
      log(`with retry { attempts: 2, codes: [503] }: 30 requests: ${show(byStatus)}`);
      log(
        `the backend served ${hidden.length} 503s the client never saw (requests #${hidden.join(', #')} at echo-flaky, retried by the waypoint)`,
      );
      check(byStatus.get('HTTP 200') === 30, `every request must succeed: ${show(byStatus)}`);
      check(
        hidden.length >= 8,
        `echo-flaky must have answered about 10 of ~45 attempts with 503, saw ${hidden.length}`,
      );
    } finally {
      await driver.remove('echo-flaky-route.yaml');
    }
  },
};

const ALLOW_GET = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: echo-get-only
  namespace: demo
spec:
  targetRefs:
    - group: ""
      kind: Service
      name: echo
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/demo/sa/client"]
      to:
        - operation:
            methods: ["GET"]
`;

export const l7Authorization: Scenario = {
  name: 'l7-authz',
  title: 'an L7 AuthorizationPolicy on the echo Service allows GET and denies DELETE (403, by the waypoint)',
  async run(driver, log) {
    await driver.apply('echo-get-only.yaml', ALLOW_GET);
    log(
      'applied AuthorizationPolicy demo/echo-get-only (targetRefs Service echo, ALLOW GET from the client)',
    );
    try {
      const del = await eventually(
        'DELETE to be denied',
        () => driver.request('client', ECHO_URL, { method: 'DELETE', timeoutMs: 3000 }),
        (r) => r.ok && r.response.status === 403,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const get = await driver.request('client', ECHO_URL);
      log(`GET ${ECHO_URL}: ${describeCall(get)}`);
      log(
        `DELETE ${ECHO_URL}: ${describeCall(del)}${del.ok ? ` ${del.response.body.trim().slice(0, 80)}` : ''}`,
      );
      check(ok200(get), `GET must pass: ${describeCall(get)}`);
    } finally {
      await driver.remove('echo-get-only.yaml');
    }
    const after = await eventually(
      'DELETE to pass again',
      () => driver.request('client', ECHO_URL, { method: 'DELETE', timeoutMs: 3000 }),
      ok200,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    log(`removed it: DELETE ${ECHO_URL}: ${describeCall(after)}`);
  },
};

export const waypointMetrics: Scenario = {
  name: 'l7-metrics',
  title: 'the waypoint reports Istio HTTP metrics (reporter="waypoint") on its 15020',
  async run(driver, log) {
    await driver.request('client', ECHO_URL);
    const lines = await eventually(
      'istio_requests_total{reporter="waypoint"} for the client',
      async () =>
        metricLines(await driver.metrics(WAYPOINT_POD), 'istio_requests_total', {
          reporter: 'waypoint',
          source_principal: CLIENT_ID,
          destination_workload: 'echo-v1',
          response_code: '200',
        }),
      (ls) => ls.length > 0,
    );
    for (const line of lines.slice(0, 2)) log(line);
    const denied = metricLines(await driver.metrics(WAYPOINT_POD), 'istio_requests_total', {
      reporter: 'waypoint',
      response_code: '403',
    });
    if (denied.length > 0) log(denied[0] ?? '');
    const durations = metricLines(
      await driver.metrics(WAYPOINT_POD),
      'istio_request_duration_milliseconds_count',
      {
        reporter: 'waypoint',
      },
    );
    check(durations.length > 0, 'istio_request_duration_milliseconds must be reported');
  },
};

export const L7_SCENARIOS: readonly Scenario[] = [
  weightedSplit,
  headerMatch,
  faultAbort,
  retryHidesFlaky,
  l7Authorization,
  waypointMetrics,
];
