// An in-memory RuleApplier that behaves like iptables-nft-restore --noflush on the nat and
// mangle tables: each restore is one transaction (all or nothing), `:CHAIN` creates or flushes
// a user chain, -A/-I/-D/-F/-X act as iptables does and fail where it fails.

import type { RuleApplier } from '../apply/applier.ts';
import type { Family } from '../rules/index.ts';

const BUILTIN: Readonly<Record<string, readonly string[]>> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};
const TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'RETURN',
  'REDIRECT',
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'MARK',
  'CONNMARK',
]);

type Tables = Map<string, Map<string, string[]>>;

function emptyTables(): Tables {
  const t: Tables = new Map();
  for (const [name, chains] of Object.entries(BUILTIN)) t.set(name, new Map(chains.map((c) => [c, []])));
  return t;
}

function clone(t: Tables): Tables {
  return new Map([...t].map(([name, chains]) => [name, new Map([...chains].map(([c, r]) => [c, [...r]]))]));
}

export interface MemoryApplierCall {
  readonly op: 'save' | 'restore';
  readonly netns: string;
  readonly family: Family;
  readonly text?: string;
}

export class MemoryRuleApplier implements RuleApplier {
  readonly #netns = new Map<string, Record<Family, Tables>>();
  readonly calls: MemoryApplierCall[] = [];
  /** When set, the next restore (in any netns) fails with this message and changes nothing. */
  failNextRestore: string | undefined;

  /** Makes a netns exist (empty tables). */
  addNetns(path: string): void {
    if (!this.#netns.has(path)) this.#netns.set(path, { 4: emptyTables(), 6: emptyTables() });
  }

  removeNetns(path: string): void {
    this.#netns.delete(path);
  }

  hasNetns(path: string): boolean {
    return this.#netns.has(path);
  }

  /** Our rules in a netns as iptables-save would print them (for assertions). */
  dump(netns: string, family: Family): string {
    return render(this.#tables(netns, family));
  }

  async save(netns: string, family: Family): Promise<string> {
    this.calls.push({ op: 'save', netns, family });
    return render(this.#tables(netns, family));
  }

  async restore(netns: string, family: Family, text: string): Promise<void> {
    this.calls.push({ op: 'restore', netns, family, text });
    const current = this.#tables(netns, family);
    if (this.failNextRestore !== undefined) {
      const message = this.failNextRestore;
      this.failNextRestore = undefined;
      throw new Error(message);
    }
    const next = clone(current);
    applyRestore(next, text);
    const entry = this.#netns.get(netns);
    if (entry) entry[family] = next;
  }

  #tables(netns: string, family: Family): Tables {
    const entry = this.#netns.get(netns);
    if (!entry) throw new Error(`nsenter: cannot open ${netns}: No such file or directory`);
    return entry[family];
  }
}

function render(tables: Tables): string {
  const out: string[] = [];
  for (const [name, chains] of tables) {
    out.push(`*${name}`);
    for (const chain of chains.keys()) {
      out.push(BUILTIN[name]?.includes(chain) ? `:${chain} ACCEPT [0:0]` : `:${chain} - [0:0]`);
    }
    for (const [chain, rules] of chains) for (const r of rules) out.push(`-A ${chain} ${r}`);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

function applyRestore(tables: Tables, text: string): void {
  let table: Map<string, string[]> | undefined;
  let name = '';
  const fail = (n: number, why: string): never => {
    throw new Error(`iptables-restore: line ${n} failed: ${why}`);
  };
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      name = line.slice(1);
      table = tables.get(name) ?? fail(n, `unknown table ${name}`);
      return;
    }
    if (!table) {
      fail(n, 'no table');
      return;
    }
    if (line === 'COMMIT') {
      table = undefined;
      return;
    }
    const words = line.split(/\s+/);
    const chainName = line.startsWith(':') ? (words[0] ?? '').slice(1) : (words[1] ?? '');
    const chain = table.get(chainName);
    const rest = words.slice(2).join(' ');
    const isBuiltin = BUILTIN[name]?.includes(chainName) === true;
    const target = words[words.indexOf('-j') + 1];
    const checkTarget = () => {
      if (target !== undefined && !TARGETS.has(target) && !table?.has(target)) {
        fail(n, `Chain '${target}' does not exist`);
      }
    };
    if (line.startsWith(':')) {
      if (chain && !isBuiltin) chain.length = 0;
      else if (!chain) table.set(chainName, []);
      return;
    }
    if (!chain) {
      fail(n, `Chain '${chainName}' does not exist`);
      return;
    }
    switch (words[0]) {
      case '-A':
        checkTarget();
        chain.push(rest);
        return;
      case '-I':
        checkTarget();
        chain.unshift(rest);
        return;
      case '-D': {
        const at = chain.indexOf(rest);
        if (at < 0) fail(n, 'Bad rule (does a matching rule exist in that chain?)');
        chain.splice(at, 1);
        return;
      }
      case '-F':
        chain.length = 0;
        return;
      case '-X': {
        if (isBuiltin) fail(n, 'cannot delete a built-in chain');
        if (chain.length > 0) fail(n, 'Directory not empty');
        for (const rules of table.values()) {
          if (rules.some((r) => r.split(' ').includes(chainName))) fail(n, 'Too many links');
        }
        table.delete(chainName);
        return;
      }
      default:
        fail(n, `unknown command ${words[0]}`);
    }
  });
}
