// `weft dashboard` against the running mesh, in headless Debian Chromium: the page draws the
// demo's workloads in their data-plane mode's colour, shows live traffic on the edges, and turns
// an edge red when a DENY policy refuses the call.
//
// The dashboard and its Chromium helper live in apps/cli (playwright-core is its dev
// dependency), loaded here by path, built dist/ first, else the TypeScript source (tsx, Bun,
// vitest): the e2e package does not depend on the CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { httpVerdict } from '../denial.ts';
import type { MeshDriver, StepLogger } from '../driver.ts';
import { eventually } from '../wait.ts';
import { check, describeCall, ECHO_URL, type Scenario } from './l4.ts';

const CHROMIUM = '/usr/bin/chromium';
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const DENY_CLIENT = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dashboard-deny-client
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

/** Workloads the page must draw, with the mode whose colour each must have. */
const EXPECTED: readonly (readonly [string, string])[] = [
  ['wl:demo/client', 'ambient'],
  ['wl:demo/echo-v1', 'ambient'],
  ['wl:demo/echo-v2', 'ambient'],
  ['wl:demo/waypoint-0', 'waypoint'],
  ['wl:hybrid/sidecar-client', 'sidecar'],
  ['wl:hybrid/sidecar-echo', 'sidecar'],
  ['wl:hybrid/plain-echo', 'none'],
  ['wl:proxyless/grpc-echo-v1', 'proxyless'],
];

interface DrawnGraph {
  readonly nodes: { id: string; mode: string; fill: string | null }[];
  readonly edges: {
    id: string;
    source: string;
    target: string;
    denied: boolean;
    mtls: string;
    label: string;
    stroke: string;
  }[];
}
interface PageLike {
  goto(url: string): Promise<unknown>;
  waitForSelector(selector: string, opts?: { timeout?: number }): Promise<unknown>;
  on(event: 'pageerror', listener: (err: Error) => void): unknown;
  close(): Promise<void>;
}
interface DashboardModule {
  readDashboardInputs(
    workDir: string,
  ): Promise<
    | { ok: true; value: { weftdAdmin: string; token: string; endpoints: unknown } }
    | { ok: false; error: string }
  >;
  startDashboard(opts: {
    weftdAdmin: string;
    token: string;
    endpoints: unknown;
    listen: string;
    pollMs: number;
  }): Promise<{ url: string; close(): Promise<void> }>;
  MODE_COLOURS: Readonly<Record<string, string>>;
  DENY_COLOUR: string;
}
interface ChromiumModule {
  launchChromium(): Promise<{ newPage(): Promise<PageLike>; close(): Promise<void> }>;
  readDrawnGraph(page: PageLike): Promise<DrawnGraph>;
}

async function loadCli<T>(module: string): Promise<T> {
  const dist = `${REPO_ROOT}apps/cli/dist/dashboard/${module}.js`;
  const file = existsSync(dist) ? dist : `${REPO_ROOT}apps/cli/src/dashboard/${module}.ts`;
  return (await import(pathToFileURL(file).href)) as T;
}

const rate = (label: string): number => Number(/([\d.]+) rps/.exec(label)?.[1] ?? '0');

function rgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

/**
 * The dashboard for the demo: serves the running local mesh's graph on `listen` until closed.
 * Throws when the dashboard cannot start (e.g. the address is taken).
 */
export async function startDemoDashboard(
  driver: MeshDriver,
  listen = '127.0.0.1:15030',
): Promise<{ url: string; close(): Promise<void> }> {
  const cli = await loadCli<DashboardModule>('index');
  const inputs = await cli.readDashboardInputs(driver.workDir);
  if (!inputs.ok) throw new Error(inputs.error);
  return await cli.startDashboard({ ...inputs.value, listen, pollMs: 2000 });
}

