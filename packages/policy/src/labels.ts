import type { Labels } from './snapshot.ts';

/** Kubernetes equality selector: every selector label present with the same value. An empty
 * selector matches everything. */
export function selectorMatches(selector: Labels | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const k in selector) {
    if (!Object.hasOwn(selector, k)) continue;
    if (labels[k] !== selector[k] || !Object.hasOwn(labels, k)) return false;
  }
  return true;
}
