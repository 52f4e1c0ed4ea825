// The router through real sockets: upstream behaviour is scripted per test.
import type { Socket } from 'node:net';
import { destinationRule, httpRoute, virtualService } from '@weft/policy/testing';
import { createAccessLogger } from '@weft/telemetry';
import { memorySink, parseKvLine } from '@weft/telemetry/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SHOP, serviceWith, WEB_VIP } from '../../test-support/mesh.ts';
import {
  type HttpUpstream,
  httpRequest,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
} from '../../testing/index.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstreams(n: number, base = 30): Promise<HttpUpstream[]> {
  const list = await Promise.all(
    Array.from({ length: n }, (_, i) => startHttpUpstream({ name: `u${i}`, ip: `127.0.0.${base + i}` })),
  );
  for (const u of list) cleanups.push(() => u.close());
  return list;
}

const sink = memorySink();

/** Response flags of the access-log line for `path` (the newest). */
function flagsOf(path: string): string | undefined {
  const lines = sink.lines.map((l) => parseKvLine(l)).filter((l) => l.path === path);
  return lines[lines.length - 1]?.response_flags;
}

async function proxyFor(
  ups: HttpUpstream[],
  extra: unknown[],
  random: () => number = Math.random,
): Promise<TestProxy> {
  const p = await startTestProxy(
    [...SHOP, ...serviceWith(ups.map((u) => ({ name: `web-${u.name}`, ip: u.ip, port: u.port }))), ...extra],
    {
      destination: { ip: WEB_VIP, port: 80 },
      deps: { delay: () => Promise.resolve(), random, accessLog: createAccessLogger({ sink }) },
    },
  );
  cleanups.push(() => p.close());
  return p;
}

async function logged(path: string): Promise<string | undefined> {
  for (let i = 0; i < 50 && flagsOf(path) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  return flagsOf(path);
}

const vs = (http: unknown[]) => virtualService('web', { namespace: 'shop', hosts: ['web'], http });
const dest = { destination: { host: 'web', port: { number: 80 } } };

describe('router: retries', () => {
  it('retries a 503 (default policy) on another endpoint', async () => {
    const [a, b] = await upstreams(2);
    if (!a || !b) throw new Error('setup');
    a.handler = (_q, res) => {
      res.writeHead(503).end('a down');
    };
    const p = await proxyFor([a, b], []);
    for (let i = 0; i < 4; i++) {
      const r = await httpRequest(p.port, { path: '/r' });
      expect(r.status).toBe(200);
      expect(r.headers['x-upstream']).toBe('u1');
    }
  });

  it('gives up after the attempts with the last answer and URX', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    let hits = 0;
    a.handler = (_q, res) => {
      hits++;
      res.writeHead(500).end('boom');
    };
    const p = await proxyFor([a], [vs([{ route: [dest], retries: { attempts: 3, retryOn: '5xx' } }])]);
    const r = await httpRequest(p.port, { path: '/x' });
    expect(r.status).toBe(500);
    expect(await logged('/x')).toBe('URX');
    expect(hits).toBe(4);
    expect(p.engine.telemetry.counters.retries.value).toBe(3);
  });

  it('does not retry a POST body it could not buffer... but does retry a small one', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    let hits = 0;
    a.handler = (_q, res, body) => {
      hits++;
      if (hits === 1) res.writeHead(503).end();
      else res.writeHead(200).end(`got ${body}`);
    };
    const p = await proxyFor([a], [vs([{ route: [dest], retries: { attempts: 1, retryOn: '5xx' } }])]);
    const r = await httpRequest(p.port, { method: 'POST', path: '/x', body: 'payload' });
    expect(r.body).toBe('got payload');
  });

  it('retries a connection failure (connect-failure) on another endpoint, then answers 503 UF when none works', async () => {
    const [a, b] = await upstreams(2);
    if (!a || !b) throw new Error('setup');
    await a.close();
    const p = await proxyFor([a, b], []);
    for (let i = 0; i < 3; i++) expect((await httpRequest(p.port, { path: '/x' })).status).toBe(200);
    await b.close();
    const r = await httpRequest(p.port, { path: '/x' });
    expect(r.status).toBe(503);
    expect(r.body).toContain('connection failure');
  });
});

