// `tracestate` and `baggage` are vendor/application data we pass through untouched in meaning,
// but never blindly: a value that is malformed or over the spec's limits is dropped whole (the
// spec allows that) and reported, so a hostile client cannot make every hop carry kilobytes of
// junk or smuggle control characters into upstream requests.

import { fail, ok, type Parsed } from './result.ts';
import { trimOws } from './traceparent.ts';

export type TraceStateRejection = 'too_long' | 'too_many_members' | 'bad_member' | 'duplicate_key';
export type BaggageRejection = 'too_long' | 'too_many_members' | 'bad_member';

/** W3C Trace Context: at most 32 list members. */
const TRACESTATE_MAX_MEMBERS = 32;
/** Our cap on the combined header (the spec asks to pass at least 512 chars). */
const TRACESTATE_MAX_LENGTH = 4096;
/** W3C Baggage limits. */
const BAGGAGE_MAX_MEMBERS = 64;
const BAGGAGE_MAX_LENGTH = 8192;

// simple-key, or tenant@system multi-tenant key
const TRACESTATE_KEY =
  /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
// chr = 0x20-0x7E except ',' and '='; the last one not a space
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Validates `tracestate` (one or more header values, which combine as one list) and returns it
 * normalized: members joined by ',' without whitespace, empty members removed. `undefined`
 * input or an all-empty list gives `ok('')`.
 */
export function parseTracestate(
  input: string | readonly string[] | undefined,
): Parsed<string, TraceStateRejection> {
  const joined = joinValues(input);
  if (joined.length > TRACESTATE_MAX_LENGTH) return fail('too_long');
  const out: string[] = [];
  const keys = new Set<string>();
  for (const raw of joined.split(',')) {
    const member = trimOws(raw);
    if (member.length === 0) continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return fail('bad_member');
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(value)) return fail('bad_member');
    if (keys.has(key)) return fail('duplicate_key');
    keys.add(key);
    if (out.length === TRACESTATE_MAX_MEMBERS) return fail('too_many_members');
    out.push(member);
  }
  return ok(out.join(','));
}

// baggage: token key, baggage-octet value, optional ;properties
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const BAGGAGE_OCTETS = '[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]*';
const OWS = '[ \\t]*';
const BAGGAGE_PROPERTY = `${TOKEN}(?:${OWS}=${OWS}${BAGGAGE_OCTETS})?`;
const BAGGAGE_MEMBER = new RegExp(
  `^${TOKEN}${OWS}=${OWS}${BAGGAGE_OCTETS}(?:${OWS};${OWS}${BAGGAGE_PROPERTY})*$`,
);

/**
 * Validates `baggage` and returns it normalized (members joined by ','; keys, values and
 * properties untouched, percent-encoding left as sent). `undefined` gives `ok('')`.
 */
export function parseBaggage(
  input: string | readonly string[] | undefined,
): Parsed<string, BaggageRejection> {
  const joined = joinValues(input);
  if (joined.length > BAGGAGE_MAX_LENGTH) return fail('too_long');
  const out: string[] = [];
  for (const raw of joined.split(',')) {
    const member = trimOws(raw);
    if (member.length === 0) continue;
    if (!BAGGAGE_MEMBER.test(member)) return fail('bad_member');
    if (out.length === BAGGAGE_MAX_MEMBERS) return fail('too_many_members');
    out.push(member);
  }
  return ok(out.join(','));
}

function joinValues(input: string | readonly string[] | undefined): string {
  if (input === undefined) return '';
  if (typeof input === 'string') return input;
  return input.join(',');
}
