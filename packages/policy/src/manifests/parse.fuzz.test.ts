// Property-based fuzzing of manifest loading: YAML text -> parseManifests -> validateObject ->
// compile. Random and mutated text gives objects or errors naming the file and document (and the
// field), never a throw; alias bombs and deep nesting are refused within the budget; a valid
// object survives a YAML round trip to the same validation result; compile() of any set of
// individually valid objects never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { compile } from '../compile/compile.ts';
import { validateObject } from '../index.ts';
import {
  authorizationPolicy,
  destinationRule,
  httpRoute,
  meshFixture,
  peerAuthentication,
} from '../testing/index.ts';
import { parseManifests } from './parse.ts';

const FILE = 'fuzz/m.yaml';

const FIXTURES: readonly unknown[] = [
  ...meshFixture(),
  authorizationPolicy('deny-admin', {
    namespace: 'shop',
    action: 'DENY',
    rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }],
  }),
  peerAuthentication('strict', { namespace: 'shop', mode: 'STRICT' }),
  httpRoute('web', {
    namespace: 'shop',
    service: 'web',
    port: 80,
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }] }],
  }),
  destinationRule('web', {
    namespace: 'shop',
    host: 'web.shop.svc.cluster.local',
    trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
  }),
];

function expectWellFormedResult(r: ReturnType<typeof parseManifests>, documents: number): void {
  for (const e of r.errors) {
    expect(e.file).toBe(FILE);
    const d = e.document ?? -1;
    expect(Number.isSafeInteger(d) && d >= 0 && d <= documents, e.message).toBe(true);
    expect(e.message.startsWith(`${FILE}: document ${e.document}`), e.message).toBe(true);
    if (e.reason === 'invalid-object') expect(typeof e.field).toBe('string');
  }
  for (const o of r.objects) {
    expect(typeof o.apiVersion).toBe('string');
    expect(typeof o.kind).toBe('string');
    expect(typeof o.metadata.name).toBe('string');
    // validation of whatever the loader passed on gives a value or an error, never a throw
    const v = validateObject(o);
    if (!v.ok) expect(typeof v.error.message).toBe('string');
  }
}

