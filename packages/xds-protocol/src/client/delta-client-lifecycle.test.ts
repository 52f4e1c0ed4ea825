// The stream's lifecycle against a server that goes silent: its host is gone (powered off, a
// network namespace torn down, a partition) and neither FIN nor RST ever arrives. Only HTTP/2
// keepalive pings tell the client its stream is dead; without them it waits on a socket that
// never closes, and never resyncs. Runs on Node (vitest) and Bun (bun test).
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingHandler, startTestAdsServer, testWorkload } from '../testing/index.ts';
import { WEFT_TYPE_URL } from '../type-urls.ts';
import { weftResource, weftResourceType } from '../weft-resources.ts';
import { createDeltaAdsClient, DEFAULT_XDS_KEEPALIVE } from './delta-client.ts';

const W = WEFT_TYPE_URL.workload;

/** A TCP relay to `port` whose open connections can be frozen: bytes stop, sockets stay open. */
async function startRelay(port: number) {
  const frozen: net.Socket[] = [];
  const pairs: Array<[net.Socket, net.Socket]> = [];
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.pipe(up);
    up.pipe(down);
    pairs.push([down, up]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    /** The silent host: nothing more passes on the connections open now, and nothing closes. */
    freeze() {
      for (const [down, up] of pairs.splice(0)) {
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
        frozen.push(down, up);
      }
    },
    close() {
      for (const s of frozen) s.destroy();
      for (const [down, up] of pairs) {
        down.destroy();
        up.destroy();
      }
      server.close();
    },
  };
}
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('delta client stream lifecycle', () => {
  it('pings by default (a dead stream is noticed even with no FIN or RST)', () => {
    expect(DEFAULT_XDS_KEEPALIVE['grpc.keepalive_time_ms']).toBeGreaterThan(0);
    expect(DEFAULT_XDS_KEEPALIVE['grpc.keepalive_timeout_ms']).toBeGreaterThan(0);
  });

  it('notices a server gone silent through its keepalive pings, reconnects and resyncs', async () => {
    const s = await startTestAdsServer();
    cleanups.push(() => s.close());
    s.cache.apply([weftResource('workload', testWorkload('a'))]);
    const relay = await startRelay(Number(s.address.slice(s.address.lastIndexOf(':') + 1)));
    cleanups.push(() => relay.close());
    const h = new RecordingHandler();
    const c = createDeltaAdsClient({
      target: relay.address,
      node: { id: 'ztunnel~node-1' },
      types: [weftResourceType('workload')],
      handler: h,
      backoff: { initialMs: 20, maxMs: 200 },
      channelOptions: { 'grpc.keepalive_time_ms': 200, 'grpc.keepalive_timeout_ms': 500 },
    });
    cleanups.push(() => c.close());
    await c.synced();
    expect(h.count(W)).toBe(1);

    relay.freeze();
    const before = h.states.length;
    await h.waitFor(() => h.states.slice(before).includes('disconnected'), 15_000);
    expect(h.count(W)).toBe(1); // the last good state stays while the server is away

    // New connections through the relay work again: the client reconnects and resyncs.
    s.cache.apply([weftResource('workload', testWorkload('b'))]);
    await h.waitFor(() => h.count(W) === 2 && c.state === 'connected', 15_000);
  }, 40_000);
});
