// Merges the Prometheus text expositions of a proxy's workers into the one a scraper expects
// from the proxy: each series (name + labels) once, its value summed over the workers, so counters
// and histogram buckets/sums/counts add up and open-connection gauges count every worker's
// connections. Gauges that state a point in time or a fact (`*_seconds` gauges such as a
// certificate's expiry, `*_info`) take the largest value instead of a meaningless sum.
// Hand-written: no maintained library merges expositions; the format is line-based and small.

interface Series {
  readonly key: string;
  value: number;
  readonly family: string;
}

export interface MergeResult {
  readonly text: string;
  /** Lines that were not a comment or a `series value` sample (skipped, counted). */
  readonly malformed: number;
}

/** Splits a sample line into its series key (`name{labels}`) and value; undefined if malformed. */
export function splitSample(line: string): { key: string; name: string; value: number } | undefined {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) return undefined;
  if (line[i] === '{') {
    let quoted = false;
    for (i++; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === '}') break;
    }
    if (i >= line.length) return undefined;
    i++;
  }
  const key = line.slice(0, i);
  const rest = line.slice(i).trim().split(/\s+/);
  const raw = rest[0];
  if (raw === undefined || raw === '' || rest.length > 2) return undefined;
  const value =
    raw === '+Inf' ? Number.POSITIVE_INFINITY : raw === '-Inf' ? Number.NEGATIVE_INFINITY : Number(raw);
  if (Number.isNaN(value) && raw !== 'NaN') return undefined;
  return { key, name, value };
}

function familyOf(name: string, types: ReadonlyMap<string, string>): string {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_total']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length)))
      return name.slice(0, -suffix.length);
  }
  return name;
}

function takesMax(family: string, types: ReadonlyMap<string, string>): boolean {
  return types.get(family) === 'gauge' && (family.endsWith('_seconds') || family.endsWith('_info'));
}

function formatValue(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export function mergePrometheusTexts(texts: readonly string[]): MergeResult {
  const types = new Map<string, string>();
  const comments = new Map<string, string[]>(); // family -> its HELP/TYPE lines, first seen
  const order: string[] = []; // families in first-seen order
  const series = new Map<string, Series>();
  const byFamily = new Map<string, Series[]>();
  let malformed = 0;
  // Pass 1: types, so sample families resolve whatever order the texts come in.
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m !== null && !types.has(m[1] as string)) types.set(m[1] as string, m[2] as string);
    }
  }
  const seeFamily = (family: string): void => {
    if (!comments.has(family)) {
      comments.set(family, []);
      order.push(family);
    }
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+)/.exec(line);
        if (m === null) continue;
        const family = m[2] as string;
        seeFamily(family);
        const lines = comments.get(family) as string[];
        if (!lines.some((l) => l.startsWith(`# ${m[1]} `))) lines.push(line);
        continue;
      }
      const s = splitSample(line);
      if (s === undefined) {
        malformed++;
        continue;
      }
      const family = familyOf(s.name, types);
      seeFamily(family);
      const existing = series.get(s.key);
      if (existing === undefined) {
        const created: Series = { key: s.key, value: s.value, family };
        series.set(s.key, created);
        const list = byFamily.get(family);
        if (list === undefined) byFamily.set(family, [created]);
        else list.push(created);
      } else if (takesMax(family, types)) {
        existing.value = Math.max(existing.value, s.value);
      } else {
        existing.value += s.value;
      }
    }
  }
  const out: string[] = [];
  for (const family of order) {
    out.push(...(comments.get(family) ?? []));
    for (const s of byFamily.get(family) ?? []) out.push(`${s.key} ${formatValue(s.value)}`);
  }
  return { text: out.length === 0 ? '' : `${out.join('\n')}\n`, malformed };
}
