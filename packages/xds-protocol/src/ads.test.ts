// ADS server + delta client over real sockets on 127.0.0.1.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { DELTA_METHOD_PATH } from './ads-service.ts';
import { ResourceCache } from './cache.ts';
import { createDeltaAdsClient } from './client/delta-client.ts';
import { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from './gen/envoy/service/discovery/v3/discovery.ts';
import type { Service } from './gen/weft/v1/service.ts';
import type { Workload } from './gen/weft/v1/workload.ts';
import { createResource } from './resource.ts';
import { createAdsServer, listenAds } from './server/ads-server.ts';
import {
  RecordingHandler,
  startTestAdsServer,
  testService,
  testWorkload,
  waitUntil,
} from './testing/index.ts';
import { WEFT_TYPE_URL } from './type-urls.ts';
import { weftResource, weftResourceType } from './weft-resources.ts';

const W = WEFT_TYPE_URL.workload;
const S = WEFT_TYPE_URL.service;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(
  address: string,
  handler: RecordingHandler,
  extra: Partial<Parameters<typeof createDeltaAdsClient>[0]> = {},
) {
  const c = createDeltaAdsClient({
    target: address,
    node: { id: 'ztunnel~node-1' },
    types: [weftResourceType('workload')],
    handler,
    backoff: { initialMs: 20, maxMs: 200 },
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

async function server() {
  const s = await startTestAdsServer();
  cleanups.push(() => s.close());
  return s;
}

describe('delta ADS over loopback', () => {
  it('syncs, updates and removes workloads', async () => {
    const s = await server();
    s.cache.apply(['a', 'b', 'c'].map((n) => weftResource('workload', testWorkload(n))));
    const h = new RecordingHandler();
    const c = client(s.address, h);
    await c.synced();
    expect(h.count(W)).toBe(3);

    const a = testWorkload('a', { node: 'node-2' });
    s.cache.apply([weftResource('workload', a)], [{ typeUrl: W, name: testWorkload('c').uid }]);
    await h.waitFor(() => h.get<Workload>(W, a.uid)?.node === 'node-2' && h.count(W) === 2);

    await waitUntil(() => s.ads.syncz()[0]?.types[0]?.versionAcked === String(s.cache.revision));
    const [row] = s.ads.syncz();
    expect(row).toMatchObject({ protocol: 'delta', nodeId: 'ztunnel~node-1' });
    expect(row?.types[0]).toMatchObject({
      typeUrl: W,
      wildcard: true,
      resourceCount: 2,
      lastNack: undefined,
    });
  });

  it('NACKs a bad resource by name and applies the rest', async () => {
    const s = await server();
    const good = testWorkload('good');
    s.cache.apply([weftResource('workload', good)]);
    const h = new RecordingHandler();
    const c = client(s.address, h);
    await c.synced();

    const broken = { ...good, addresses: [new Uint8Array([1, 2, 3])] };
    s.cache.apply([weftResource('workload', broken), weftResource('workload', testWorkload('new'))]);
    await h.waitFor(() => h.count(W) === 2);
    await waitUntil(() => s.ads.syncz()[0]?.types[0]?.lastNack !== undefined);

    const nack = s.ads.syncz()[0]?.types[0]?.lastNack;
    expect(nack?.message).toContain(good.uid);
    expect(nack?.message).toContain('addresses[0]');
    expect([...(h.get<Workload>(W, good.uid)?.addresses[0] ?? [])]).toEqual([10, 0, 0, 1]); // previous value kept
    expect(c.stats()).toMatchObject({ resourcesRejected: 1, nacks: 1 });
    expect(s.ads.stats().nacks).toBe(1);
  });

  it('rejects a resource whose bytes do not decode, or whose name does not match', async () => {
    const s = await server();
    const h = new RecordingHandler();
    const c = client(s.address, h);
    await c.synced();
    s.cache.apply([
      createResource(W, 'garbage', new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
      createResource(W, 'alias', weftResource('workload', testWorkload('x')).value),
    ]);
    await h.waitFor(() => c.stats().resourcesRejected === 2);
    const rejected = c
      .status()[0]
      ?.lastRejected?.map((r) => r.name)
      .sort();
    expect(rejected).toEqual(['alias', 'garbage']);
    expect(h.count(W)).toBe(0);
  });

  it('keeps the last good state while the server is away and resumes without a full resend', async () => {
    const cache = new ResourceCache();
    cache.apply(['a', 'b'].map((n) => weftResource('workload', testWorkload(n))));
    const first = await listenAds(createAdsServer({ cache }));
    const h = new RecordingHandler();
    const c = client(first.address, h);
    await c.synced();
    await first.close();
    await h.waitFor(() => c.state !== 'connected');
    expect(h.count(W)).toBe(2);

    cache.apply([weftResource('workload', testWorkload('a', { node: 'moved' }))]);
    const second = createAdsServer({ cache });
    const again = await listenAds(second, first.address);
    cleanups.push(() => again.close());
    await h.waitFor(() => h.get<Workload>(W, testWorkload('a').uid)?.node === 'moved');
    expect(second.stats().resourcesSent).toBe(1); // only the changed one
    expect(h.states).toContain('disconnected');
  });

  it('changes subscriptions at runtime', async () => {
    const s = await server();
    const svc = (n: string) => weftResource('service', testService(n, []));
    s.cache.apply([svc('a'), svc('b')]);
    const h = new RecordingHandler();
    const c = client(s.address, h, {
      types: [weftResourceType('service', ['default/a.default.svc.cluster.local'])],
    });
    await c.synced();
    expect([...(h.resources.get(S)?.keys() ?? [])]).toEqual(['default/a.default.svc.cluster.local']);
    c.subscribe(S, ['default/b.default.svc.cluster.local']);
    await h.waitFor(() => h.count(S) === 2);
    c.unsubscribe(S, ['default/a.default.svc.cluster.local']);
    await h.waitFor(() => h.count(S) === 1);
    s.cache.apply([weftResource('service', testService('a', ['x']))]);
    s.cache.apply([weftResource('service', testService('b', ['y']))]);
    await h.waitFor(() => h.get<Service>(S, 'default/b.default.svc.cluster.local')?.endpoints.length === 1);
    expect(h.count(S)).toBe(1);
  });

  it('gives each client the view its node selects', async () => {
    const perNode = new Map([
      ['node-1', new ResourceCache({ name: 'node-1' })],
      ['node-2', new ResourceCache({ name: 'node-2' })],
    ]);
    perNode.get('node-1')?.apply([weftResource('workload', testWorkload('one'))]);
    perNode.get('node-2')?.apply([weftResource('workload', testWorkload('two'))]);
    const ads = createAdsServer({
      view: (info) => ({ cache: perNode.get(info.nodeId.split('~')[1] ?? '') ?? new ResourceCache() }),
    });
    const l = await listenAds(ads);
    cleanups.push(() => l.close());
    const h1 = new RecordingHandler();
    const h2 = new RecordingHandler();
    await client(l.address, h1, { node: { id: 'ztunnel~node-1' } }).synced();
    await client(l.address, h2, { node: { id: 'ztunnel~node-2' } }).synced();
    expect([...(h1.resources.get(W)?.values() ?? [])].map((w) => (w as Workload).name)).toEqual(['one']);
    expect([...(h2.resources.get(W)?.values() ?? [])].map((w) => (w as Workload).name)).toEqual(['two']);
    expect(
      ads
        .syncz()
        .map((r) => r.cache)
        .sort(),
    ).toEqual(['node-1', 'node-2']);
  });
});

describe('bad requests', () => {
  function rawDelta(address: string) {
    const c = new grpc.Client(address, grpc.credentials.createInsecure());
    cleanups.push(() => c.close());
    return c.makeBidiStreamRequest(
      DELTA_METHOD_PATH,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => DeltaDiscoveryResponse.decode(b),
    );
  }

  it('closes a stream that sends an undecodable message with INVALID_ARGUMENT, and keeps serving', async () => {
    const s = await server();
    const call = rawDelta(s.address);
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => {});
    call.write(new Uint8Array([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const st = await status;
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain('malformed');
    expect(s.ads.stats().malformedRequests).toBe(1);

    const h = new RecordingHandler();
    s.cache.apply([weftResource('workload', testWorkload('a'))]);
    await client(s.address, h).synced();
    expect(h.count(W)).toBe(1);
  });

  it('answers an unknown type URL with an empty response and counts it', async () => {
    const s = await server();
    const call = rawDelta(s.address);
    call.on('error', () => {});
    const first = new Promise<DeltaDiscoveryResponse>((resolve) => call.once('data', resolve));
    const typeUrl = 'type.googleapis.com/nope.v1.Nothing';
    call.write(DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromPartial({ typeUrl })).finish());
    const res = await first;
    expect(res).toMatchObject({ typeUrl, resources: [] });
    // The ACK of that answer is not answered again.
    call.write(
      DeltaDiscoveryRequest.encode(
        DeltaDiscoveryRequest.fromPartial({ typeUrl, responseNonce: res.nonce }),
      ).finish(),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(s.ads.stats()).toMatchObject({ unknownTypeRequests: 2, responses: 1 });
    call.end();
  });
});
