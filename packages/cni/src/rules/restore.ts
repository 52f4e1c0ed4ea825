// iptables-save text -> what of ours a netns holds; and RuleSet + that state -> the exact
// iptables-restore --noflush text that installs, replaces or removes our rules in one
// transaction. Only our chains (WEFT_*) and the jumps into them are ever touched.

import type { RuleSet, TableName } from './build.ts';
import { CHAIN_PREFIX } from './constants.ts';

export interface SavedTable {
  /** Our chains present in the table. */
  readonly chains: readonly string[];
  /** Every rule whose chain or target is ours, as printed (`-A CHAIN ...`), in order. */
  readonly rules: readonly string[];
}

/** What of ours one address family's tables hold, by table name. */
export type SavedState = Readonly<Partial<Record<TableName, SavedTable>>>;

export const EMPTY_STATE: SavedState = {};

const TABLES: readonly TableName[] = ['nat', 'mangle'];
const isOurs = (chain: string | undefined) => chain?.startsWith(CHAIN_PREFIX) === true;

/** Parses iptables-save (or ip6tables-save) output, keeping only what is ours. */
export function parseSave(text: string): SavedState {
  const out: Partial<Record<TableName, { chains: string[]; rules: string[] }>> = {};
  let table: { chains: string[]; rules: string[] } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      const name = line.slice(1);
      table = (TABLES as readonly string[]).includes(name) ? { chains: [], rules: [] } : undefined;
      if (table) out[name as TableName] = table;
      continue;
    }
    if (!table) continue;
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0];
      if (chain !== undefined && isOurs(chain)) table.chains.push(chain);
    } else if (line.startsWith('-A ')) {
      const words = line.split(/\s+/);
      if (isOurs(words[1]) || isOurs(targetOf(words))) table.rules.push(words.join(' '));
    }
  }
  const state: Partial<Record<TableName, SavedTable>> = {};
  for (const name of TABLES) {
    const t = out[name];
    if (t && (t.chains.length > 0 || t.rules.length > 0)) state[name] = t;
  }
  return state;
}

function targetOf(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === '-j' || words[i] === '-g') return words[i + 1];
  }
  return undefined;
}

/**
 * iptables-restore --noflush text that leaves exactly `ruleSet` installed (when given) or
 * nothing of ours (when undefined), whatever of ours `current` holds. Returns '' when there is
 * nothing to do (nothing of ours and nothing wanted).
 */
export function restoreText(ruleSet: RuleSet | undefined, current: SavedState = EMPTY_STATE): string {
  const sections: string[] = [];
  for (const name of TABLES) {
    const saved = current[name];
    const wanted = ruleSet?.tables.find((t) => t.table === name);
    if (!saved && !wanted) continue;
    const lines = [`*${name}`];
    const existing = new Set(saved?.chains ?? []);
    const keep = new Set(wanted?.chains ?? []);
    for (const chain of wanted?.chains ?? []) if (!existing.has(chain)) lines.push(`:${chain} - [0:0]`);
    // Jumps into our chains from chains that are not ours: delete each, exactly as printed.
    for (const rule of saved?.rules ?? []) {
      if (!isOurs(rule.split(' ')[1])) lines.push(`-D${rule.slice(2)}`);
    }
    for (const chain of saved?.chains ?? []) lines.push(`-F ${chain}`);
    for (const chain of saved?.chains ?? []) if (!keep.has(chain)) lines.push(`-X ${chain}`);
    lines.push(...(wanted?.rules ?? []));
    lines.push('COMMIT');
    sections.push(lines.join('\n'));
  }
  return sections.length === 0 ? '' : `${sections.join('\n')}\n`;
}

/** Text that deletes only our jumps and chains found in `current` ('' when there are none). */
export function removalRules(current: SavedState): string {
  return restoreText(undefined, current);
}

/** Text that installs `ruleSet` in a netns holding nothing of ours. */
export function installRules(ruleSet: RuleSet): string {
  return restoreText(ruleSet, EMPTY_STATE);
}

export interface RuleCheck {
  readonly ok: boolean;
  /** Wanted rules or chains not found (`:CHAIN` for a chain). */
  readonly missing: readonly string[];
  /** Rules or chains of ours found but not wanted. */
  readonly unexpected: readonly string[];
}

/** Compares what a netns holds with what it should (undefined: nothing of ours), in order. */
export function checkRules(ruleSet: RuleSet | undefined, current: SavedState): RuleCheck {
  const missing: string[] = [];
  const unexpected: string[] = [];
  for (const name of TABLES) {
    const saved = current[name];
    const wanted = ruleSet?.tables.find((t) => t.table === name);
    const want = [...(wanted?.chains ?? []).map((c) => `:${c}`), ...(wanted?.rules ?? [])];
    const have = [...(saved?.chains ?? []).map((c) => `:${c}`), ...(saved?.rules ?? [])];
    const left = [...have];
    for (const w of want) {
      const at = left.indexOf(w);
      if (at < 0) missing.push(`${name} ${w}`);
      else left.splice(at, 1);
    }
    unexpected.push(...left.map((l) => `${name} ${l}`));
    // Same lines in another order is also wrong: the first match wins in iptables.
    if (missing.length === 0 && unexpected.length === 0 && saved) {
      const chainsRules = (lines: readonly string[], chain: string) =>
        lines.filter((l) => l.split(' ')[1] === chain);
      for (const chain of wanted?.chains ?? []) {
        const a = chainsRules(wanted?.rules ?? [], chain).join('\n');
        const b = chainsRules(saved.rules, chain).join('\n');
        if (a !== b) {
          missing.push(`${name} ${chain} in order`);
          unexpected.push(`${name} ${chain} out of order`);
        }
      }
    }
  }
  return { ok: missing.length === 0 && unexpected.length === 0, missing, unexpected };
}