describe('router: timeouts and resets', () => {
  it('a backend that accepts then stalls: the request timeout answers 504 with flag UT', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    a.handler = () => {
      // never answers
    };
    const p = await proxyFor(
      [a],
      [
        httpRoute('web', {
          namespace: 'shop',
          service: 'web',
          rules: [{ timeouts: { request: '200ms' }, backendRefs: [{ name: 'web', port: 80 }] }],
        }),
      ],
    );
    const r = await httpRequest(p.port, { path: '/slow' });
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    expect(await logged('/slow')).toBe('UT');
  });

  it('a per-try timeout retries, then the request fails with 504', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    let hits = 0;
    a.handler = (_q, res) => {
      hits++;
      if (hits >= 3) res.end('late but fine');
    };
    const p = await proxyFor(
      [a],
      [vs([{ route: [dest], retries: { attempts: 2, perTryTimeout: '0.1s', retryOn: 'gateway-error' } }])],
    );
    const r = await httpRequest(p.port, { path: '/x' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('late but fine');
    expect(hits).toBe(3);
  });

  it('a backend that stalls mid-body: the deadline resets the downstream response', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    a.handler = (_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    };
    const p = await proxyFor(
      [a],
      [
        httpRoute('web', {
          namespace: 'shop',
          service: 'web',
          rules: [{ timeouts: { request: '200ms' }, backendRefs: [{ name: 'web', port: 80 }] }],
        }),
      ],
    );
    await expect(httpRequest(p.port, { path: '/stall' })).rejects.toThrow();
    expect(await logged('/stall')).toBe('UT');
  });

  it('a backend that resets before the headers: 503 with flag UR; mid-response: downstream reset', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    a.handler = (req) => {
      (req.socket as Socket).resetAndDestroy?.() ?? req.socket.destroy();
    };
    const p = await proxyFor([a], [vs([{ route: [dest], retries: { attempts: 0 } }])]);
    const r = await httpRequest(p.port, { path: '/reset' });
    expect(r.status).toBe(503);
    expect(r.body).toContain('reset');
    expect(await logged('/reset')).toBe('UR');
    a.handler = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => req.socket.destroy());
    };
    await expect(httpRequest(p.port, { path: '/y' })).rejects.toThrow();
    expect(await logged('/y')).toBe('UR');
  });
});

