import { describe, expect, it } from 'vitest';
import { createListenerReconciler } from './reconciler.ts';

interface Item {
  readonly id: string;
  readonly v: number;
}

interface Handle {
  readonly id: string;
  readonly v: number;
  readonly serial: number;
}

/** A fake open/close pair that records every call; `failing` ids reject on open. */
function fake(opts: { failing?: Set<string>; openDelayMs?: number } = {}) {
  const log: string[] = [];
  let serial = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const reconciler = createListenerReconciler<Item, Handle>({
    key: (i) => i.id,
    fingerprint: (i) => `${i.v}`,
    async open(i) {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      try {
        if (opts.openDelayMs) await new Promise((r) => setTimeout(r, opts.openDelayMs));
        if (opts.failing?.has(i.id)) {
          log.push(`open-fail ${i.id}`);
          throw new Error(`EADDRINUSE ${i.id}`);
        }
        log.push(`open ${i.id}@${i.v}`);
        return { id: i.id, v: i.v, serial: ++serial };
      } finally {
        concurrent--;
      }
    },
    async close(h, graceMs) {
      log.push(`close ${h.id}@${h.v} grace=${graceMs}`);
    },
    graceMs: 500,
  });
  return { reconciler, log, maxConcurrent: () => maxConcurrent };
}

const keys = (m: ReadonlyMap<string, unknown>) => [...m.keys()].sort();

describe('createListenerReconciler', () => {
  it.each([
    {
      name: 'opens what is wanted',
      steps: [
        [
          { id: 'a', v: 1 },
          { id: 'b', v: 1 },
        ],
      ],
      open: ['a', 'b'],
      log: ['open a@1', 'open b@1'],
    },
    {
      name: 'an unchanged item is left alone',
      steps: [[{ id: 'a', v: 1 }], [{ id: 'a', v: 1 }]],
      open: ['a'],
      log: ['open a@1'],
    },
    {
      name: 'a changed fingerprint reopens with the grace',
      steps: [[{ id: 'a', v: 1 }], [{ id: 'a', v: 2 }]],
      open: ['a'],
      log: ['open a@1', 'close a@1 grace=500', 'open a@2'],
    },
    {
      name: 'a removed item is closed',
      steps: [
        [
          { id: 'a', v: 1 },
          { id: 'b', v: 1 },
        ],
        [{ id: 'b', v: 1 }],
      ],
      open: ['b'],
      log: ['open a@1', 'open b@1', 'close a@1 grace=500'],
    },
    {
      name: 'an empty set closes everything',
      steps: [[{ id: 'a', v: 1 }], []],
      open: [],
      log: ['open a@1', 'close a@1 grace=500'],
    },
    {
      name: 'duplicate keys: the last item wins',
      steps: [
        [
          { id: 'a', v: 1 },
          { id: 'a', v: 2 },
        ],
      ],
      open: ['a'],
      log: ['open a@2'],
    },
  ])('$name', async ({ steps, open, log }) => {
    const f = fake();
    for (const s of steps) await f.reconciler.reconcile(s);
    expect(keys(f.reconciler.entries())).toEqual(open);
    expect(f.log).toEqual(log);
    expect(f.reconciler.errors().size).toBe(0);
    await f.reconciler.close();
  });

  it('keeps a failed open as the key error, retries it, and forgets it once unwanted', async () => {
    const failing = new Set(['b']);
    const f = fake({ failing });
    await f.reconciler.reconcile([
      { id: 'a', v: 1 },
      { id: 'b', v: 1 },
    ]);
    expect(keys(f.reconciler.entries())).toEqual(['a']);
    expect(Object.fromEntries(f.reconciler.errors())).toEqual({ b: 'EADDRINUSE b' });
    expect(f.reconciler.pending()).toEqual(['b']);

    // Still failing: retried on the next run, error kept.
    await f.reconciler.reconcile([
      { id: 'a', v: 1 },
      { id: 'b', v: 1 },
    ]);
    expect(f.log.filter((l) => l === 'open-fail b')).toHaveLength(2);

    failing.delete('b');
    await f.reconciler.reconcile([
      { id: 'a', v: 1 },
      { id: 'b', v: 1 },
    ]);
    expect(keys(f.reconciler.entries())).toEqual(['a', 'b']);
    expect(f.reconciler.errors().size).toBe(0);
    expect(f.reconciler.pending()).toEqual([]);

    failing.add('c');
    await f.reconciler.reconcile([{ id: 'c', v: 1 }]);
    expect(f.reconciler.errors().has('c')).toBe(true);
    await f.reconciler.reconcile([]);
    expect(f.reconciler.errors().size).toBe(0);
    await f.reconciler.close();
  });

  it('serialises runs: calls during a run coalesce into one more run with the newest set', async () => {
    const f = fake({ openDelayMs: 20 });
    const first = f.reconciler.reconcile([{ id: 'a', v: 1 }]);
    const calls = [
      f.reconciler.reconcile([{ id: 'b', v: 1 }]),
      f.reconciler.reconcile([{ id: 'c', v: 1 }]),
      f.reconciler.reconcile([
        { id: 'a', v: 1 },
        { id: 'd', v: 1 },
      ]),
    ];
    await Promise.all([first, ...calls]);
    // One run for the first call, one for the newest of the three others; b and c never opened.
    expect(f.log).toEqual(['open a@1', 'open d@1']);
    expect(keys(f.reconciler.entries())).toEqual(['a', 'd']);
    expect(f.maxConcurrent()).toBe(1);
    await f.reconciler.close();
  });

  it('close() waits for a run, closes everything with its grace, and ignores later calls', async () => {
    const f = fake({ openDelayMs: 10 });
    void f.reconciler.reconcile([
      { id: 'a', v: 1 },
      { id: 'b', v: 1 },
    ]);
    await new Promise((r) => setTimeout(r, 5));
    await f.reconciler.close(0);
    expect(f.reconciler.entries().size).toBe(0);
    // Whatever was opened has been closed again.
    const opened = f.log.filter((l) => l.startsWith('open ')).length;
    const closedCount = f.log.filter((l) => l.startsWith('close ')).length;
    expect(closedCount).toBe(opened);
    await f.reconciler.reconcile([{ id: 'z', v: 1 }]);
    expect(f.log.some((l) => l.includes('z'))).toBe(false);
  });

  it('a failing close is reported and does not stop the run', async () => {
    const errors: string[] = [];
    const r = createListenerReconciler<Item, string>({
      key: (i) => i.id,
      fingerprint: (i) => `${i.v}`,
      open: async (i) => i.id,
      close: async (h) => {
        if (h === 'a') throw new Error('close failed');
      },
      onError: (key, err, phase) => errors.push(`${phase} ${key}: ${err.message}`),
    });
    await r.reconcile([
      { id: 'a', v: 1 },
      { id: 'b', v: 1 },
    ]);
    await r.reconcile([{ id: 'b', v: 2 }]);
    expect(errors).toEqual(['close a: close failed']);
    expect(r.get('b')?.fingerprint).toBe('2');
    await r.close();
  });
});
