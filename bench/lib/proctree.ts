// A component measured as all of its processes: a proxy may fork workers (`--concurrency`), and
// under Bun the launcher is a shell script whose child is the runtime. CPU and memory of the
// whole tree, read from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds, peakRssMiB, rssMiB } from './procstat.ts';

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

/** `pid` and every live descendant. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = statOf(Number(entry));
    if (s === undefined) continue;
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [Number(entry)]);
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

const safe = (f: (pid: number) => number, pid: number): number => {
  try {
    return f(pid);
  } catch {
    return 0;
  }
};

/** User + system CPU seconds of the tree's live processes. */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((a, p) => a + safe(cpuSeconds, p), 0);
}

/** The tree's processes that do the work: launcher shells left out. */
function workers(pid: number): number[] {
  const all = processTree(pid);
  const real = all.filter((p) => !SHELLS.has(statOf(p)?.comm ?? ''));
  return real.length > 0 ? real : all;
}

/** VmRSS summed over the tree (MiB): what the component holds now. */
export function treeRssMiB(pid: number): number {
  return workers(pid).reduce((a, p) => a + safe(rssMiB, p), 0);
}

/** VmHWM summed over the tree (MiB): an upper bound of the component's peak. */
export function treePeakRssMiB(pid: number): number {
  return workers(pid).reduce((a, p) => a + safe(peakRssMiB, p), 0);
}
