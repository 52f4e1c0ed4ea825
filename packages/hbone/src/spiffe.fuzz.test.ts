// Property-based fuzzing of the SPIFFE ID parsers. Three exist: the generic one here (any path,
// for peer certificates), @weft/policy's (workload form, also without "spiffe://") and
// @weft/ca's (workload form with Kubernetes names). They must agree where their grammars
// overlap: what the CA would issue, every parser accepts with the same fields.
import { parseSpiffeId as caParse, formatSpiffeId } from '@weft/ca';
import { parseSpiffeId as policyParse, spiffeId } from '@weft/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import { parseSpiffeId, parseSubjectAltNames } from './spiffe.ts';

const chars = fc.constantFrom(...'abz09.-_AZ/:%?#@ '.split(''), 'spiffe://', '/ns/', '/sa/', '..', '//');
const fragment = fc.array(chars, { maxLength: 12 }).map((c) => c.join(''));
const name = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,10}[a-z0-9])?$/);
const trustDomain = fc.stringMatching(/^[a-z0-9._-]{1,20}$/);

// Near-misses of the workload form, and random text.
const candidate = fc.oneof(
  fc
    .record({
      td: fc.oneof(trustDomain, fragment),
      ns: fc.oneof(name, fragment),
      sa: fc.oneof(name, fragment),
    })
    .map(({ td, ns, sa }) => `spiffe://${td}/ns/${ns}/sa/${sa}`),
  fragment.map((f) => `spiffe://${f}`),
  fc.string({ maxLength: 40 }),
);

describe('SPIFFE IDs (fuzz)', () => {
  it(
    'round-trips: parse(format(x)) is x in all three parsers',
    () => {
      fc.assert(
        fc.property(trustDomain, name, name, (td, ns, sa) => {
          const text = formatSpiffeId(td, { namespace: ns, serviceAccount: sa });
          expect(spiffeId(td, ns, sa)).toBe(text);
          expect(caParse(text)).toEqual({
            ok: true,
            value: { trustDomain: td, namespace: ns, serviceAccount: sa },
          });
          expect(policyParse(text)).toEqual({ trustDomain: td, namespace: ns, serviceAccount: sa });
          expect(parseSpiffeId(text)).toEqual({ id: text, trustDomain: td, path: `/ns/${ns}/sa/${sa}` });
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'never throws; what a parser accepts is canonical (formatting it gives the input back)',
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          const ca = caParse(text);
          if (ca.ok) expect(formatSpiffeId(ca.value.trustDomain, ca.value)).toBe(text);
          const generic = parseSpiffeId(text);
          if (generic) expect(`spiffe://${generic.trustDomain}${generic.path}`).toBe(text);
          const policy = policyParse(text);
          if (policy && text.startsWith('spiffe://'))
            expect(spiffeId(policy.trustDomain, policy.namespace, policy.serviceAccount)).toBe(text);
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'agrees: an ID the CA accepts is accepted by the other two with the same fields',
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          const ca = caParse(text);
          if (!ca.ok) return;
          const { trustDomain: td, namespace: ns, serviceAccount: sa } = ca.value;
          expect(policyParse(text)).toEqual({ trustDomain: td, namespace: ns, serviceAccount: sa });
          expect(parseSpiffeId(text)).toEqual({ id: text, trustDomain: td, path: `/ns/${ns}/sa/${sa}` });
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'agrees: the policy parser accepts exactly the workload-form IDs the peer check accepts',
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          if (!text.startsWith('spiffe://')) return; // the principal form is policy's alone
          const generic = parseSpiffeId(text);
          const workload = generic !== undefined && /^\/ns\/[^/]+\/sa\/[^/]+$/.test(generic.path);
          expect(policyParse(text) !== undefined, text).toBe(workload);
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'parses any subjectAltName text without throwing, and finds what was written',
    () => {
      const entry = fc.record({
        type: fc.constantFrom('URI', 'DNS', 'IP Address', 'email'),
        value: fc.oneof(fragment, fc.string({ maxLength: 20 })),
      });
      fc.assert(
        fc.property(fc.array(entry, { maxLength: 4 }), fc.string({ maxLength: 40 }), (entries, junk) => {
          parseSubjectAltNames(junk);
          // Node's format: values with separators or quotes come JSON-quoted.
          const text = entries
            .map(
              (e) =>
                `${e.type}:${/[,:"\\\s]|[^\x20-\x7e]/.test(e.value) ? JSON.stringify(e.value) : e.value}`,
            )
            .join(', ');
          const parsed = parseSubjectAltNames(text);
          if (text === '') return;
          expect(parsed).toEqual(entries);
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
