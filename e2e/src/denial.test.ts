import { describe, expect, it } from 'vitest';
import { httpVerdict, judgeCall, sumRejected } from './denial.ts';
import type { CallResult } from './driver.ts';

const METRICS = `# HELP weft_rejected_total Inputs refused by a Weft component, by reason.
# TYPE weft_rejected_total counter
weft_rejected_total{component="ztunnel",reason="strict_mtls"} 3
weft_rejected_total{component="ztunnel",reason="denied"} 2
weft_rejected_total{component="ztunnel",reason="http_bad_request"} 12
istio_tcp_connections_opened_total{reason="strict_mtls"} 99
`;

/** A component whose weft_rejected_total{reason} moves when `refuse` says so, as a proxy's would. */
function meshWith(counts: Record<string, number>) {
  return {
    metrics: async (component: string): Promise<string> => {
      if (component !== 'node-a') throw new Error(`no component ${component}`);
      return Object.entries(counts)
        .map(([reason, n]) => `weft_rejected_total{component="ztunnel",reason="${reason}"} ${n}`)
        .join('\n');
    },
  };
}

const closed: CallResult = { ok: false, error: 'socket hang up' };
const status = (s: number): CallResult => ({ ok: true, response: { status: s, headers: {}, body: '' } });

describe('denials', () => {
  it('sums weft_rejected_total over the named reasons only', () => {
    expect(sumRejected(METRICS, ['strict_mtls'])).toBe(3);
    expect(sumRejected(METRICS, ['strict_mtls', 'denied'])).toBe(5);
    expect(sumRejected(METRICS, ['waypoint_bypass'])).toBe(0);
  });

  it('takes only 401 and 403 as an HTTP denial', () => {
    expect([200, 204, 401, 403, 404, 503].map((s) => httpVerdict(status(s)))).toEqual([
      'allowed',
      'allowed',
      'denied',
      'denied',
      'other',
      'other',
    ]);
    expect(httpVerdict(closed)).toBe('other');
  });

  it('counts a failed call as denied only when the refusing proxy counted it', async () => {
    const counts = { strict_mtls: 3, denied: 0 };
    const mesh = meshWith(counts);
    const refusers = [{ component: 'node-a', reasons: ['strict_mtls'] }];

    const counted = await judgeCall(mesh, refusers, async () => {
      counts.strict_mtls++;
      return closed;
    });
    expect(counted.verdict).toBe('denied');
    expect(counted.detail).toContain('counted by node-a');

    // A broken path: the call fails and nobody refused it.
    const broken = await judgeCall(mesh, refusers, async () => closed);
    expect(broken.verdict).toBe('other');
    expect(broken.detail).toContain('no refusal counted by node-a');

    // Another reason moving is not this refusal.
    const elsewhere = await judgeCall(mesh, refusers, async () => {
      counts.denied++;
      return closed;
    });
    expect(elsewhere.verdict).toBe('other');

    // A 503 from a proxy in between, with the refusal counted where it happened.
    const via503 = await judgeCall(mesh, [{ component: 'node-a', reasons: ['denied'] }], async () => {
      counts.denied++;
      return status(503);
    });
    expect(via503.verdict).toBe('denied');

    expect((await judgeCall(mesh, refusers, async () => status(403))).verdict).toBe('denied');
    expect((await judgeCall(mesh, refusers, async () => status(200))).verdict).toBe('allowed');
    expect((await judgeCall(mesh, [], async () => closed)).verdict).toBe('other');
  });

  it('does not take an unreadable counter for a refusal', async () => {
    const judged = await judgeCall(
      meshWith({}),
      [{ component: 'node-b', reasons: ['denied'] }],
      async () => closed,
    );
    expect(judged.verdict).toBe('other');
  });
});
