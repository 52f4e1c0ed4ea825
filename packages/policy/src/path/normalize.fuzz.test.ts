// Property-based fuzzing of request-path normalization and of the DENY-on-a-prefix guarantee:
// however /admin/... is spelled (percent-encoding in either hex case, dot segments, repeated
// slashes, backslashes, path parameters), a DENY on /admin either matches or the path is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { authorize } from '../authz/authorize.ts';
import { authorizationPolicy, compiledPolicies } from '../testing/index.ts';
import { type NormalizePathOptions, normalizePath } from './normalize.ts';

const OPTION_SETS: readonly NormalizePathOptions[] = [
  {},
  { escapedSlashes: 'decode' },
  { mergeSlashes: false },
  { mergeSlashes: false, escapedSlashes: 'decode' },
  { pathParameters: 'keep' },
  { mergeSlashes: false, escapedSlashes: 'decode', pathParameters: 'keep' },
];

// Request targets built from the characters that matter to the normalizer, plus anything.
const pathChar = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '/',
      '.',
      '%',
      '\\',
      '?',
      '#',
      ';',
      'a',
      'A',
      '2',
      'e',
      'E',
      'f',
      'F',
      '5',
      'c',
      'C',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%2e',
      '%2E',
      '%2f',
      '%2F',
      '%5c',
      '%5C',
      '%25',
      '%41',
      '%00',
      '%7f',
      '%zz',
      '..',
      '//',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 2 }) },
);
const target = fc.array(pathChar, { maxLength: 40 }).map((parts) => parts.join(''));
const anyTarget = fc.oneof(
  target,
  fc.string({ maxLength: 40 }),
  target.map((t) => `/${t}`),
);

describe('normalizePath (fuzz)', () => {
  it(
    'never throws, and normalizing a normalized path changes nothing',
    () => {
      fc.assert(
        fc.property(anyTarget, fc.constantFrom(...OPTION_SETS), (raw, options) => {
          const once = normalizePath(raw, options);
          if (!once.ok) return;
          expect(once.path === '*' || once.path.startsWith('/')).toBe(true);
          const twice = normalizePath(once.path, options);
          expect(twice).toEqual({ ok: true, path: once.path, query: undefined, fragment: undefined });
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});

// --- DENY /admin is never escaped ---

const segmentChar = fc.constantFrom(...'abcxyz019-_.~'.split(''));
// An ordinary segment: "." and ".." would change which path is meant.
const segment = fc
  .array(segmentChar, { minLength: 1, maxLength: 6 })
  .map((c) => c.join(''))
  .filter((s) => s !== '.' && s !== '..');

type Trick =
  | { readonly kind: 'dot'; readonly at: number }
  | { readonly kind: 'dotdot'; readonly at: number; readonly name: string }
  | { readonly kind: 'double-slash'; readonly at: number }
  | { readonly kind: 'backslash'; readonly at: number }
  | { readonly kind: 'param'; readonly at: number; readonly param: string };

const trick: fc.Arbitrary<Trick> = fc.oneof(
  fc.record({ kind: fc.constant('dot' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dotdot' as const), at: fc.nat(), name: segment }),
  fc.record({ kind: fc.constant('double-slash' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('backslash' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('param' as const),
    at: fc.nat(),
    param: fc.constantFrom(';', ';x', ';a=b', ';/'),
  }),
);

function slashPositions(path: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < path.length; i++) if (path[i] === '/') out.push(i);
  return out;
}

/** Applies one trick at a literal "/" (picked by `at`), keeping the path's meaning. */
function applyTrick(path: string, t: Trick): string {
  const slashes = slashPositions(path);
  if (slashes.length === 0) return path;
  const at = slashes[t.at % slashes.length] as number;
  const before = path.slice(0, at);
  const after = path.slice(at + 1);
  switch (t.kind) {
    case 'dot':
      return `${before}/./${after}`;
    case 'dotdot':
      return `${before}/${t.name}/../${after}`;
    case 'double-slash':
      return `${before}//${after}`;
    case 'backslash':
      return `${before}\\${after}`;
    case 'param':
      // A path parameter ends the segment before this slash (servlet containers drop it).
      return at === 0 ? path : `${before}${t.param}/${after}`;
  }
}

/**
 * Percent-encodes the characters picked by `which`, in upper or lower hex. ";" stays literal:
 * "%3B" is a semicolon inside a segment name, not a path parameter, for every backend.
 */
function percentEncode(path: string, which: readonly boolean[], lower: readonly boolean[]): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] as string;
    if (ch !== ';' && which[i % Math.max(1, which.length)] === true) {
      const hex = ch.charCodeAt(0).toString(16).padStart(2, '0');
      out += `%${lower[i % Math.max(1, lower.length)] === true ? hex : hex.toUpperCase()}`;
    } else out += ch;
  }
  return out;
}

const adminSpelling = fc
  .record({
    rest: fc.array(segment, { maxLength: 3 }),
    trailing: fc.boolean(),
    tricks: fc.array(trick, { maxLength: 4 }),
    encode: fc.array(fc.boolean(), { maxLength: 30 }),
    lower: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    suffix: fc.constantFrom('', '?x=1', '#frag', '?a=/admin#b'),
  })
  .map(({ rest, trailing, tricks, encode, lower, suffix }) => {
    let path = `/${['admin', ...rest].join('/')}${trailing ? '/' : ''}`;
    for (const t of tricks) path = applyTrick(path, t);
    return percentEncode(path, encode, lower) + suffix;
  });

// With mergeSlashes off "//admin", and with pathParameters kept "/admin;x", are other paths by
// the operator's choice; the guarantee holds for the defaults and for decoded escaped slashes.
const DEFAULT_LIKE = OPTION_SETS.filter((o) => o.mergeSlashes !== false && o.pathParameters !== 'keep');

describe('DENY on /admin (fuzz)', () => {
  const deny = compiledPolicies([
    authorizationPolicy('no-admin', {
      namespace: 'shop',
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }],
    }),
  ]);

  it(
    'denies every spelling of /admin and /admin/..., or refuses the path',
    () => {
      fc.assert(
        fc.property(adminSpelling, fc.constantFrom(...DEFAULT_LIKE), (path, options) => {
          const decision = authorize(deny, { method: 'GET', path }, { path: options });
          expect(decision.action, `${path} -> ${decision.code}: ${decision.reason}`).toBe('DENY');
        }),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it('is a test that can fail: a path outside /admin is allowed', () => {
    expect(authorize(deny, { method: 'GET', path: '/public/admin' }).action).toBe('ALLOW');
  });
});
