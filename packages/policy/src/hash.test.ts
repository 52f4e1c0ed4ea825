import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, fnv1a64 } from './hash.ts';

describe('fnv1a64', () => {
  // Reference vectors of the FNV-1a 64-bit function.
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('hashes %j', (input, expected) => {
    expect(fnv1a64(input)).toBe(expected);
  });

  it('hashes non-ASCII text as UTF-8', () => {
    expect(fnv1a64('é')).not.toBe(fnv1a64('e'));
    expect(fnv1a64('é😀')).toBe('52da6ebdce68376c'); // UTF-8 bytes c3 a9 f0 9f 98 80
  });
});

describe('canonicalJson', () => {
  it('sorts keys and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined })).toBe('{"a":[true,null,"x"],"b":1}');
  });
  it('makes key order irrelevant to the hash', () => {
    expect(contentHash({ x: 1, y: { p: 'q', r: 's' } })).toBe(contentHash({ y: { r: 's', p: 'q' }, x: 1 }));
  });
  it('keeps array order significant', () => {
    expect(contentHash([1, 2])).not.toBe(contentHash([2, 1]));
  });
  it('rejects values JSON cannot carry', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
  });
});
