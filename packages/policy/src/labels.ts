import type { Labels } from './snapshot.ts';

/** Kubernetes equality selector: every selector label present with the same value. An empty
 * selector matches everything. */
export function selectorMatches(selector: Labels | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  return true;
}
