import { createManualClock } from '@weft/telemetry/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer, type FakeApiServerOptions, type FakeResource } from '../testing/fake-apiserver.ts';
import { kubeConfigFor } from '../testing/kubeconfig.ts';
import { SourceRecorder, waitFor } from '../testing/recorder.ts';
import { type ResourceType, WEFT_RESOURCES } from './kubernetes-resources.ts';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.ts';
import { ObjectStore } from './object-store.ts';
import type { ChangeBatch, KubeObject } from './types.ts';

const crd = (kind: string): FakeResource => {
  const r = WEFT_RESOURCES.find((x) => x.kind === kind) as ResourceType;
  return { ...r };
};
const CORE = WEFT_RESOURCES.filter((r) => r.group === '');
const PODS = WEFT_RESOURCES.filter((r) => r.kind === 'Pod' || r.kind === 'Namespace');

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const pod = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels },
  spec: { serviceAccountName: 'default' },
});
const policy = (name: string): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: 'shop' },
  spec: { action: 'DENY' },
});
const route = (name: string): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'shop' },
  spec: { parentRefs: [{ name: 'waypoint' }] },
});

function summary(batches: readonly ChangeBatch[]): string[] {
  return batches.flatMap((b) => b.changes.map((c) => `${c.type} ${c.key}`)).sort();
}

