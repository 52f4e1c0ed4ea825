// Property-based fuzzing of the header maps the listeners build from raw field lists: any list
// (names of any case and characters, values of any bytes, repeats, pseudo-headers anywhere,
// cookie crumbs) gives either a typed error naming the first malformed field, exactly where
// RFC 9113 section 8.2.1 says the request is malformed, or a map in which every field line is
// one value, in order; and nothing a peer names reaches Object.prototype.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { headersFromHttp1, headersFromHttp2 } from './raw-headers.ts';

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-zA-Z-]+$/;

/** RFC 9113 8.2.1 (names must also be RFC 9110 tokens): why a field makes a request malformed. */
function malformed(name: string, value: string): boolean {
  if (!TOKEN.test(name) || name !== name.toLowerCase()) return true;
  if (/[\0\r\n]/.test(value)) return true;
  return /^[ \t]|[ \t]$/.test(value);
}

const byteChar = fc.nat(255).map((c) => String.fromCharCode(c));
const name = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'cookie',
      'x-role',
      'x-tag',
      'X-Role',
      'Cookie',
      ':path',
      ':method',
      ':authority',
      ':',
      '',
      'x role',
      'x\0a',
      'x:a',
      'é',
      'tostring',
      'toString',
      'hasownproperty',
      'valueof',
      '__defineGetter__',
      'prototype',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: byteChar, maxLength: 6 }) },
);
const value = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^([\x21-\x7e]([\x20-\x7e]{0,10}[\x21-\x7e])?)?$/) },
  { weight: 1, arbitrary: fc.constantFrom(' a', 'a ', '\ta', 'a\t', 'a\rb', 'a\nb', 'a\0b', 'a, b', '') },
  { weight: 1, arbitrary: fc.string({ unit: byteChar, maxLength: 8 }) },
);
const fields = fc.array(fc.tuple(name, value), { maxLength: 12 });

const flat = (fs: readonly (readonly [string, string])[]): string[] => fs.flat();

/** Values per name, in order: what a map must hold for the fields. */
function grouped(fs: readonly (readonly [string, string])[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [n, v] of fs) out.set(n, [...(out.get(n) ?? []), v]);
  return out;
}

function expectMap(
  headers: Record<string, string | string[] | undefined>,
  expected: Map<string, string[]>,
): void {
  expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  expect(Object.keys(headers).sort()).toEqual([...expected.keys()].sort());
  for (const [n, vs] of expected) {
    expect(Object.hasOwn(headers, n), n).toBe(true);
    expect(headers[n], n).toEqual(vs.length === 1 ? vs[0] : vs);
  }
}

function expectNoPollution(): void {
  const probe: Record<string, unknown> = {};
  for (const k of ['x-role', 'cookie', 'polluted', 'a']) expect(probe[k]).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
}

describe('HTTP/2 raw header fields (fuzz)', () => {
  it('keeps fields named __proto__ and constructor', () => {
    // `out[name]` on a plain object is Object.prototype or Object for these names, and the
    // spread of it throws; the HTTP/2 stream handler and the HTTP/1.1 'request' listener both
    // call appendField, so one request with such a field is an uncaught exception.
    for (const n of ['__proto__', 'constructor']) {
      const r = headersFromHttp2([n, 'a', n, 'b']);
      expect(r.ok).toBe(true);
      if (r.ok) expect(Object.hasOwn(r.headers, n) && r.headers[n]).toEqual(['a', 'b']);
      expect(headersFromHttp1([n, 'a', n, 'b'])[n]).toEqual(['a', 'b']);
    }
    expectNoPollution();
  });

  it(
    'refuses exactly the fields RFC 9113 calls malformed, naming the first; keeps every other line in order',
    () => {
      fc.assert(
        fc.property(fields, (fs) => {
          const r = headersFromHttp2(flat(fs));
          const regular = fs.filter(([n]) => !n.startsWith(':'));
          const bad = regular.find(([n, v]) => malformed(n, v));
          if (bad !== undefined) {
            expect(r.ok, JSON.stringify(bad)).toBe(false);
            if (!r.ok) {
              expect(r.field).toBe(bad[0]);
              expect(r.reason).not.toBe('');
            }
          } else {
            expect(r.ok, JSON.stringify(fs)).toBe(true);
            if (r.ok) {
              const expected = grouped(regular.filter(([n]) => n !== 'cookie'));
              const crumbs = regular.filter(([n]) => n === 'cookie').map(([, v]) => v);
              if (crumbs.length > 0) expected.set('cookie', [crumbs.join('; ')]);
              expectMap(r.headers, expected);
            }
          }
          expectNoPollution();
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'keeps repeated fields as distinct values in order, however they interleave with others',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.constantFrom('x-role', 'x-tag', 'accept', 'cookie', ':path'), value), {
            maxLength: 30,
          }),
          (fs) => {
            const clean = fs.filter(([n, v]) => n.startsWith(':') || !malformed(n, v));
            const r = headersFromHttp2(flat(clean));
            expect(r.ok).toBe(true);
            if (!r.ok) return;
            for (const n of ['x-role', 'x-tag', 'accept']) {
              const vs = clean.filter(([m]) => m === n).map(([, v]) => v);
              const got = r.headers[n];
              expect(got === undefined ? [] : typeof got === 'string' ? [got] : got).toEqual(vs);
            }
          },
        ),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});

describe('HTTP/1.1 raw header fields (fuzz)', () => {
  it(
    'one value per field line, names lower-cased, repeats in order, never a join',
    () => {
      fc.assert(
        fc.property(fields, (fs) => {
          const headers = headersFromHttp1(flat(fs));
          expectMap(headers, grouped(fs.map(([n, v]) => [n.toLowerCase(), v] as const)));
          expectNoPollution();
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
