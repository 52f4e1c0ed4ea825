// Throwaway network namespaces for root-only tests. Names carry the pid so parallel runs and
// leftovers from a crashed run never collide; every one is deleted on close.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const NOT_ROOT_MESSAGE = 'not root: netns tests skipped (not counted as passed)';

export function isRoot(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('iptables-save', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let counter = 0;

export class ThrowawayNetns {
  readonly name: string;
  readonly path: string;

  constructor(tag = 't') {
    counter += 1;
    this.name = `weftcni-${tag}-${process.pid}-${counter}`;
    this.path = `/var/run/netns/${this.name}`;
    execFileSync('ip', ['netns', 'add', this.name]);
    this.exec('ip', ['link', 'set', 'lo', 'up']);
  }

  exec(cmd: string, args: readonly string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      ...(input !== undefined ? { input } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  close(): void {
    if (existsSync(this.path)) execFileSync('ip', ['netns', 'delete', this.name]);
  }
}

/** `ip netns exec <name> <cmd...>` argv, for spawning long-running processes inside a netns. */
export function inNetns(
  name: string,
  cmd: string,
  args: readonly string[],
): { file: string; args: string[] } {
  return { file: 'ip', args: ['netns', 'exec', name, cmd, ...args] };
}
