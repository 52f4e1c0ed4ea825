import type { Clock, Scheduler, TimerHandle } from '../time/clock.ts';

/**
 * A Clock and Scheduler whose time moves only when told to: `advance(ms)` and `advanceTo(ms)`
 * run the tasks falling due, in time order (same time: scheduling order), each at its own time.
 */
export interface ManualClock extends Clock, Scheduler {
  /** Moves time forward by `ms`, running due tasks, including tasks they schedule that fall due. */
  advance(ms: number): void;
  /** Moves time forward to `ms` (never back), running due tasks. */
  advanceTo(ms: number): void;
  /** Runs the next pending task, moving time to it; false when none is pending. */
  runNext(): boolean;
  /** Delays of the pending tasks from now, soonest first. */
  pending(): number[];
}

interface Task {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** A manual clock starting at `startMs` (default 2030-01-01T00:00:00Z, in epoch ms). */
export function createManualClock(startMs = Date.UTC(2030, 0, 1)): ManualClock {
  let now = startMs;
  let seq = 0;
  // Pending tasks, soonest first; ties in scheduling order.
  const tasks: Task[] = [];

  /** Where `task` is or would go in `tasks`. */
  function indexOf(task: Task): number {
    let lo = 0;
    let hi = tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = tasks[mid] as Task;
      if (t.at < task.at || (t.at === task.at && t.seq < task.seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function runFirst(): void {
    const task = tasks.shift() as Task;
    now = Math.max(now, task.at);
    task.fn();
  }

  function runUntil(until: number): void {
    if (!(until >= now)) throw new RangeError(`a manual clock does not go back (now ${now}, asked ${until})`);
    while (tasks.length > 0 && (tasks[0] as Task).at <= until) runFirst();
    now = until;
  }

  return {
    now: () => now,
    schedule(delayMs: number, fn: () => void): TimerHandle {
      const task: Task = { at: now + Math.max(0, delayMs || 0), seq: seq++, fn };
      tasks.splice(indexOf(task), 0, task);
      return {
        cancel() {
          const i = indexOf(task);
          if (tasks[i] === task) tasks.splice(i, 1);
        },
      };
    },
    advance: (ms) => runUntil(now + ms),
    advanceTo: (ms) => runUntil(ms),
    runNext() {
      if (tasks.length === 0) return false;
      runFirst();
      return true;
    },
    pending: () => tasks.map((t) => t.at - now),
  };
}
