// The one capability that touches a pod's netns: save and restore iptables text inside it.
// The real implementation runs `nsenter --net=<path> iptables-save | iptables-restore --noflush`;
// tests use the in-memory one from ../testing.

import { execa } from 'execa';
import type { Family } from '../rules/index.ts';

export interface RuleApplier {
  /** `iptables-save` (family 4) or `ip6tables-save` (6) output for the nat and mangle tables. */
  save(netns: string, family: Family): Promise<string>;
  /** Feeds `text` to `iptables-restore --noflush` (or ip6tables-restore) inside the netns. */
  restore(netns: string, family: Family, text: string): Promise<void>;
}

export interface NsenterApplierOptions {
  /** Per command, ms (default 10000). */
  readonly timeoutMs?: number;
  /** Binary names or paths (defaults: nsenter, iptables-save, ...). */
  readonly nsenter?: string;
}

export class RuleCommandError extends Error {
  readonly command: string;
  readonly netns: string;
  readonly detail: string;
  constructor(command: string, netns: string, detail: string) {
    super(`${command} in ${netns} failed: ${detail}`);
    this.command = command;
    this.netns = netns;
    this.detail = detail;
    this.name = 'RuleCommandError';
  }
}

export function nsenterApplier(options: NsenterApplierOptions = {}): RuleApplier {
  const timeout = options.timeoutMs ?? 10_000;
  const nsenter = options.nsenter ?? 'nsenter';
  const run = async (netns: string, args: string[], input?: string): Promise<string> => {
    const result = await execa(nsenter, [`--net=${netns}`, ...args], {
      ...(input !== undefined ? { input } : {}),
      timeout,
      reject: false,
      stripFinalNewline: false,
    });
    if (result.exitCode !== 0 || result.failed) {
      const detail = String(result.stderr || result.shortMessage || 'failed')
        .trim()
        .slice(0, 2000);
      throw new RuleCommandError(args[0] ?? nsenter, netns, detail);
    }
    return String(result.stdout);
  };
  return {
    async save(netns, family) {
      const bin = family === 4 ? 'iptables-save' : 'ip6tables-save';
      const nat = await run(netns, [bin, '-t', 'nat']);
      const mangle = await run(netns, [bin, '-t', 'mangle']);
      return `${nat}\n${mangle}`;
    },
    async restore(netns, family, text) {
      await run(netns, [family === 4 ? 'iptables-restore' : 'ip6tables-restore', '--noflush'], text);
    },
  };
}
