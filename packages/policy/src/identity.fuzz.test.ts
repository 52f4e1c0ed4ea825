// Property-based fuzzing of the one SPIFFE ID grammar against a reference written as a single
// regular expression of the spec: what parseSpiffeUri accepts is exactly what the reference
// accepts, accepted IDs are canonical (the parts give the input back), a workload ID is a SPIFFE
// ID whose path is /ns/<ns>/sa/<sa>, and random text never throws and gets a short printable
// message. The agreement of @weft/ca and @weft/hbone with this grammar is fuzzed in hbone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import { parseSpiffeId, parseSpiffeUri, parseWorkloadId, spiffeId } from './identity.ts';

/** Reference: the SPIFFE ID grammar as one expression plus the two limits it cannot say. */
function refAccepts(text: string): boolean {
  return (
    text.length <= 2048 &&
    /^spiffe:\/\/[a-z0-9._-]{1,255}(\/[A-Za-z0-9._-]+)+$/.test(text) &&
    !text
      .slice('spiffe://'.length)
      .split('/')
      .slice(1)
      .some((s) => s === '.' || s === '..')
  );
}

const trustDomain = fc.stringMatching(/^[a-z0-9._-]{1,20}$/);
const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
const chars = fc.constantFrom(
  ...'aZ09.-_/:%?#@[] \t\u00e9\u0131\u212a'.split(''),
  '\u{1F600}',
  'spiffe://',
  '/ns/',
  '/sa/',
  '..',
  '//',
  '%2F',
  '%2e',
);
const fragment = fc.array(chars, { maxLength: 12 }).map((c) => c.join(''));

// Near-misses of valid IDs (one part replaced by noise), valid IDs, and random text.
const candidate = fc.oneof(
  fc
    .record({
      td: fc.oneof(trustDomain, fragment),
      segs: fc.array(fc.oneof(segment, segment, fragment), { minLength: 0, maxLength: 5 }),
      tail: fc.constantFrom('', '', '/', '?x', '#f'),
    })
    .map(({ td, segs, tail }) => `spiffe://${td}${segs.map((s) => `/${s}`).join('')}${tail}`),
  fc
    .record({
      td: fc.oneof(trustDomain, fragment),
      ns: fc.oneof(segment, fragment),
      sa: fc.oneof(segment, fragment),
    })
    .map(({ td, ns, sa }) => spiffeId(td, ns, sa)),
  fc.tuple(trustDomain, segment, fc.integer({ min: 2030, max: 2060 })).map(([td, s, n]) => {
    const head = `spiffe://${td}/${s}/`;
    return head + 'a'.repeat(Math.max(1, n - head.length));
  }),
  fragment.map((f) => `spiffe://${f}`),
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
);

describe('SPIFFE ID grammar (fuzz)', () => {
  it(
    'round-trips: every ID built from valid parts parses back to those parts',
    () => {
      fc.assert(
        fc.property(
          trustDomain,
          fc.array(segment, { minLength: 1, maxLength: 6 }),
          segment,
          segment,
          (td, segs, ns, sa) => {
            const path = segs.map((s) => `/${s}`).join('');
            const id = `spiffe://${td}${path}`;
            expect(parseSpiffeUri(id)).toEqual({ ok: true, value: { id, trustDomain: td, path } });
            const workload = spiffeId(td, ns, sa);
            const value = { trustDomain: td, namespace: ns, serviceAccount: sa };
            expect(parseWorkloadId(workload)).toEqual({ ok: true, value });
            expect(parseSpiffeId(workload)).toEqual(value);
            expect(parseSpiffeId(workload.slice('spiffe://'.length))).toEqual(value);
          },
        ),
        fuzzParams(1000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'accepts exactly what the reference grammar accepts; accepted IDs are canonical; refusals are short and printable',
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          const r = parseSpiffeUri(text);
          expect(r.ok, text).toBe(refAccepts(text));
          if (r.ok) {
            expect(r.value.id).toBe(text);
            expect(`spiffe://${r.value.trustDomain}${r.value.path}`).toBe(text);
          } else {
            expect(r.message).toMatch(/^[\x20-\x7e]+$/);
            expect(r.message.length).toBeLessThan(300);
          }
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'a workload ID is a SPIFFE ID with path /ns/<ns>/sa/<sa>, and formats back to its input',
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          const uri = parseSpiffeUri(text);
          const workload = parseWorkloadId(text);
          if (workload.ok) {
            expect(uri.ok).toBe(true);
            const { trustDomain: td, namespace: ns, serviceAccount: sa } = workload.value;
            expect(spiffeId(td, ns, sa)).toBe(text);
          }
          expect(workload.ok, text).toBe(uri.ok && /^\/ns\/[^/]+\/sa\/[^/]+$/.test(uri.value.path));
          if (!uri.ok) expect(workload).toEqual(uri);
          // Authorization principals: the URI form is the workload parse; the bare form is the
          // same ID with the scheme put back, and nothing else.
          expect(parseSpiffeId(text)).toEqual(
            text.startsWith('spiffe://')
              ? workload.ok
                ? workload.value
                : undefined
              : (() => {
                  const w = parseWorkloadId(`spiffe://${text}`);
                  return w.ok ? w.value : undefined;
                })(),
          );
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
