// Property-based fuzzing of object validation: a valid object with any field replaced, added
// or removed (any JSON value, prototype names, deep nesting) validates or gives an error naming
// the object and a field path, never a throw; and compile() of the survivors never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { compile } from '../compile/compile.ts';
import { authorizationPolicy, meshFixture, peerAuthentication } from '../testing/index.ts';
import { validateObject } from './registry.ts';

const FIXTURES: readonly unknown[] = [
  ...meshFixture(),
  authorizationPolicy('deny-admin', {
    namespace: 'shop',
    action: 'DENY',
    rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }],
  }),
  peerAuthentication('strict', { namespace: 'shop', mode: 'STRICT' }),
];

const key = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'spec',
    'metadata',
    'kind',
    'name',
    'rules',
  ),
  fc.string({ maxLength: 8 }),
);
const leaf = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(-0, 1e308, Number.MAX_SAFE_INTEGER + 2, '', ' ', '\0', '/admin', '*', 'DENY'),
);

/** The object with the member at `path` (indices taken modulo) replaced, or deleted when `value` is undefined. */
function mutate(object: unknown, path: readonly (number | string)[], value: unknown): unknown {
  if (path.length === 0) return value;
  if (typeof object !== 'object' || object === null) return object;
  const [head, ...rest] = path;
  if (Array.isArray(object)) {
    if (object.length === 0) return value === undefined ? object : [value];
    const i = typeof head === 'number' ? head % object.length : 0;
    const copy = [...object];
    copy[i] = mutate(copy[i], rest, value);
    return copy;
  }
  const keys = Object.keys(object);
  const k = typeof head === 'number' && keys.length > 0 ? (keys[head % keys.length] as string) : String(head);
  const copy: Record<string, unknown> = { ...object };
  const next = mutate(copy[k], rest, value);
  if (next === undefined) delete copy[k];
  // defineProperty: a key named __proto__ becomes an own field, as a JSON or YAML parser makes it
  else Object.defineProperty(copy, k, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}

describe('object validation (fuzz)', () => {
  it(
    'a mutated object validates or names itself and the field, never throws; compile of the valid ones never throws',
    () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(
              fc.nat(FIXTURES.length - 1),
              fc.array(fc.oneof(fc.nat(), key), { minLength: 1, maxLength: 6 }),
              fc.option(leaf, { nil: undefined }),
            ),
            { minLength: 1, maxLength: 6 },
          ),
          (mutations) => {
            const objects = mutations.map(([i, path, value]) => mutate(FIXTURES[i], path, value));
            const valid: unknown[] = [];
            for (const o of objects) {
              const r = validateObject(o);
              if (r.ok) valid.push(r.object);
              else {
                expect(typeof r.error.message).toBe('string');
                for (const issue of r.error.issues) expect(typeof issue.path).toBe('string');
              }
            }
            const c = compile([...FIXTURES, ...valid]);
            for (const e of c.errors) expect(typeof e.message).toBe('string');
          },
        ),
        fuzzParams(2000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'deep nesting and cycles are refused, not recursed into',
    () => {
      fc.assert(
        fc.property(fc.integer({ min: 40, max: 5000 }), fc.boolean(), (depth, cyclic) => {
          let spec: Record<string, unknown> = {};
          const root = spec;
          for (let i = 0; i < depth; i++) {
            const next: Record<string, unknown> = {};
            spec.a = next;
            spec = next;
          }
          if (cyclic) spec.a = root;
          const o = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'deep', labels: root } };
          const r = validateObject(o);
          expect(r.ok).toBe(false);
        }),
        fuzzParams(100),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