describe('router: backends', () => {
  it('splits by weight (canary) with injected randomness', async () => {
    const [a, b] = await upstreams(2);
    if (!a || !b) throw new Error('setup');
    let roll = 0.95;
    const p = await startTestProxy(
      [
        ...SHOP,
        ...serviceWith([{ name: 'web-v1', ip: a.ip, port: a.port }]),
        ...serviceWith([{ name: 'web-v2', ip: b.ip, port: b.port }], { name: 'web-v2', vip: '10.96.0.30' }),
        httpRoute('canary', {
          namespace: 'shop',
          service: 'web',
          rules: [
            {
              backendRefs: [
                { name: 'web', port: 80, weight: 90 },
                { name: 'web-v2', port: 80, weight: 10 },
              ],
            },
          ],
        }),
      ],
      { destination: { ip: WEB_VIP, port: 80 }, deps: { random: () => roll } },
    );
    cleanups.push(() => p.close());
    expect((await httpRequest(p.port)).headers['x-upstream']).toBe('u1');
    roll = 0.5;
    expect((await httpRequest(p.port)).headers['x-upstream']).toBe('u0');
  });

  it('pool limits: over maxConnections + pending, 503 with flag UO', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    const held: (() => void)[] = [];
    a.handler = (_q, res) => {
      held.push(() => res.end('done'));
    };
    const p = await proxyFor(
      [a],
      [
        destinationRule('web', {
          namespace: 'shop',
          host: 'web',
          trafficPolicy: {
            connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } },
          },
        }),
      ],
    );
    const first = httpRequest(p.port, { path: '/1' });
    await new Promise((r) => setTimeout(r, 100));
    const second = httpRequest(p.port, { path: '/2' });
    await new Promise((r) => setTimeout(r, 50));
    const third = await httpRequest(p.port, { path: '/3' });
    expect(third.status).toBe(503);
    expect(third.body).toContain('overflow');
    expect(await logged('/3')).toBe('UO');
    held.shift()?.();
    expect((await first).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    held.shift()?.();
    expect((await second).status).toBe(200);
  });

  it('outlier detection ejects an endpoint after consecutive 5xx', async () => {
    const [a, b] = await upstreams(2);
    if (!a || !b) throw new Error('setup');
    a.handler = (_q, res) => {
      res.writeHead(500).end('bad');
    };
    const p = await proxyFor(
      [a, b],
      [
        destinationRule('web', {
          namespace: 'shop',
          host: 'web',
          trafficPolicy: {
            outlierDetection: { consecutive5xxErrors: 2, baseEjectionTime: '60s', maxEjectionPercent: 50 },
          },
        }),
        vs([{ route: [dest], retries: { attempts: 0 } }]),
      ],
    );
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await httpRequest(p.port, { path: '/o' })).status);
    // round robin: a fails twice, is ejected, then only b answers
    expect(statuses.filter((s) => s === 500)).toHaveLength(2);
    expect(statuses.slice(4).every((s) => s === 200)).toBe(true);
    const stats = p.engine.upstreams.stats().clusters.find((c) => c.key === 'web.shop.svc.cluster.local:80');
    expect(stats?.endpoints.find((e) => e.address.startsWith(a.ip))?.ejected).toBe(true);
  });

  it('consistent hash on a header keeps a key on one endpoint', async () => {
    const ups = await upstreams(3);
    const p = await proxyFor(ups, [
      destinationRule('web', {
        namespace: 'shop',
        host: 'web',
        trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } },
      }),
    ]);
    for (const user of ['alice', 'bob', 'carol']) {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++)
        seen.add(String((await httpRequest(p.port, { headers: { 'x-user': user } })).headers['x-upstream']));
      expect(seen.size).toBe(1);
    }
  });

  it('mirrors a copy with a -shadow authority and ignores its answer', async () => {
    const [a, m] = await upstreams(2);
    if (!a || !m) throw new Error('setup');
    m.handler = (_q, res) => {
      res.writeHead(500).end('mirror fails, nobody cares');
    };
    const p = await startTestProxy(
      [
        ...SHOP,
        ...serviceWith([{ name: 'web-1', ip: a.ip, port: a.port }]),
        ...serviceWith([{ name: 'shadow-1', ip: m.ip, port: m.port }], { name: 'shadow', vip: '10.96.0.40' }),
        vs([
          {
            route: [dest],
            mirror: { host: 'shadow', port: { number: 80 } },
            mirrorPercentage: { value: 100 },
          },
        ]),
      ],
      { destination: { ip: WEB_VIP, port: 80 } },
    );
    cleanups.push(() => p.close());
    const r = await httpRequest(p.port, {
      method: 'POST',
      path: '/m',
      body: 'copy me',
      host: 'web.shop.svc.cluster.local',
    });
    expect(r.status).toBe(200);
    for (let i = 0; i < 50 && m.requests.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(m.requests[0]).toMatchObject({ url: '/m', body: 'copy me' });
    expect(m.requests[0]?.headers.host).toBe('web.shop.svc.cluster.local-shadow');
  });

  it('no healthy endpoint: 503 with flag UH', async () => {
    const [a] = await upstreams(1);
    if (!a) throw new Error('setup');
    const p = await startTestProxy(
      [...SHOP, ...serviceWith([{ name: 'web-1', ip: a.ip, port: a.port, ready: false }])],
      {
        destination: { ip: WEB_VIP, port: 80 },
      },
    );
    cleanups.push(() => p.close());
    const r = await httpRequest(p.port);
    expect(r.status).toBe(503);
    expect(r.body).toBe('no healthy upstream');
  });
});
