import { get as httpGet, request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer, type FakeResource } from './fake-apiserver.ts';
import { waitFor } from './recorder.ts';

const HTTPROUTES: FakeResource = {
  group: 'gateway.networking.k8s.io',
  version: 'v1',
  kind: 'HTTPRoute',
  plural: 'httproutes',
  namespaced: true,
};

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

function call(server: FakeApiServer, path: string, method = 'GET', token = 't'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { method, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Stream {
  // biome-ignore lint/suspicious/noExplicitAny: events are read loosely in assertions
  events: { type: string; object: Record<string, any> }[];
  status: number;
  ended: boolean;
  close(): void;
}

function watchStream(server: FakeApiServer, path: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${server.url}${path}`, { headers: { authorization: 'Bearer t' } }, (res) => {
      const stream: Stream = {
        events: [],
        status: res.statusCode ?? 0,
        ended: false,
        close: () => req.destroy(),
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line !== '') stream.events.push(JSON.parse(line));
          nl = buffer.indexOf('\n');
        }
      });
      res.on('end', () => {
        stream.ended = true;
      });
      res.on('error', () => {
        stream.ended = true;
      });
      res.on('close', () => {
        stream.ended = true;
      });
      resolve(stream);
    });
    req.on('error', reject);
  });
}

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const pod = (name: string, labels: Record<string, string> = {}, namespace = 'shop') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { nodeName: 'n1' },
});
const names = (items: unknown): string[] =>
  (items as { metadata: { name: string } }[]).map((i) => i.metadata.name);

describe('FakeApiServer', () => {
  let server: FakeApiServer;

  beforeEach(async () => {
    server = await FakeApiServer.start({ token: 't' });
    server.create(ns('shop'));
    server.create(ns('other'));
  });

  afterEach(async () => {
    await server.close();
  });

  it('lists like a real server: typed items without kind, CRD items with it, one resourceVersion', async () => {
    server.create(pod('a'));
    server.create(pod('b', {}, 'other'));
    const all = await call(server, '/api/v1/pods');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: { resourceVersion: server.resourceVersion },
    });
    expect(names(all.body.items)).toEqual(['b', 'a']);
    expect((all.body.items as Record<string, unknown>[])[0]).not.toHaveProperty('kind');

    const one = await call(server, '/api/v1/namespaces/shop/pods');
    expect(names(one.body.items)).toEqual(['a']);
    expect((await call(server, '/api/v1/namespaces/shop/pods/a')).body).toMatchObject({
      kind: 'Pod',
      metadata: { name: 'a' },
    });
    expect((await call(server, '/api/v1/namespaces/shop')).body).toMatchObject({ kind: 'Namespace' });

    server.install(HTTPROUTES);
    server.create({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r', namespace: 'shop' },
    });
    const routes = await call(server, '/apis/gateway.networking.k8s.io/v1/httproutes');
    expect(routes.body).toMatchObject({
      kind: 'HTTPRouteList',
      items: [{ kind: 'HTTPRoute', apiVersion: 'gateway.networking.k8s.io/v1' }],
    });
    expect((await call(server, '/apis/gateway.networking.k8s.io/v1')).body).toMatchObject({
      kind: 'APIResourceList',
      resources: [{ name: 'httproutes', namespaced: true }],
    });
  });

  it('refuses what a real server refuses', async () => {
    const table: [string, string, number, string][] = [
      ['GET', '/', 404, 'NotFound'],
      ['GET', '/healthz/x', 404, 'NotFound'],
      ['GET', '/api/v1/widgets', 404, 'NotFound'],
      ['GET', '/api//v1/pods', 404, 'NotFound'],
      ['GET', '/api/v1/pods/a', 404, 'NotFound'],
      ['GET', '/api/v1/namespaces/shop/pods/a/status', 404, 'NotFound'],
      ['GET', '/api/v1/namespaces/shop/pods/missing', 404, 'NotFound'],
      ['GET', '/apis/gateway.networking.k8s.io/v1/httproutes', 404, 'NotFound'],
      ['GET', '/apis/security.istio.io', 404, 'NotFound'],
      ['POST', '/api/v1/namespaces/shop/pods', 405, 'MethodNotAllowed'],
      ['DELETE', '/api/v1/namespaces/shop', 405, 'MethodNotAllowed'],
      ['GET', '/api/v1/pods?resourceVersion=abc', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?resourceVersion=-1', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?watch=true&resourceVersion=1.5', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?watch=maybe', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?watch=true&allowWatchBookmarks=yes', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?watch=true&timeoutSeconds=soon', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?limit=-5', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?continue=garbage', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?labelSelector=a%20in%20(b', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1', 400, 'BadRequest'],
      ['GET', '/api/v1/pods?resourceVersionMatch=NotOlderThan', 422, 'Invalid'],
      ['GET', '/api/v1/pods?resourceVersion=1&resourceVersionMatch=Sometimes', 422, 'Invalid'],
      ['GET', '/api/v1/pods?sendInitialEvents=true', 422, 'Invalid'],
      ['GET', '/api/v1/pods?watch=true&resourceVersion=1&resourceVersionMatch=NotOlderThan', 422, 'Invalid'],
      ['GET', '/api/v1/pods?watch=true&continue=abc', 422, 'Invalid'],
      ['GET', '/api/v1/pods?resourceVersion=99999', 504, 'Timeout'],
    ];
    for (const [method, path, code, reason] of table) {
      const reply = await call(server, path, method);
      expect([method, path, reply.status, reply.body.reason]).toEqual([method, path, code, reason]);
      expect(reply.body).toMatchObject({ kind: 'Status', status: 'Failure', code });
    }
    expect((await call(server, '/api/v1/pods', 'GET', 'wrong')).status).toBe(401);
    expect(server.requests.at(-1)).toMatchObject({ status: 401 });
  });

  it('pages through one consistent snapshot and expires continue tokens on compaction', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) server.create(pod(n));
    const first = await call(server, '/api/v1/pods?limit=2');
    const meta = first.body.metadata as Record<string, string | number>;
    expect(names(first.body.items)).toEqual(['a', 'b']);
    expect(meta.remainingItemCount).toBe(3);
    server.remove('v1', 'Pod', 'shop', 'd');
    const second = await call(server, `/api/v1/pods?limit=2&continue=${meta.continue}`);
    expect(names(second.body.items)).toEqual(['c', 'd']);
    expect((second.body.metadata as Record<string, string>).resourceVersion).toBe(meta.resourceVersion);

    server.compact();
    const next = (second.body.metadata as Record<string, string>).continue;
    const expired = await call(server, `/api/v1/pods?limit=2&continue=${next}`);
    expect([expired.status, expired.body.reason]).toEqual([410, 'Expired']);
  });

  it('watches: current state first without a resourceVersion, then live events', async () => {
    server.create(pod('a'));
    const w = await watchStream(server, '/api/v1/namespaces/shop/pods?watch=true');
    expect(w.status).toBe(200);
    server.update({ ...pod('a', { v: '2' }) });
    server.create(pod('elsewhere', {}, 'other'));
    server.remove('v1', 'Pod', 'shop', 'a');
    await waitFor(() => w.events.length === 3, 'three events');
    expect(w.events.map((e) => [e.type, e.object.kind, e.object.metadata.name])).toEqual([
      ['ADDED', 'Pod', 'a'],
      ['MODIFIED', 'Pod', 'a'],
      ['DELETED', 'Pod', 'a'],
    ]);
    expect(w.events[2]?.object.metadata.resourceVersion).toBe(server.resourceVersion);
    w.close();
  });

  it('replays from a resourceVersion, refuses compacted ones with 410, and sends bookmarks only on request', async () => {
    const a = server.create(pod('a'));
    server.create(pod('b'));
    const replay = await watchStream(
      server,
      `/api/v1/pods?watch=true&resourceVersion=${a.metadata.resourceVersion}`,
    );
    await waitFor(() => replay.events.length === 1, 'replayed event');
    expect(replay.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'b' } } });

    const withBookmarks = await watchStream(
      server,
      `/api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=${server.resourceVersion}`,
    );
    server.create(ns('third'));
    expect(server.bookmark()).toBe(1);
    await waitFor(() => withBookmarks.events.length === 1, 'bookmark');
    expect(withBookmarks.events[0]).toEqual({
      type: 'BOOKMARK',
      object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: server.resourceVersion } },
    });
    expect(replay.events).toHaveLength(1);

    server.compact();
    const old = await watchStream(
      server,
      `/api/v1/pods?watch=true&resourceVersion=${a.metadata.resourceVersion}`,
    );
    await waitFor(() => old.ended, 'the too-old watch to end');
    expect(old.status).toBe(200);
    expect(old.events).toMatchObject([
      { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } },
    ]);
    replay.close();
    withBookmarks.close();
  });

  it('answers a too-old watch with HTTP 410 when configured so', async () => {
    const legacy = await FakeApiServer.start({ tooOldWatch: 'http-410', retainEvents: 2 });
    try {
      legacy.create(ns('a'));
      legacy.create(ns('b'));
      legacy.create(ns('c'));
      expect(legacy.compactedResourceVersion).toBe('2');
      const reply = await call(legacy, '/api/v1/namespaces?watch=1&resourceVersion=1');
      expect([reply.status, reply.body.reason]).toEqual([410, 'Expired']);
    } finally {
      await legacy.close();
    }
  });

  it('ends watches on timeoutSeconds and on CRD removal, and follows label selectors', async () => {
    const timed = await watchStream(server, '/api/v1/pods?watch=true&timeoutSeconds=0');
    await waitFor(() => timed.ended, 'timeoutSeconds=0 to end the watch');

    const selected = await watchStream(server, '/api/v1/pods?watch=true&labelSelector=app%3Dcart');
    server.create(pod('x', { app: 'cart' }));
    server.update(pod('x', { app: 'other' }));
    server.update(pod('x', { app: 'cart' }));
    await waitFor(() => selected.events.length === 3, 'selector events');
    expect(selected.events.map((e) => e.type)).toEqual(['ADDED', 'DELETED', 'ADDED']);

    server.install(HTTPROUTES);
    server.create({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r', namespace: 'shop' },
    });
    const routes = await watchStream(server, '/apis/gateway.networking.k8s.io/v1/httproutes?watch=true');
    await waitFor(() => routes.events.length === 1, 'initial route');
    server.uninstall('gateway.networking.k8s.io', 'v1', 'httproutes');
    await waitFor(() => routes.ended, 'the route watch to end');
    expect(routes.events.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
    expect((await call(server, '/apis/gateway.networking.k8s.io/v1/httproutes')).status).toBe(404);
    selected.close();
  });

  it('refuses objects in missing namespaces and drops watch connections on request', async () => {
    expect(() => server.create(pod('p', {}, 'nowhere'))).toThrow(/namespace "nowhere" not found/);
    const w = await watchStream(server, '/api/v1/pods?watch=true');
    await waitFor(() => server.activeWatches('pods') === 1, 'watch registered');
    expect(server.dropWatches()).toBe(1);
    await waitFor(() => w.ended, 'dropped watch to end');
    expect(server.activeWatches()).toBe(0);
    expect(server.count('watch', 'pods')).toBe(1);
  });
});
