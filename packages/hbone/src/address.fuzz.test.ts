// Property-based fuzzing of the HBONE CONNECT :authority and Forwarded parsers: random and
// near-miss input never throws, what parses is canonical, and formatting round-trips.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import {
  formatAuthority,
  formatForwardedFor,
  parseAuthority,
  parseForwardedFor,
  type SocketAddress,
} from './address.ts';

const v4 = fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }).map((b) => b.join('.'));
const v6 = fc.ipV6();
const port = fc.integer({ min: 1, max: 65535 });

const piece = fc.constantFrom(
  '[',
  ']',
  ':',
  '::',
  '.',
  '%',
  '0',
  '00',
  '1',
  '65535',
  '65536',
  'ff',
  'x',
  ' ',
  '"',
  ';',
  ',',
  '=',
  'for',
  '_h',
  'unknown',
);
const nearMiss = fc.array(piece, { maxLength: 16 }).map((p) => p.join(''));

describe('HBONE addresses (fuzz)', () => {
  it(
    'parseAuthority(formatAuthority(a)) gives the canonical a, and its text is a fixed point',
    () => {
      fc.assert(
        fc.property(fc.oneof(v4, v6), port, (ip, p) => {
          const first = parseAuthority(formatAuthority({ ip, port: p }));
          if (!first.ok) throw new Error(`${ip} port ${p}: ${first.message}`);
          expect(first.value.port).toBe(p);
          const again = parseAuthority(formatAuthority(first.value));
          expect(again).toEqual(first);
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'never throws on random :authority text; what it accepts is canonical',
    () => {
      fc.assert(
        fc.property(fc.oneof(nearMiss, fc.string({ maxLength: 70 })), (text) => {
          const r = parseAuthority(text);
          if (!r.ok) return;
          const v: SocketAddress = r.value;
          expect(Number.isInteger(v.port) && v.port >= 1 && v.port <= 65535).toBe(true);
          expect(parseAuthority(formatAuthority(v))).toEqual(r);
          expect(v.ip).not.toMatch(/[^0-9a-f:.]/);
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'Forwarded: round-trips for= and never throws on random headers',
    () => {
      fc.assert(
        fc.property(fc.oneof(v4, v6), fc.oneof(nearMiss, fc.string({ maxLength: 60 })), (ip, junk) => {
          const r = parseForwardedFor(`${formatForwardedFor(ip)};proto=https, for=unknown`);
          if (!r.ok || r.value === undefined) throw new Error(`for=${ip} not read back`);
          expect(parseForwardedFor(formatForwardedFor(r.value))).toEqual(r);
          const any = parseForwardedFor(junk);
          if (any.ok && any.value !== undefined) expect(any.value).not.toMatch(/[^0-9a-f:.]/);
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
