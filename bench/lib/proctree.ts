// A component measured as all of its processes: a proxy may fork workers (`--concurrency`), and
// under Bun the launcher is a shell script whose child is the runtime. CPU and memory of the
// whole tree, read from /proc (Linux).
import { readFileSync } from 'node:fs';
import { ownCpuSeconds, processTree, statusKiB } from './procstat.ts';

export { processTree };

const SHELLS = new Set(['sh', 'dash', 'bash']);

function statOf(pid: number): { ppid: number; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(open + 1, close), ppid: Number(fields[1]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

const safe = (f: (pid: number) => number, pid: number): number => {
  try {
    return f(pid);
  } catch {
    return 0;
  }
};

/** User + system CPU seconds of the tree's live processes. */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((a, p) => a + safe(ownCpuSeconds, p), 0);
}

/** The tree's processes that do the work: launcher shells left out. */
function workers(pid: number): number[] {
  const all = processTree(pid);
  const real = all.filter((p) => !SHELLS.has(statOf(p)?.comm ?? ''));
  return real.length > 0 ? real : all;
}

/** VmRSS summed over the tree (MiB): what the component holds now. */
export function treeRssMiB(pid: number): number {
  return workers(pid).reduce((a, p) => a + safe((q) => statusKiB(q, 'VmRSS') / 1024, p), 0);
}

/** VmHWM summed over the tree (MiB): an upper bound of the component's peak. */
export function treePeakRssMiB(pid: number): number {
  return workers(pid).reduce((a, p) => a + safe((q) => statusKiB(q, 'VmHWM') / 1024, p), 0);
}

/**
 * RssAnon summed over the tree (MiB): private memory only. VmRSS also counts the runtime
 * executable's file-backed pages, which every process of that runtime on a host shares.
 */
export function treeRssAnonMiB(pid: number): number {
  return workers(pid).reduce((a, p) => a + safe((q) => statusKiB(q, 'RssAnon') / 1024, p), 0);
}
