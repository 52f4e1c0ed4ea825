// Shared pieces of the policy-domain <-> weft.v1 conversion: the result type, field-path errors,
// addresses, durations, wildcard strings and label maps.
//
// Inside a `fromProto*` function a problem is thrown as `Invalid` with the proto field path that
// holds it; `convert()` turns it into `{ ok: false, error: "<field>: <problem>" }` at the module
// boundary, so the checks read top to bottom and nothing escapes as an exception.
import { bytesToIp, contentHash, ipToBytes, normalizeIp, parseCidr } from '@weft/policy/runtime';
import type { Duration } from '../gen/google/protobuf/duration.ts';
import type { CidrRange, StringMatch } from '../gen/weft/v1/common.ts';

/** A converted value, or the first problem found, naming the proto field (`rules[0].from[1].ip_blocks[0]`). */
export type ConvertResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/** A problem at a proto field; thrown inside conversions, caught by `convert`. */
export class Invalid extends Error {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(field === '' ? problem : `${field}: ${problem}`);
    this.field = field;
  }
}

/** Runs a conversion; an `Invalid` (or any other throw) becomes an error value. */
export function convert<T>(fn: () => T): ConvertResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    return { ok: false, error: `internal: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** `a` + `.b` / `[0]` field path joining. */
export function at(path: string, field: string | number): string {
  if (typeof field === 'number') return `${path}[${field}]`;
  return path === '' ? field : `${path}.${field}`;
}

/** Adds the content hash a compiled resource carries (recomputed: equal content, equal hash). */
export function withHash<T extends object>(value: T): T & { readonly hash: string } {
  return { ...value, hash: contentHash(value) };
}

export function requireString(path: string, value: string): string {
  if (value === '') throw new Invalid(path, 'empty');
  return value;
}

export function optionalString(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** Text IP -> raw bytes; the domain holds canonical addresses only, so a failure is a bug. */
export function ipBytes(ip: string): Uint8Array {
  const b = ipToBytes(ip);
  if (b === undefined) throw new TypeError(`not an IP address: ${ip}`);
  return b;
}

export function ipText(path: string, bytes: Uint8Array): string {
  const text = bytesToIp(bytes);
  const canonical = text === undefined ? undefined : normalizeIp(text);
  if (canonical === undefined) throw new Invalid(path, `${bytes.length} bytes, want 4 or 16`);
  return canonical;
}

export function cidrRange(text: string): CidrRange {
  const c = parseCidr(text);
  if (c === undefined) throw new TypeError(`not a CIDR block: ${text}`);
  return { address: c.bytes, prefixLen: c.prefix };
}

export function cidrText(path: string, range: CidrRange): string {
  const ip = ipText(at(path, 'address'), range.address);
  const bits = range.address.length * 8;
  if (!Number.isInteger(range.prefixLen) || range.prefixLen > bits) {
    throw new Invalid(at(path, 'prefix_len'), `${range.prefixLen} is outside 0..${bits}`);
  }
  return `${ip}/${range.prefixLen}`;
}

export function port(path: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Invalid(path, `${value} is not a port (1..65535)`);
  }
  return value;
}

/** 0 = absent, else a port. */
export function optionalPort(path: string, value: number): number | undefined {
  return value === 0 ? undefined : port(path, value);
}

const NANOS_PER_MS = 1_000_000;

export function duration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * NANOS_PER_MS) };
}

export function durationMillis(path: string, d: Duration): number {
  if (!Number.isFinite(d.seconds) || !Number.isInteger(d.nanos) || d.seconds < 0 || d.nanos < 0) {
    throw new Invalid(path, 'negative or malformed duration');
  }
  if (d.nanos > 999_999_999) throw new Invalid(at(path, 'nanos'), `${d.nanos} is over 999999999`);
  return d.seconds * 1000 + d.nanos / NANOS_PER_MS;
}

export function optionalDuration(path: string, d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : durationMillis(path, d);
}

/**
 * Istio wildcard strings as StringMatch: "*" presence, "x*" prefix, "*x" suffix, else exact.
 * Any string round-trips ("**" is the prefix "*").
 */
export function wildcardMatch(value: string, ignoreCase = false): StringMatch {
  if (value === '*') return { presence: true, ignoreCase };
  if (value.endsWith('*')) return { prefix: value.slice(0, -1), ignoreCase };
  if (value.startsWith('*')) return { suffix: value.slice(1), ignoreCase };
  return { exact: value, ignoreCase };
}

/** The member of a StringMatch oneof that is set; exactly one must be. */
export function stringMatchKind(
  path: string,
  m: StringMatch,
): { kind: 'exact' | 'prefix' | 'suffix' | 'regex' | 'presence'; value: string } {
  const set: { kind: 'exact' | 'prefix' | 'suffix' | 'regex' | 'presence'; value: string }[] = [];
  if (m.exact !== undefined) set.push({ kind: 'exact', value: m.exact });
  if (m.prefix !== undefined) set.push({ kind: 'prefix', value: m.prefix });
  if (m.suffix !== undefined) set.push({ kind: 'suffix', value: m.suffix });
  if (m.regex !== undefined) set.push({ kind: 'regex', value: m.regex });
  if (m.presence !== undefined) set.push({ kind: 'presence', value: '' });
  return exactlyOne(path, set, 'exact, prefix, suffix, regex or presence');
}

export function exactlyOne<T>(path: string, set: readonly T[], what: string): T {
  const [first] = set;
  if (first === undefined) throw new Invalid(path, `none of ${what} is set`);
  if (set.length > 1) throw new Invalid(path, `more than one of ${what} is set`);
  return first;
}

export function wildcardText(path: string, m: StringMatch): string {
  const { kind, value } = stringMatchKind(path, m);
  switch (kind) {
    case 'exact':
      return value;
    case 'prefix':
      return `${value}*`;
    case 'suffix':
      return `*${value}`;
    case 'presence':
      if (m.presence !== true) throw new Invalid(at(path, 'presence'), 'false is not a match');
      return '*';
    case 'regex':
      throw new Invalid(at(path, 'regex'), 'regular expressions are not allowed here');
  }
}

/** A proto map as a plain record with sorted keys (maps arrive in wire order). */
export function labels(map: { readonly [key: string]: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(map).sort()) out[k] = map[k] as string;
  return out;
}

export function checkedEnum<T extends number, D>(
  path: string,
  value: T,
  table: ReadonlyMap<number, D>,
  what: string,
): D {
  const d = table.get(value);
  if (d === undefined) throw new Invalid(path, `${value} is not a known ${what}`);
  return d;
}

/** `namespace/name` keys (resources, gateways). */
export function splitKey(path: string, key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  if (slash <= 0 || slash === key.length - 1 || key.indexOf('/', slash + 1) !== -1) {
    throw new Invalid(path, `${JSON.stringify(key)} is not "<namespace>/<name>"`);
  }
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Non-empty, distinct strings (keys, hostnames), order kept. */
export function distinctStrings(path: string, values: readonly string[]): string[] {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (v === '') throw new Invalid(at(path, i), 'empty');
    if (seen.has(v)) throw new Invalid(at(path, i), `${JSON.stringify(v)} repeated`);
    seen.add(v);
  });
  return [...values];
}
