// Finds the native programs a benchmark compares against (Debian's haproxy, nginx, wrk) and
// installs the missing ones with apt-get when running as root.
import { execa } from 'execa';

const BINARIES: Record<string, string> = { haproxy: 'haproxy', nginx: 'nginx', wrk: 'wrk' };

async function has(binary: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${binary} || test -x /usr/sbin/${binary}`], {
    reject: false,
  });
  return r.exitCode === 0;
}

export async function ensurePackages(packages: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const p of packages) if (!(await has(BINARIES[p] ?? p))) missing.push(p);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing ${missing.join(', ')}: install them (apt-get install ${missing.join(' ')}) or run as root`,
    );
  }
  process.stderr.write(`installing ${missing.join(', ')} with apt-get ...\n`);
  await execa('apt-get', ['update', '-qq'], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
  await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** Absolute path of a program that may live in /usr/sbin (not on every user's PATH). */
export async function which(binary: string): Promise<string> {
  const r = await execa('sh', ['-c', `command -v ${binary} || echo /usr/sbin/${binary}`]);
  return r.stdout.trim();
}
