// Listener reconciliation: the proxy says which items (local workloads, enrolled pods) should have
// listeners, and this opens, replaces and closes them. It is where interception plugs in: the
// proxy decides what `open` does (loopback listeners in local mode, listeners inside a pod's
// network namespace in-pod), this module decides when.
//
// Runs are serialised: a call during a run records the newest wanted set and schedules one more
// run (any number of calls coalesce into one). A failed open is kept as that key's error (for
// admin and readiness) and retried on the next run.

export interface ListenerReconcilerOptions<T, H> {
  /** Identity of an item: one set of listeners per key. */
  key(item: T): string;
  /** When an item's fingerprint changes, its listeners are closed and opened again. */
  fingerprint(item: T): string;
  /** Opens an item's listeners; a rejection is recorded as the key's error. */
  open(item: T): Promise<H>;
  /** Closes listeners opened by `open`; open connections may finish for `graceMs`. */
  close(handle: H, graceMs: number): Promise<void>;
  /** Grace given to listeners removed or replaced by a reconcile. Default 1000 ms. */
  readonly graceMs?: number;
  /** Told about every failed open or close (logging). */
  onError?(key: string, error: Error, phase: 'open' | 'close'): void;
}

export interface ReconciledListener<T, H> {
  readonly item: T;
  readonly fingerprint: string;
  readonly handle: H;
}

export interface ListenerReconciler<T, H> {
  /**
   * Makes the open listeners match `wanted`. Resolves when a run that saw this set (or a newer
   * one) has finished. Never rejects: failures are kept in `errors()`.
   */
  reconcile(wanted: readonly T[]): Promise<void>;
  /** The listeners open now, by key. */
  entries(): ReadonlyMap<string, ReconciledListener<T, H>>;
  get(key: string): ReconciledListener<T, H> | undefined;
  /** Why a wanted key has no listeners, by key (the last failed open's message). */
  errors(): ReadonlyMap<string, string>;
  /** Keys wanted by the last reconcile that have no listeners open (failed or not yet tried). */
  pending(): readonly string[];
  /** Stops reconciling and closes every listener (default grace 0). */
  close(graceMs?: number): Promise<void>;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function createListenerReconciler<T, H>(
  options: ListenerReconcilerOptions<T, H>,
): ListenerReconciler<T, H> {
  const graceMs = options.graceMs ?? 1000;
  const open = new Map<string, ReconciledListener<T, H>>();
  const errors = new Map<string, string>();
  let wantedKeys: string[] = [];
  let next: readonly T[] | undefined;
  let running: Promise<void> | undefined;
  let closed = false;

  async function closeOne(key: string, l: ReconciledListener<T, H>, grace: number): Promise<void> {
    open.delete(key);
    try {
      await options.close(l.handle, grace);
    } catch (err) {
      options.onError?.(key, asError(err), 'close');
    }
  }

  async function runOnce(wanted: readonly T[]): Promise<void> {
    const want = new Map<string, T>();
    for (const item of wanted) want.set(options.key(item), item);
    wantedKeys = [...want.keys()];
    for (const [key, l] of [...open]) {
      const item = want.get(key);
      if (item === undefined || options.fingerprint(item) !== l.fingerprint) {
        await closeOne(key, l, graceMs);
      }
    }
    for (const key of [...errors.keys()]) if (!want.has(key)) errors.delete(key);
    for (const [key, item] of want) {
      if (closed) return;
      if (open.has(key)) continue;
      const fingerprint = options.fingerprint(item);
      try {
        const handle = await options.open(item);
        if (closed) {
          // close() ran while this was opening: nothing may stay open after it.
          await options.close(handle, 0).catch(() => {});
          return;
        }
        open.set(key, { item, fingerprint, handle });
        errors.delete(key);
      } catch (err) {
        const e = asError(err);
        errors.set(key, e.message);
        options.onError?.(key, e, 'open');
      }
    }
  }

  function reconcile(wanted: readonly T[]): Promise<void> {
    if (closed) return Promise.resolve();
    next = wanted;
    if (running !== undefined) return running;
    running = (async () => {
      while (next !== undefined && !closed) {
        const w = next;
        next = undefined;
        await runOnce(w);
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    reconcile,
    entries: () => open,
    get: (key) => open.get(key),
    errors: () => errors,
    pending: () => wantedKeys.filter((k) => !open.has(k)),
    async close(grace = 0) {
      if (closed) return;
      closed = true;
      next = undefined;
      await running;
      await Promise.all([...open].map(([key, l]) => closeOne(key, l, grace)));
      errors.clear();
      wantedKeys = [];
    },
  };
}
