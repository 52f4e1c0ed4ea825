// Make a netns hold exactly the wanted rules (or none of ours), then prove it with
// iptables-save: decide (restoreText) from what is there, act (restore), check (checkRules).

import {
  checkRules,
  FAMILIES,
  type Family,
  parseSave,
  type RuleCheck,
  type RuleSet,
  restoreText,
} from '../rules/index.ts';
import type { RuleApplier } from './applier.ts';

export interface ApplyOutcome {
  /** Families whose rules were changed (restore ran). */
  readonly changed: readonly Family[];
}

export class RuleCheckError extends Error {
  readonly netns: string;
  readonly family: Family;
  readonly check: RuleCheck;
  constructor(netns: string, family: Family, check: RuleCheck) {
    super(
      `rules in ${netns} (IPv${family}) differ after apply: missing ${JSON.stringify(check.missing)}, unexpected ${JSON.stringify(check.unexpected)}`,
    );
    this.netns = netns;
    this.family = family;
    this.check = check;
    this.name = 'RuleCheckError';
  }
}

/**
 * Brings each family's tables in `netns` to `wanted[family]` (undefined: remove ours). Skips the
 * restore when the netns already holds exactly that; verifies with a second save otherwise.
 */
export async function syncRules(
  applier: RuleApplier,
  netns: string,
  wanted: Readonly<Partial<Record<Family, RuleSet>>>,
  families: readonly Family[] = FAMILIES,
): Promise<ApplyOutcome> {
  const changed: Family[] = [];
  for (const family of families) {
    const want = wanted[family];
    const before = parseSave(await applier.save(netns, family));
    if (checkRules(want, before).ok) continue;
    const text = restoreText(want, before);
    if (text !== '') await applier.restore(netns, family, text);
    changed.push(family);
    const check = checkRules(want, parseSave(await applier.save(netns, family)));
    if (!check.ok) throw new RuleCheckError(netns, family, check);
  }
  return { changed };
}

/** Whether each family's tables in `netns` hold exactly `wanted`. */
export async function inspectRules(
  applier: RuleApplier,
  netns: string,
  wanted: Readonly<Partial<Record<Family, RuleSet>>>,
  families: readonly Family[] = FAMILIES,
): Promise<Partial<Record<Family, RuleCheck>>> {
  const out: Partial<Record<Family, RuleCheck>> = {};
  for (const family of families)
    out[family] = checkRules(wanted[family], parseSave(await applier.save(netns, family)));
  return out;
}
