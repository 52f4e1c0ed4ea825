import type { Clock, Scheduler, TimerHandle } from '../clock.ts';

/** A Clock and Scheduler that move only when told to: `advance(ms)` runs what falls due, in order. */
export interface ManualClock extends Clock, Scheduler {
  /** Moves time forward, running due tasks (each at its own time). */
  advance(ms: number): void;
  /** Runs the next pending task, moving time to it; false when none. */
  runNext(): boolean;
  /** Delays of pending tasks from now, soonest first. */
  pending(): number[];
}

export function createManualClock(startMs = Date.UTC(2030, 0, 1)): ManualClock {
  let now = startMs;
  let seq = 0;
  const tasks: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];

  function next() {
    let best: (typeof tasks)[number] | undefined;
    for (const t of tasks) {
      if (!t.cancelled && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    return best;
  }

  function run(task: (typeof tasks)[number]) {
    tasks.splice(tasks.indexOf(task), 1);
    now = Math.max(now, task.at);
    task.fn();
  }

  return {
    now: () => now,
    schedule(delayMs: number, fn: () => void): TimerHandle {
      const task = { at: now + Math.max(0, delayMs), seq: seq++, fn, cancelled: false };
      tasks.push(task);
      return {
        cancel() {
          task.cancelled = true;
          const i = tasks.indexOf(task);
          if (i >= 0) tasks.splice(i, 1);
        },
      };
    },
    advance(ms: number) {
      const until = now + ms;
      for (let t = next(); t && t.at <= until; t = next()) run(t);
      now = until;
    },
    runNext() {
      const t = next();
      if (!t) return false;
      run(t);
      return true;
    },
    pending() {
      return tasks
        .filter((t) => !t.cancelled)
        .map((t) => t.at - now)
        .sort((a, b) => a - b);
    },
  };
}
