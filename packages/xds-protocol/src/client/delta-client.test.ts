import * as net from 'node:net';
import { createManualClock } from '@weft/telemetry/testing';
import { describe, expect, it } from 'vitest';
import { RecordingHandler, waitUntil } from '../testing/index.ts';
import { weftResourceType } from '../weft-resources.ts';
import { createDeltaAdsClient } from './delta-client.ts';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('delta client reconnects', () => {
  it('with capped exponential backoff and jitter, on the injected scheduler', async () => {
    const clock = createManualClock();
    const handler = new RecordingHandler();
    const client = createDeltaAdsClient({
      target: `127.0.0.1:${await freePort()}`, // nothing listens
      node: { id: 'test' },
      types: [weftResourceType('workload')],
      handler,
      scheduler: clock,
      random: () => 1, // maximum jitter: delay x 1.5
      backoff: { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.5 },
    });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await waitUntil(() => clock.pending().length === 1, 5000, `retry ${i} scheduled`);
      delays.push(clock.pending()[0] as number);
      clock.runNext();
    }
    client.close();
    expect(delays).toEqual([150, 300, 600, 1000, 1000, 1000]);
    expect(handler.states).toContain('disconnected');
    expect(client.state).toBe('closed');
    expect(clock.pending()).toEqual([]); // close cancels the pending retry
  });
});
