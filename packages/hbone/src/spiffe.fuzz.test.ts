// Property-based fuzzing of SPIFFE IDs across packages. The grammar is @weft/policy's alone
// (its own properties are fuzzed there); this checks that nobody else keeps one: hbone's
// parseSpiffeId accepts exactly what policy's parseSpiffeUri accepts, and the CA accepts exactly
// policy's workload IDs whose namespace and service account are Kubernetes names (the CA's
// documented issuance rule), with the same fields.
import { parseSpiffeId as caParse, formatSpiffeId } from '@weft/ca';
import { parseSpiffeUri, parseWorkloadId, spiffeId } from '@weft/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../fuzz.shared.ts';
import { parseSpiffeId, parseSubjectAltNames, spiffeIdFromSubjectAltName } from './spiffe.ts';

const chars = fc.constantFrom(
  ...'abz09.-_AZ/:%?#@ \u00e9'.split(''),
  'spiffe://',
  '/ns/',
  '/sa/',
  '..',
  '//',
);
const fragment = fc.array(chars, { maxLength: 12 }).map((c) => c.join(''));
const name = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,10}[a-z0-9])?$/);
const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
const trustDomain = fc.stringMatching(/^[a-z0-9._-]{1,20}$/);
/** The CA's issuance rule: Kubernetes (DNS subdomain) names. */
const KUBERNETES_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

// Near-misses of the workload form, and random text.
const candidate = fc.oneof(
  fc
    .record({
      td: fc.oneof(trustDomain, fragment),
      ns: fc.oneof(name, segment, fragment),
      sa: fc.oneof(name, segment, fragment),
    })
    .map(({ td, ns, sa }) => `spiffe://${td}/ns/${ns}/sa/${sa}`),
  fragment.map((f) => `spiffe://${f}`),
  fc.string({ maxLength: 40 }),
);

describe('SPIFFE IDs (fuzz)', () => {
  it(
    'round-trips: what the CA formats, every package parses back to the same fields',
    () => {
      fc.assert(
        fc.property(trustDomain, name, name, (td, ns, sa) => {
          const text = formatSpiffeId(td, { namespace: ns, serviceAccount: sa });
          const value = { trustDomain: td, namespace: ns, serviceAccount: sa };
          expect(spiffeId(td, ns, sa)).toBe(text);
          expect(caParse(text)).toEqual({ ok: true, value });
          expect(parseWorkloadId(text)).toEqual({ ok: true, value });
          expect(parseSpiffeId(text)).toEqual({ id: text, trustDomain: td, path: `/ns/${ns}/sa/${sa}` });
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'hbone accepts exactly what @weft/policy accepts, peer certificates included',
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          const policy = parseSpiffeUri(text);
          expect(parseSpiffeId(text)).toEqual(policy.ok ? policy.value : undefined);
          if (!text.startsWith('spiffe:') || /[,"\\\s]|[^\x20-\x7e]/.test(text)) return;
          const peer = spiffeIdFromSubjectAltName(`URI:${text}`);
          expect(peer.ok, text).toBe(policy.ok);
          if (peer.ok && policy.ok) expect(peer.value).toEqual(policy.value);
        }),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    "the CA accepts exactly policy's workload IDs with Kubernetes names, with the same fields",
    () => {
      fc.assert(
        fc.property(candidate, (text) => {
          const ca = caParse(text);
          const policy = parseWorkloadId(text);
          const issuable =
            policy.ok &&
            KUBERNETES_NAME.test(policy.value.namespace) &&
            KUBERNETES_NAME.test(policy.value.serviceAccount);
          expect(ca.ok, text).toBe(issuable);
          if (ca.ok && policy.ok) {
            expect(ca.value).toEqual(policy.value);
            expect(formatSpiffeId(ca.value.trustDomain, ca.value)).toBe(text);
          }
          if (!policy.ok) expect(ca).toEqual(policy);
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