const yamlPiece = fc.constantFrom(
  '---\n',
  'apiVersion: v1\n',
  'apiVersion: security.istio.io/v1\n',
  'kind: Namespace\n',
  'kind: AuthorizationPolicy\n',
  'kind: List\n',
  'items:\n',
  '- ',
  'metadata:\n',
  '  name: a\n',
  '  namespace: shop\n',
  '  __proto__: x\n',
  '__proto__:\n',
  '  constructor: 1\n',
  'spec:\n',
  '  action: DENY\n',
  '  rules: [{to: [{operation: {paths: [/admin]}}]}]\n',
  '&a [1, 2]\n',
  '*a\n',
  '<<: *a\n',
  '!!binary aGk=\n',
  '!!js/function x\n',
  '!custom x\n',
  '%YAML 1.1\n',
  '? complex\n',
  ': key\n',
  '{',
  '}',
  '[',
  ']',
  '"\\u0000"\n',
  "'\n",
  '  ',
  '\t',
  '#',
  '\n',
  '\r\n',
  '\uFEFF',
  'null\n',
  '1e999\n',
  '0x1F\n',
  '2001-01-01\n',
  '.nan\n',
);
const yamlText = fc.oneof(
  { weight: 3, arbitrary: fc.array(yamlPiece, { maxLength: 25 }).map((p) => p.join('')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

describe('manifests (fuzz)', () => {
  it('starts from fixtures that are all valid', () => {
    for (const o of FIXTURES) expect(validateObject(o).ok, JSON.stringify(o)).toBe(true);
  });

  it(
    'random YAML text gives objects or errors naming the file and document, never a throw',
    () => {
      fc.assert(
        fc.property(yamlText, (text) => {
          const r = parseManifests(text, FILE);
          expectWellFormedResult(r, text.split('---').length + 1);
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'mutated valid manifests give objects or named errors, and every object validates or names its field',
    () => {
      const docs = FIXTURES.map((o) => stringify(o));
      fc.assert(
        fc.property(
          fc.subarray([...docs.keys()], { minLength: 1 }),
          fc.array(
            fc.tuple(
              fc.constantFrom('delete', 'duplicate', 'insert', 'indent', 'dedent', 'swap'),
              fc.nat(),
              yamlPiece,
            ),
            { maxLength: 4 },
          ),
          (picked, mutations) => {
            const lines = picked
              .map((i) => docs[i] as string)
              .join('---\n')
              .split('\n');
            for (const [op, at, piece] of mutations) {
              const i = at % Math.max(1, lines.length);
              const line = lines[i] ?? '';
              if (op === 'delete') lines.splice(i, 1);
              else if (op === 'duplicate') lines.splice(i, 0, line);
              else if (op === 'insert') lines.splice(i, 0, piece.replace(/\n$/, ''));
              else if (op === 'indent') lines[i] = `  ${line}`;
              else if (op === 'dedent') lines[i] = line.replace(/^ {1,2}/, '');
              else lines.splice(i, 2, lines[i + 1] ?? '', line);
            }
            const r = parseManifests(lines.join('\n'), FILE);
            expectWellFormedResult(r, picked.length + lines.length);
            for (const o of r.objects) {
              const v = validateObject(o);
              if (!v.ok) for (const issue of v.error.issues) expect(typeof issue.path).toBe('string');
            }
          },
        ),
        fuzzParams(1500),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'alias bombs and deep nesting are refused, not expanded',
    () => {
      fc.assert(
        fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 2, max: 12 }), (levels, fan) => {
          const lines = ['a0: &a0 [lol, lol]'];
          for (let i = 1; i <= levels; i++)
            lines.push(`a${i}: &a${i} [${Array.from({ length: fan }, () => `*a${i - 1}`).join(', ')}]`);
          const bomb = `apiVersion: v1\nkind: Namespace\nmetadata: {name: bomb}\n${lines.join('\n')}\n`;
          const r = parseManifests(bomb, FILE);
          // fan^levels nodes when expanded: anything past the alias cap is an error, never objects
          if (fan ** levels > 100) {
            expect(r.objects).toEqual([]);
            expect(r.errors.length).toBe(1);
          }
          expectWellFormedResult(r, 1);
        }),
        fuzzParams(200),
      );
      for (const depth of [1000, 20_000]) {
        for (const text of [
          '['.repeat(depth) + ']'.repeat(depth),
          `${'- '.repeat(depth)}x`,
          `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`,
        ]) {
          const r = parseManifests(
            `apiVersion: v1\nkind: Namespace\nmetadata: {name: deep}\nx: ${text}\n`,
            FILE,
          );
          expectWellFormedResult(r, 1);
          for (const o of r.objects) expect(validateObject(o).ok).toBe(false);
        }
      }
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'a valid object round-tripped through YAML validates to the same result',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...FIXTURES),
          fc.constantFrom<'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE'>('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'),
          fc.boolean(),
          (object, defaultStringType, flow) => {
            const before = validateObject(object);
            expect(before.ok).toBe(true);
            const text = stringify(object, {
              defaultStringType,
              ...(flow ? { collectionStyle: 'flow' } : {}),
            });
            const r = parseManifests(text, FILE);
            expect(r.errors).toEqual([]);
            expect(r.objects).toHaveLength(1);
            expect(validateObject(r.objects[0])).toEqual(before);
          },
        ),
        fuzzParams(300),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'compile() of any set of individually valid objects never throws',
    () => {
      fc.assert(
        fc.property(
          fc.shuffledSubarray([...FIXTURES]),
          fc.array(fc.nat(), { maxLength: 3 }),
          (objects, dups) => {
            // repeats of one object too: a second copy of a key must be an error or a no-op, not a throw
            const all = [
              ...objects,
              ...dups.flatMap((d) => (objects.length === 0 ? [] : [objects[d % objects.length]])),
            ];
            const r = compile(all);
            for (const e of r.errors) expect(typeof e.message).toBe('string');
          },
        ),
        fuzzParams(500),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
