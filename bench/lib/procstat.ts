// CPU time and memory of a process and its descendants, read from /proc (Linux). A proxy with
// --concurrency N is a supervisor and N worker processes; nginx is a master and its workers.
// Every figure here covers the whole tree under the pid given, so a bench measures what the
// component costs, whatever its process layout.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (text !== '') for (const c of text.split(/\s+/)) out.push(Number(c));
    } catch {
      // the task ended meanwhile
    }
  }
  return out;
}

/** The pid and every descendant alive now. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i] as number));
  return all;
}

function ownCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function statusKiB(pid: number, field: string): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds used so far by the process and its live descendants. */
export function cpuSeconds(pid: number): number {
  return processTree(pid).reduce((s, p) => s + ownCpuSeconds(p), 0);
}

/** Peak resident set (VmHWM) in MiB, summed over the tree (an upper bound of the tree's peak). */
export function peakRssMiB(pid: number): number {
  return processTree(pid).reduce((s, p) => s + statusKiB(p, 'VmHWM'), 0) / 1024;
}

/** Resident set now (VmRSS) in MiB, summed over the tree: what it holds at the end of a run. */
export function rssMiB(pid: number): number {
  return processTree(pid).reduce((s, p) => s + statusKiB(p, 'VmRSS'), 0) / 1024;
}