export const dashboardGraph: Scenario = {
  name: 'dashboard',
  title: 'weft dashboard: the live mesh graph in headless Chromium (modes, traffic, a DENY edge)',
  async run(driver: MeshDriver, log: StepLogger): Promise<void> {
    if (!existsSync(CHROMIUM)) {
      log(`skipped: ${CHROMIUM} is missing (apt-get install chromium, or scripts/setup.sh --system)`);
      return;
    }
    if (driver.name !== 'local') {
      // The netns tier's endpoints.json names no waypoint or sidecar metrics: no L7 edge to see.
      log(
        `skipped: the dashboard reads the local demo's endpoints.json; the ${driver.name} tier writes another`,
      );
      return;
    }
    const cli = await loadCli<DashboardModule>('index');
    const { launchChromium, readDrawnGraph } = await loadCli<ChromiumModule>('chromium');
    const inputs = await cli.readDashboardInputs(driver.workDir);
    if (!inputs.ok) throw new Error(inputs.error);
    const dashboard = await cli.startDashboard({ ...inputs.value, listen: '127.0.0.1:0', pollMs: 500 });
    const browser = await launchChromium();
    let applied = false;
    try {
      log(`dashboard at ${dashboard.url}`);
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(dashboard.url);
      for (const [id] of EXPECTED)
        await page.waitForSelector(`#nodes g.node[data-id="${id}"]`, { timeout: 10_000 });
      const drawn = await readDrawnGraph(page);
      for (const [id, mode] of EXPECTED) {
        const node = drawn.nodes.find((n) => n.id === id);
        const colour = cli.MODE_COLOURS[mode];
        check(
          node?.mode === mode && node.fill === colour,
          `${id}: drawn as ${JSON.stringify(node)}, expected ${mode} (${colour})`,
        );
      }
      log(
        `the page draws ${drawn.nodes.length} nodes; ${EXPECTED.map(([id, mode]) => `${id.slice(id.indexOf('/') + 1)} ${mode}`).join(', ')}, each in its mode's colour`,
      );

      let calls = 0;
      const traffic = await eventually(
        'a live client -> echo edge on the page',
        async () => {
          const r = await driver.request('client', ECHO_URL);
          calls++;
          check(r.ok && r.response.status === 200, `client -> echo before the policy: ${describeCall(r)}`);
          return await readDrawnGraph(page);
        },
        (g) => g.edges.some((e) => e.source === 'wl:demo/client' && !e.denied && rate(e.label) > 0),
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const live = traffic.edges.filter((e) => e.source === 'wl:demo/client' && /rps/.test(e.label));
      check(
        live.some((e) => e.mtls === 'mutual_tls'),
        `client's edges should show mTLS: ${JSON.stringify(live)}`,
      );
      log(`after ${calls} calls: ${live.map((e) => `${e.source} -> ${e.target}: ${e.label}`).join('; ')}`);

      await driver.apply('dashboard-deny-client.yaml', DENY_CLIENT);
      applied = true;
      log(
        'applied AuthorizationPolicy demo/dashboard-deny-client (DENY from cluster.local/ns/demo/sa/client on Service echo)',
      );
      const denied = await eventually(
        'the DENY policy to refuse client -> echo (HTTP 403 from the waypoint)',
        () => driver.request('client', ECHO_URL, { timeoutMs: 2000 }),
        (r) => httpVerdict(r) === 'denied',
        { timeoutMs: 5000, intervalMs: 100 },
      );
      log(`client -> echo: ${describeCall(denied)}`);
      await page.waitForSelector('#edges g.edge[data-source="wl:demo/client"][data-denied="true"]', {
        timeout: 10_000,
      });
      const red = (await readDrawnGraph(page)).edges.filter((e) => e.denied);
      check(
        red.every((e) => e.stroke === rgb(cli.DENY_COLOUR) && e.label.includes('DENY')),
        `DENY edges should be red and labelled: ${JSON.stringify(red)}`,
      );
      log(
        `the page shows the DENY edge in red: ${red.map((e) => `${e.source} -> ${e.target}: ${e.label}`).join('; ')}`,
      );
      check(pageErrors.length === 0, `the page threw: ${pageErrors.join('; ')}`);
      await page.close();
    } finally {
      if (applied) {
        await driver.remove('dashboard-deny-client.yaml');
        await eventually(
          'client -> echo to work again after removing the policy',
          () => driver.request('client', ECHO_URL),
          (r) => r.ok && r.response.status === 200,
          { timeoutMs: 5000, intervalMs: 100 },
        );
        log('removed the policy: client -> echo works again');
      }
      await browser.close();
      await dashboard.close();
    }
  },
};

export const DASHBOARD_SCENARIOS: readonly Scenario[] = [dashboardGraph];
