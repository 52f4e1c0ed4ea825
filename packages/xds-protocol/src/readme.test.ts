// The example in README.md, kept compiling and passing.

import {
  createAdsServer,
  createDeltaAdsClient,
  listenAds,
  ResourceCache,
  WEFT_TYPE_URL,
  type Workload,
  weftResource,
  weftResourceType,
} from '@weft/xds-protocol';
import { RecordingHandler, testWorkload } from '@weft/xds-protocol/testing';
import { expect, it } from 'vitest';

it('README example', async () => {
  // Control plane side: one cache, one server.
  const cache = new ResourceCache();
  cache.apply([weftResource('workload', testWorkload('echo'), 'content-hash-1')]);
  const server = await listenAds(createAdsServer({ cache })); // 127.0.0.1:<free port>

  // Proxy side: a delta client writing into the proxy's store through applyUpdate.
  const store = new RecordingHandler();
  const client = createDeltaAdsClient({
    target: server.address,
    node: { id: 'ztunnel~node-1' },
    types: [weftResourceType('workload')],
    handler: store,
  });
  await client.synced();
  const uid = 'cluster.local//Pod/default/echo';
  expect(store.get<Workload>(WEFT_TYPE_URL.workload, uid)?.identity).toBe(
    'spiffe://cluster.local/ns/default/sa/echo',
  );

  // A removal reaches the proxy as a batch with `removals: [uid]`.
  cache.apply([], [{ typeUrl: WEFT_TYPE_URL.workload, name: uid }]);
  await store.waitFor(() => store.count(WEFT_TYPE_URL.workload) === 0);

  client.close();
  await server.close();
});
