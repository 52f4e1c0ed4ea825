// CPU time and memory of a process and its descendants, read from /proc (Linux). A proxy with
// --concurrency N is a supervisor and N worker processes; nginx is a master and its workers.
// Every figure here covers the whole tree under the pid given, so a bench measures what the
// component costs, whatever its process layout.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** The pid and every live descendant (scanning /proc, so no kernel option is needed). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU seconds of this one process (no descendants). */
export function ownCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** A `/proc/<pid>/status` field in KiB, 0 when the process is gone. */
export function statusKiB(pid: number, field: string): number {
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
