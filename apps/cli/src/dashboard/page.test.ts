// The page's own JS in headless Chromium, against a fake weftd and fake proxy metrics served
// in-process: the dashboard server polls them, the page polls the dashboard.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, type HeadlessChromium, launchChromium, readDrawnGraph } from './chromium.ts';
import { DENY_COLOUR, MODE_COLOURS } from './page.ts';
import { type Dashboard, startDashboard } from './server.ts';

const SNAPSHOT = {
  version: 'abc123',
  workloads: {
    u1: { uid: 'u1', name: 'client', namespace: 'demo', mode: 'ambient', labels: {} },
    u2: { uid: 'u2', name: 'echo-v1', namespace: 'demo', mode: 'ambient', labels: {} },
    u3: {
      uid: 'u3',
      name: 'waypoint-0',
      namespace: 'demo',
      mode: 'none',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
    },
    u4: { uid: 'u4', name: 'sidecar-client', namespace: 'hybrid', mode: 'sidecar', labels: {} },
    u5: { uid: 'u5', name: 'grpc-echo-v1', namespace: 'proxyless', mode: 'proxyless', labels: {} },
    u6: { uid: 'u6', name: 'plain-echo', namespace: 'hybrid', mode: 'none', labels: {} },
  },
  services: {
    'echo.demo.svc.cluster.local': {
      hostname: 'echo.demo.svc.cluster.local',
      name: 'echo',
      namespace: 'demo',
      endpoints: [{ workloadUid: 'u2' }],
    },
  },
};

const line = (dst: string, code: string, n: number): string =>
  `istio_requests_total{reporter="waypoint",source_workload="client",source_workload_namespace="demo",destination_workload="${dst}",destination_workload_namespace="demo",destination_service="echo.demo.svc.cluster.local",response_code="${code}",response_flags="-",connection_security_policy="mutual_tls"} ${n}`;

const chromium = chromiumAvailable();
if (!chromium)
  console.log('skipping the dashboard page test: /usr/bin/chromium is missing (apt-get install chromium)');

describe.skipIf(!chromium)('the dashboard page in Chromium', () => {
  let fake: Server;
  let dashboard: Dashboard;
  let browser: HeadlessChromium;
  let ok = 0;
  let denied = 0;
  let token = '';

  beforeAll(async () => {
    fake = createServer((req, res) => {
      if (req.url === '/debug/config_dump') {
        token = req.headers.authorization ?? '';
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(SNAPSHOT));
      } else if (req.url === '/metrics') {
        res
          .writeHead(200)
          .end(
            `${[
              line('echo-v1', '200', ok),
              ...(denied > 0 ? [line('unknown', '403', denied)] : []),
              `weft_rejected_total{component="waypoint",reason="denied"} ${denied}`,
            ].join('\n')}\n`,
          );
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    dashboard = await startDashboard({
      weftdAdmin: base,
      token: 't0k',
      endpoints: { waypoints: [{ pod: 'waypoint-0', metrics: `${base}/metrics` }] },
      listen: '127.0.0.1:0',
      pollMs: 200,
    });
    browser = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
  });

  it('draws the workloads by mode, then live traffic, then a red DENY edge', async () => {
    const page = await browser.newPage();
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(dashboard.url)) outside.push(r.url());
    });
    await page.goto(dashboard.url);
    await page.waitForSelector('#nodes g.node[data-id="wl:demo/client"]');
    const first = await readDrawnGraph(page);
    expect(token).toBe('Bearer t0k');
    expect(Object.fromEntries(first.nodes.map((n) => [n.id, n.fill]))).toEqual({
      'svc:echo.demo.svc.cluster.local': null,
      'wl:demo/client': MODE_COLOURS.ambient,
      'wl:demo/echo-v1': MODE_COLOURS.ambient,
      'wl:demo/waypoint-0': MODE_COLOURS.waypoint,
      'wl:hybrid/plain-echo': MODE_COLOURS.none,
      'wl:hybrid/sidecar-client': MODE_COLOURS.sidecar,
      'wl:proxyless/grpc-echo-v1': MODE_COLOURS.proxyless,
    });

    ok = 10;
    await page.waitForFunction(() =>
      (
        globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
      ).document
        .querySelector('#edges g.edge[data-id="wl:demo/client->wl:demo/echo-v1"] text')
        ?.textContent.includes('rps'),
    );
    const traffic = (await readDrawnGraph(page)).edges.find(
      (e) => e.id === 'wl:demo/client->wl:demo/echo-v1',
    );
    expect(traffic).toMatchObject({ denied: false, mtls: 'mutual_tls' });
    expect(traffic?.label).toMatch(/^\d+\.\d rps · 100% · mTLS$/);

    denied = 2;
    await page.waitForSelector('#edges g.edge[data-denied="true"]');
    const deny = (await readDrawnGraph(page)).edges.find((e) => e.denied);
    expect(deny).toMatchObject({ source: 'wl:demo/client', target: 'svc:echo.demo.svc.cluster.local' });
    expect(deny?.label).toContain('DENY');
    expect(deny?.stroke).toBe(hexToRgb(DENY_COLOUR));
    await page.waitForSelector('#proxies .proxy.denied[data-name="waypoint-0"]');
    expect(outside).toEqual([]);
    await page.close();
  }, 30_000);

  it('loads without a script error', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(dashboard.url);
    await page.waitForSelector('#nodes g.node');
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);
});

function hexToRgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}
