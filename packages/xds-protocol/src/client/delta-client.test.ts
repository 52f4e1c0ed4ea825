import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock.ts';
import { RecordingHandler, waitUntil } from '../testing/index.ts';
import { weftResourceType } from '../weft-resources.ts';
import { createDeltaAdsClient } from './delta-client.ts';

/** A clock whose timers run only when the test says so. */
function manualClock() {
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const clock: Clock = {
    now: () => 0,
    setTimeout(fn, ms) {
      const t = { fn, ms };
      timers.push(t);
      return () => {
        const i = timers.indexOf(t);
        if (i >= 0) timers.splice(i, 1);
      };
    },
  };
  return { clock, timers };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('delta client reconnects', () => {
  it('with capped exponential backoff and jitter, on the injected clock', async () => {
    const { clock, timers } = manualClock();
    const handler = new RecordingHandler();
    const client = createDeltaAdsClient({
      target: `127.0.0.1:${await freePort()}`, // nothing listens
      node: { id: 'test' },
      types: [weftResourceType('workload')],
      handler,
      clock,
      random: () => 1, // maximum jitter: delay x 1.5
      backoff: { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0.5 },
    });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await waitUntil(() => timers.length === 1, 5000, `retry ${i} scheduled`);
      const t = timers.shift() as { fn: () => void; ms: number };
      delays.push(t.ms);
      t.fn();
    }
    client.close();
    expect(delays).toEqual([150, 300, 600, 1000, 1000, 1000]);
    expect(handler.states).toContain('disconnected');
    expect(client.state).toBe('closed');
    expect(timers).toEqual([]); // close cancels the pending retry
  });
});
