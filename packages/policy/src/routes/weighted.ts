// Weighted choice with injected randomness, so traffic splits are testable and identical in
// every data plane.

/**
 * Picks an item with probability weight / total. Items with weight 0 are never picked; returns
 * undefined when nothing has weight. `random` returns a number in [0, 1) (Math.random in production).
 */
export function chooseWeighted<T extends { readonly weight: number }>(
  items: readonly T[],
  random: () => number,
): T | undefined {
  let total = 0;
  for (const item of items) if (item.weight > 0 && Number.isFinite(item.weight)) total += item.weight;
  if (total <= 0) return undefined;
  const r = random();
  const x = (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0) * total;
  let acc = 0;
  let last: T | undefined;
  for (const item of items) {
    if (!(item.weight > 0 && Number.isFinite(item.weight))) continue;
    acc += item.weight;
    last = item;
    if (x < acc) return item;
  }
  return last;
}

/** Whether an event with `percent` (0..100) probability happens (mirrors, faults). */
export function rollPercent(percent: number, random: () => number): boolean {
  if (!(percent > 0)) return false;
  if (percent >= 100) return true;
  return random() * 100 < percent;
}