/** key@resourceVersion of every object, for comparing the store with the server. */
function versions(objects: readonly KubeObject[]): string[] {
  return objects
    .map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion}`)
    .sort();
}

describe('KubernetesSource', () => {
  let server: FakeApiServer;
  const sources: KubernetesSource[] = [];

  afterEach(async () => {
    for (const s of sources.splice(0)) await s.stop();
    await server.close();
  });

  async function setup(
    serverOptions: FakeApiServerOptions = {},
    sourceOptions: Partial<KubernetesSourceOptions> = {},
  ): Promise<{ source: KubernetesSource; rec: SourceRecorder; store: ObjectStore }> {
    server = await FakeApiServer.start({ token: 'secret', ...serverOptions });
    server.create(ns('shop'));
    const source = new KubernetesSource({
      kubeConfig: kubeConfigFor(server, 'secret'),
      backoff: { initialMs: 5, maxMs: 40 },
      watchTimeoutSeconds: 120,
      random: () => 0,
      ...sourceOptions,
    });
    sources.push(source);
    return { source, rec: new SourceRecorder(), store: new ObjectStore() };
  }

  async function start(source: KubernetesSource, rec: SourceRecorder, store: ObjectStore): Promise<void> {
    await source.start((event) => {
      rec.listener(event);
      if (event.type === 'changes') store.apply(event.batch);
    });
  }

  /** Server state of the resources a source reads, as versions(). */
  function serverState(kinds: readonly ResourceType[]): string[] {
    const out: KubeObject[] = [];
    for (const r of kinds) {
      for (const o of listServer(r)) out.push(o);
    }
    return versions(out);
  }

  function listServer(r: ResourceType): KubeObject[] {
    // The fake has no list accessor on purpose (tests read it over HTTP like a client); for
    // comparisons, probe the names the tests use.
    const names = ['shop', 'other', 'a', 'b', 'c', 'd', 'e', 'new', 'deny', 'r1'];
    const namespaces = r.namespaced ? ['shop'] : [undefined];
    const apiVersion = r.group === '' ? r.version : `${r.group}/${r.version}`;
    return namespaces.flatMap((n) =>
      names.flatMap((name) => {
        const o = server.get(apiVersion, r.kind, n, name);
        return o === undefined ? [] : [o];
      }),
    );
  }

  it('syncs every default resource, fills in kind/apiVersion, and reports missing CRDs without failing', async () => {
    const { source, rec, store } = await setup({
      resources: [
        ...CORE.map((r) => ({ ...r, builtin: true })),
        crd('AuthorizationPolicy'),
        crd('PeerAuthentication'),
      ],
    });
    server.create(pod('a'));
    server.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' } });
    server.create(policy('deny'));
    await start(source, rec, store);
    await waitFor(() => rec.synced, 'synced');

    expect(versions(store.objects()).map((v) => v.split('@')[0])).toEqual([
      'AuthorizationPolicy/shop/deny',
      'Namespace//shop',
      'Pod/shop/a',
      'Service/shop/cart',
    ]);
    const podObject = store.get('/Pod/shop/a');
    expect(podObject).toMatchObject({
      apiVersion: 'v1',
      kind: 'Pod',
      spec: { serviceAccountName: 'default' },
    });
    expect(Object.isFrozen(podObject?.metadata)).toBe(true);

    const missing = rec.errors.filter((e) => e.reason === 'not-installed').map((e) => e.resource);
    expect(missing.sort()).toEqual([
      'gateway.networking.k8s.io/v1/gateways',
      'gateway.networking.k8s.io/v1/grpcroutes',
      'gateway.networking.k8s.io/v1/httproutes',
      'gateway.networking.k8s.io/v1alpha2/tcproutes',
      'networking.istio.io/v1/destinationrules',
      'networking.istio.io/v1/virtualservices',
    ]);
    const status = source.status();
    expect(status).toMatchObject({ phase: 'synced', synced: true, objects: 4 });
    expect(
      status.resources.find((r) => r.resource === 'gateway.networking.k8s.io/v1/httproutes'),
    ).toMatchObject({
      state: 'not-installed',
      synced: true,
    });
    await waitFor(() => server.activeWatches('pods') === 1, 'pod watch');
    const watch = server.requests.find((r) => r.verb === 'watch' && r.path === '/api/v1/pods');
    expect(watch?.query).toMatchObject({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: '120' });
    expect(watch?.query.resourceVersion).toMatch(/^\d+$/);
    expect(server.requests.find((r) => r.verb === 'list' && r.path === '/api/v1/pods')?.query).toMatchObject({
      limit: '500',
    });
  });

  it('streams adds, updates and deletes as batches', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS });
    await start(source, rec, store);
    await waitFor(() => rec.synced && server.activeWatches() === 2, 'synced and watching');
    rec.take();

    server.create(pod('a'));
    await waitFor(() => store.size === 2, 'pod a');
    server.update(pod('a', { version: 'v2' }));
    await waitFor(() => store.get('/Pod/shop/a')?.metadata.labels?.version === 'v2', 'pod a updated');
    server.remove('v1', 'Pod', 'shop', 'a');
    await waitFor(() => store.get('/Pod/shop/a') === undefined, 'pod a deleted');
    expect(summary(rec.take())).toEqual(['add /Pod/shop/a', 'delete /Pod/shop/a', 'update /Pod/shop/a']);
    expect(rec.errors).toEqual([]);
  });

  it('pages through large lists', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS, listPageSize: 2 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) server.create(pod(n));
    await start(source, rec, store);
    await waitFor(() => rec.synced, 'synced');
    expect(store.size).toBe(6);
    expect(server.count('list', 'pods')).toBe(3);
    // One batch per resource for the whole paginated list.
    expect(rec.batches.map((b) => b.changes.length).sort()).toEqual([1, 5]);
  });

  it('reconnects a dropped watch from its resourceVersion without losing events or relisting', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS });
    server.create(pod('a'));
    server.create(pod('b'));
    await start(source, rec, store);
    await waitFor(() => rec.synced && server.activeWatches() === 2, 'synced and watching');
    const lists = server.count('list');

    expect(server.dropWatches()).toBe(2);
    // Changes while no watch is connected.
    server.create(pod('c'));
    server.update(pod('a', { v: '2' }));
    server.remove('v1', 'Pod', 'shop', 'b');
    await waitFor(() => versions(store.objects()).join() === serverState(PODS).join(), 'store to catch up');
    expect(server.count('list')).toBe(lists);
    expect(server.count('watch', 'pods')).toBeGreaterThanOrEqual(2);

    // A clean end (timeoutSeconds reached) re-watches as well, still without a relist.
    server.closeWatches();
    server.create(pod('d'));
    await waitFor(() => store.get('/Pod/shop/d') !== undefined, 'pod d');
    expect(server.count('list')).toBe(lists);
  });

  describe.each(['error-event', 'http-410'] as const)('410 Gone (%s)', (tooOldWatch) => {
    it('relists and emits the diff of the gap, deletions included', async () => {
      const { source, rec, store } = await setup({ tooOldWatch }, { resources: PODS });
      server.create(pod('a'));
      server.create(pod('b'));
      server.create(pod('c'));
      await start(source, rec, store);
      await waitFor(() => rec.synced && server.activeWatches() === 2, 'synced and watching');
      const podLists = server.count('list', 'pods');
      rec.take();

      server.dropWatches();
      server.remove('v1', 'Pod', 'shop', 'a');
      server.update(pod('b', { v: '2' }));
      server.create(pod('new'));
      server.compact();

      await waitFor(
        () => versions(store.objects()).join() === serverState(PODS).join(),
        'store to match after relist',
      );
      expect(server.count('list', 'pods')).toBe(podLists + 1);
      expect(summary(rec.take())).toEqual(['add /Pod/shop/new', 'delete /Pod/shop/a', 'update /Pod/shop/b']);
      // The namespace informer relisted too but found nothing changed: no spurious changes.
      expect(store.get('/Pod/shop/c')?.metadata.resourceVersion).toBe(
        server.get('v1', 'Pod', 'shop', 'c')?.metadata.resourceVersion,
      );
      // The dropped connections are reported; the 410 itself is protocol, not an error.
      expect(rec.errors.map((e) => e.reason)).toEqual(['stream', 'stream']);
    });
  });

  it('keeps its resourceVersion fresh with bookmarks, so a reconnect after compaction needs no relist', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS.filter((r) => r.kind === 'Pod') });
    server.create(pod('a'));
    await start(source, rec, store);
    await waitFor(() => rec.synced && server.activeWatches('pods') === 1, 'synced and watching');
    const podLists = server.count('list', 'pods');

    // Other resources move the shared resourceVersion far ahead of the last pod event.
    for (let i = 0; i < 5; i++) server.create(ns(`busy-${i}`));
    const bookmarkRv = server.resourceVersion;
    expect(server.bookmark()).toBe(1);
    await waitFor(
      () => source.status().resources[0]?.resourceVersion === bookmarkRv,
      'bookmark resourceVersion',
    );

    server.compact();
    server.dropWatches();
    server.create(pod('b'));
    await waitFor(() => store.get('/Pod/shop/b') !== undefined, 'pod b after reconnect');
    expect(server.count('list', 'pods')).toBe(podLists);
    const rewatch = server.requests.filter((r) => r.verb === 'watch' && r.path === '/api/v1/pods').at(1);
    expect(rewatch?.query.resourceVersion).toBe(bookmarkRv);
  });

  it('retries a CRD that is not installed and picks it up once it is', async () => {
    const { source, rec, store } = await setup({}, { resources: [...PODS, crd('HTTPRoute')] });
    await start(source, rec, store);
    await waitFor(() => rec.synced, 'synced without the CRD');
    const httproutes = (): unknown =>
      source.status().resources.find((r) => r.resource.endsWith('/httproutes'));
    expect(httproutes()).toMatchObject({ state: 'not-installed', synced: true });
    expect(rec.errors.filter((e) => e.reason === 'not-installed')).toHaveLength(1);

    await waitFor(() => server.count('list', 'httproutes') >= 3, 'a few retries');
    // Reported once, not once per retry.
    expect(rec.errors.filter((e) => e.reason === 'not-installed')).toHaveLength(1);

    server.install(crd('HTTPRoute'));
    server.create(route('r1'));
    await waitFor(
      () => store.get('gateway.networking.k8s.io/HTTPRoute/shop/r1') !== undefined,
      'route after install',
    );
    await waitFor(() => (httproutes() as { state: string }).state === 'watching', 'watching routes');
    expect(source.counters().errors['not-installed']).toBe(1);

    // Deleting the CRD deletes its objects (a real server sends DELETED for each before the
    // resource goes); the resource goes back to not-installed.
    await waitFor(() => server.activeWatches('httproutes') === 1, 'route watch open');
    server.uninstall('gateway.networking.k8s.io', 'v1', 'httproutes');
    await waitFor(
      () => store.get('gateway.networking.k8s.io/HTTPRoute/shop/r1') === undefined,
      'route deleted',
    );
    await waitFor(() => (httproutes() as { state: string }).state === 'not-installed', 'not-installed again');

    // If the deletions are missed (no watch open at the time), the last known objects are kept
    // while the resource is away, and the diff removes them when it is back.
    server.install(crd('HTTPRoute'));
    server.create(route('r1'));
    await waitFor(
      () =>
        server.activeWatches('httproutes') === 1 &&
        store.get('gateway.networking.k8s.io/HTTPRoute/shop/r1') !== undefined,
      'route back',
    );
    server.dropWatches();
    server.uninstall('gateway.networking.k8s.io', 'v1', 'httproutes');
    server.compact();
    await waitFor(
      () =>
        server.count('watch', 'httproutes') >= 4 &&
        (httproutes() as { state: string }).state === 'not-installed',
      'not-installed, watch refused',
    );
    expect(store.get('gateway.networking.k8s.io/HTTPRoute/shop/r1')).toBeDefined();
    server.install(crd('HTTPRoute'));
    await waitFor(
      () => store.get('gateway.networking.k8s.io/HTTPRoute/shop/r1') === undefined,
      'stale route removed by the relist',
    );
  });

  it('cuts a watch that outlives its timeoutSeconds (a silently dead connection) and re-watches', async () => {
    const clock = createManualClock();
    const { source, rec, store } = await setup(
      {},
      {
        resources: PODS.filter((r) => r.kind === 'Pod'),
        clock,
        watchTimeoutSeconds: 60,
        watchGraceMs: 5_000,
      },
    );
    await start(source, rec, store);
    await waitFor(
      () => server.activeWatches('pods') === 1 && source.status().resources[0]?.state === 'watching',
      'watching',
    );
    expect(server.stallWatches()).toBe(1);
    server.create(pod('a'));
    clock.advance(64_999);
    expect(server.count('watch', 'pods')).toBe(1);
    clock.advance(1);
    await waitFor(() => rec.errors.length === 1, 'the stalled watch to be cut');
    expect(rec.errors[0]?.message).toContain('timeoutSeconds=60');
    // Retry after the backoff (on the same clock), from the last resourceVersion: nothing lost.
    clock.advance(40);
    await waitFor(() => store.get('/Pod/shop/a') !== undefined, 'pod a after re-watch');
    expect(server.count('list', 'pods')).toBe(1);
  });

  it('survives malformed watch events: rejected, counted, and the stream goes on', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS.filter((r) => r.kind === 'Pod') });
    await start(source, rec, store);
    await waitFor(() => rec.synced && server.activeWatches('pods') === 1, 'watching');
    expect(
      server.sendRaw('pods', '{"type":"ADDED","object":{"kind":"Pod","metadata":{"namespace":"shop"}}}'),
    ).toBe(1);
    server.sendRaw(
      'pods',
      '{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a/b","namespace":"shop"}}}',
    );
    server.sendRaw('pods', '{"type":"SURPRISE","object":{}}');
    // Not JSON: client-node's Watch drops such lines silently, so they are not counted.
    server.sendRaw('pods', '{not json');
    server.create(pod('a'));
    await waitFor(() => store.get('/Pod/shop/a') !== undefined, 'pod a after the garbage');
    expect(rec.errors.map((e) => e.reason)).toEqual(['invalid-object', 'invalid-object', 'stream']);
    expect(source.counters().errors['invalid-object']).toBe(2);
    expect(store.size).toBe(1);
  });

  it('backs off and recovers when the API server fails, reporting each failure', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS });
    server.create(pod('a'));
    server.failNext(3, 500, (r) => r.verb === 'list' && r.path === '/api/v1/pods');
    await start(source, rec, store);
    await waitFor(() => rec.synced, 'synced after failures');
    expect(store.get('/Pod/shop/a')).toBeDefined();
    expect(rec.errors.map((e) => [e.reason, e.resource, e.code])).toEqual([
      ['list', '/v1/pods', 500],
      ['list', '/v1/pods', 500],
      ['list', '/v1/pods', 500],
    ]);
    expect(source.counters().errors.list).toBe(3);

    server.failNext(2, 503, (r) => r.verb === 'watch');
    server.dropWatches();
    server.create(pod('b'));
    await waitFor(() => store.get('/Pod/shop/b') !== undefined, 'pod b after watch failures');
    expect(source.counters().errors.stream).toBeGreaterThanOrEqual(1);
  });

  it('refuses to start without credentials the server accepts, and keeps retrying', async () => {
    const { rec, store } = await setup({}, { resources: PODS });
    const wrong = new KubernetesSource({
      kubeConfig: kubeConfigFor(server, 'wrong'),
      resources: PODS,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    sources.push(wrong);
    await start(wrong, rec, store);
    await waitFor(() => rec.errors.length >= 4, 'repeated 401s');
    expect(rec.synced).toBe(false);
    expect(rec.errors[0]).toMatchObject({ reason: 'list', code: 401 });
    expect(wrong.status().phase).toBe('syncing');
  });

  it('stops cleanly: no watch left open, no event after stop', async () => {
    const { source, rec, store } = await setup({}, { resources: PODS });
    await start(source, rec, store);
    await waitFor(() => server.activeWatches() === 2, 'watching');
    await source.stop();
    const seen = rec.events.length;
    await waitFor(() => server.activeWatches() === 0, 'watches closed');
    server.create(pod('late'));
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.events.length).toBe(seen);
    expect(source.status().phase).toBe('stopped');
  });
});
