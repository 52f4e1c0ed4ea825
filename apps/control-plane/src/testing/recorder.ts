import type {
  ChangeBatch,
  SourceError,
  SourceEvent,
  SourceListener,
  SourceStatus,
} from '../sources/types.ts';

/** Polls `condition` until it holds; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(
  condition: () => boolean,
  what = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Records every event of a source; tests read batches, errors and statuses from it. */
export class SourceRecorder {
  readonly events: SourceEvent[] = [];
  readonly listener: SourceListener = (event) => {
    this.events.push(event);
  };
  private consumed = 0;

  get batches(): ChangeBatch[] {
    return this.events.flatMap((e) => (e.type === 'changes' ? [e.batch] : []));
  }

  get errors(): SourceError[] {
    return this.events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
  }

  get statuses(): SourceStatus[] {
    return this.events.flatMap((e) => (e.type === 'status' ? [e.status] : []));
  }

  get synced(): boolean {
    return this.events.some((e) => e.type === 'synced');
  }

  /** Batches recorded since the last call of `take` (or since the start). */
  take(): ChangeBatch[] {
    const all = this.batches;
    const fresh = all.slice(this.consumed);
    this.consumed = all.length;
    return fresh;
  }

  /** Waits for at least one batch after the last `take`, then takes them. */
  async next(what = 'a batch', timeoutMs?: number): Promise<ChangeBatch[]> {
    await waitFor(() => this.batches.length > this.consumed, what, timeoutMs);
    return this.take();
  }
}
