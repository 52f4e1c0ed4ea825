// Decide, then act: what capture a pod should have, from the manifests and its addresses.

import type { PodIp } from '../api/messages.ts';
import {
  type CaptureMode,
  FAMILIES,
  type Family,
  podRules,
  type RuleSet,
  type RuleSpec,
  type RuleSpecError,
  ruleSpec,
} from '../rules/index.ts';
import type { Inventory } from './inventory.ts';

export type Desired =
  | { readonly mode: 'none'; readonly reason: string }
  | { readonly mode: CaptureMode; readonly spec: RuleSpec; readonly reason: string };

export type DesiredResult =
  | { readonly ok: true; readonly desired: Desired }
  | { readonly ok: false; readonly error: RuleSpecError };

export interface PodKey {
  readonly namespace: string;
  readonly name: string;
  readonly ips: readonly PodIp[];
}

/** The node as the pod sees it: each network's gateway (where kubelet probes come from). */
export function gatewaysOf(ips: readonly PodIp[]): string[] {
  return ips.flatMap((ip) => (ip.gateway !== undefined ? [ip.gateway] : []));
}

export function desiredFor(
  pod: PodKey,
  inventory: Inventory,
  extraProbeSources: readonly string[] = [],
): DesiredResult {
  const intent = inventory.lookup(pod.namespace, pod.name);
  if (intent.mode === 'none') return { ok: true, desired: { mode: 'none', reason: intent.source } };
  const spec = ruleSpec({
    annotations: intent.annotations,
    probeSources: [...gatewaysOf(pod.ips), ...extraProbeSources],
  });
  if (!spec.ok) return { ok: false, error: spec.error };
  return { ok: true, desired: { mode: intent.mode, spec: spec.spec, reason: intent.source } };
}

/** The rule sets per family for a capture (empty for none: remove ours). */
export function ruleSetsFor(
  mode: CaptureMode | 'none',
  spec: RuleSpec | undefined,
  families: readonly Family[] = FAMILIES,
): Partial<Record<Family, RuleSet>> {
  const out: Partial<Record<Family, RuleSet>> = {};
  if (mode === 'none' || spec === undefined) return out;
  for (const f of families) out[f] = podRules(mode, spec, f);
  return out;
}

/** Same capture? (mode and every excluded port and probe source). */
export function sameCapture(
  a: { mode: string; spec?: RuleSpec },
  b: { mode: string; spec?: RuleSpec },
): boolean {
  if (a.mode !== b.mode) return false;
  if (a.mode === 'none') return true;
  return JSON.stringify(a.spec ?? null) === JSON.stringify(b.spec ?? null);
}
