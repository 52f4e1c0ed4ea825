// Durations as written in Istio and Gateway API objects ("1.5s", "100ms", "1h30m").
// Compiled resources carry milliseconds so that no data plane parses strings again.

const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

/** The syntax accepted for duration strings (also used in the generated JSON Schema). */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(h|m|s|ms|us|µs|ns))+$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+(?:\.[0-9]+)?)(h|ms|m|s|us|µs|ns)/g;

/** Parses a duration string to milliseconds; `undefined` when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text.length > 64 || !DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(PART_RE)) {
    const value = Number(match[1]);
    const unit = UNIT_MS[match[2] ?? ''];
    if (unit === undefined || !Number.isFinite(value)) return undefined;
    total += value * unit;
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Like parseDuration for strings already validated by a schema. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new TypeError(`not a duration: ${text}`);
  return ms;
}
