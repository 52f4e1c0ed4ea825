// Istio string matching: exact, prefix ("abc*"), suffix ("*abc") and presence ("*").

export type StringMatcher = (value: string) => boolean;

export function wildcardMatcher(pattern: string, ignoreCase = false): StringMatcher {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const norm = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  if (p === '*') return () => true;
  if (p.endsWith('*')) {
    const prefix = p.slice(0, -1);
    return (v) => norm(v).startsWith(prefix);
  }
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return (v) => norm(v).endsWith(suffix);
  }
  return (v) => norm(v) === p;
}

/** True when some pattern matches the value. */
export function anyMatcher(patterns: readonly string[], ignoreCase = false): StringMatcher {
  const matchers = patterns.map((p) => wildcardMatcher(p, ignoreCase));
  return (v) => matchers.some((m) => m(v));
}
