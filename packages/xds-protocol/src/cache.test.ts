import { describe, expect, it } from 'vitest';
import { ResourceCache } from './cache.ts';
import { createResource } from './resource.ts';

const T = 'type.googleapis.com/weft.v1.Service';
const r = (name: string, v = '1') => createResource(T, name, new TextEncoder().encode(name + v), v);

describe('ResourceCache', () => {
  it('treats an equal version as no change and notifies once per batch', () => {
    const c = new ResourceCache();
    const seen: string[][] = [];
    c.onChange((_c, types) => seen.push([...types]));
    expect(c.apply([r('a'), r('b')])).toBe(2);
    expect(c.apply([r('a')])).toBe(0);
    expect(c.apply([r('a', '2')], [{ typeUrl: T, name: 'b' }])).toBe(2);
    expect(seen).toEqual([[T], [T]]);
    expect(c.revision).toBe(2);
    expect(c.get(T, 'a')?.version).toBe('2');
    expect(c.get(T, 'b')).toBeUndefined();
  });

  it('answers what changed since a revision', () => {
    const c = new ResourceCache();
    c.apply([r('a'), r('b')]);
    const rev = c.revision;
    c.apply([r('b', '2')]);
    c.apply([], [{ typeUrl: T, name: 'a' }]);
    expect([...new Set(c.changedSince(T, rev))].sort()).toEqual(['a', 'b']);
    expect(c.changedSince(T, c.revision)).toEqual([]);
  });

  it('says "all" once the log no longer reaches back', () => {
    const c = new ResourceCache({ minLogEntries: 4 });
    c.apply([r('a')]);
    const old = c.revision;
    for (let i = 0; i < 10; i++) c.apply([r('a', String(i + 2))]);
    expect(c.changedSince(T, old)).toBe('all');
    expect(c.changedSince(T, c.revision - 1)).toEqual(['a']);
  });

  it('replaceType upserts the given set and removes the rest', () => {
    const c = new ResourceCache();
    c.apply([r('a'), r('b')]);
    c.replaceType(T, [r('b'), r('c')]);
    expect([...c.entries(T).keys()].sort()).toEqual(['b', 'c']);
    expect(() => c.replaceType(T, [createResource('other', 'x', new Uint8Array())])).toThrow(TypeError);
  });
});
