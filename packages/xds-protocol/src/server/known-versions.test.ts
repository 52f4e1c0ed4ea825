import { describe, expect, it } from 'vitest';
import { KnownVersions } from './known-versions.ts';

describe('KnownVersions', () => {
  it('layers a private overlay over a shared base', () => {
    const base = new Map([
      ['a', '1'],
      ['b', '1'],
    ]);
    const k = new KnownVersions();
    k.set('x', '9');
    k.adopt(base);
    expect(k.get('x')).toBeUndefined();
    expect(k.size).toBe(2);
    k.set('a', '2');
    k.set('c', '1');
    expect(k.delete('b')).toBe(true);
    expect(k.delete('b')).toBe(false);
    expect(k.get('a')).toBe('2');
    expect(k.get('b')).toBeUndefined();
    expect(k.size).toBe(2);
    expect([...k.keys()].sort()).toEqual(['a', 'c']);
    expect(base.get('a')).toBe('1'); // the shared base is never written
  });
});
