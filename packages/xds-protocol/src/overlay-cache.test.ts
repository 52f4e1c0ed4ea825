import { describe, expect, it } from 'vitest';
import { ResourceCache } from './cache.ts';
import { OverlayCache } from './overlay-cache.ts';
import { createResource } from './resource.ts';

const T = 'type.googleapis.com/test.A';
const U = 'type.googleapis.com/test.B';
const res = (type: string, name: string, value: string) =>
  createResource(type, name, new TextEncoder().encode(value), value);
const content = (c: ResourceCache) =>
  Object.fromEntries(
    c
      .typeUrls()
      .flatMap((t) => [...c.entries(t).values()].map((r) => [`${t.slice(-1)}/${r.name}`, r.version])),
  );

describe('OverlayCache', () => {
  it('starts as the base plus its own resources, own ones hiding the base', () => {
    const base = new ResourceCache();
    base.apply([res(T, 'a', 'a1'), res(T, 'b', 'b1'), res(U, 'x', 'x1')]);
    const o = new OverlayCache(base, [res(T, 'b', 'mine'), res(T, 'c', 'c-own')]);
    expect(content(o.cache)).toEqual({ 'A/a': 'a1', 'A/b': 'mine', 'A/c': 'c-own', 'B/x': 'x1' });
    // shared, not copied
    expect(o.cache.get(T, 'a')).toBe(base.get(T, 'a'));
  });

  it.each([
    {
      what: 'an upsert and a removal in the base reach it in one batch',
      change: (b: ResourceCache) => b.apply([res(T, 'a', 'a2')], [{ typeUrl: U, name: 'x' }]),
      want: { 'A/a': 'a2', 'A/b': 'mine' },
    },
    {
      what: 'a base change under an own name stays hidden',
      change: (b: ResourceCache) => b.apply([res(T, 'b', 'b2')]),
      want: { 'A/a': 'a1', 'A/b': 'mine', 'B/x': 'x1' },
    },
    {
      what: 'a base removal under an own name leaves the own resource',
      change: (b: ResourceCache) => b.delete(T, 'b'),
      want: { 'A/a': 'a1', 'A/b': 'mine', 'B/x': 'x1' },
    },
  ])('$what', ({ change, want }) => {
    const base = new ResourceCache();
    base.apply([res(T, 'a', 'a1'), res(T, 'b', 'b1'), res(U, 'x', 'x1')]);
    const o = new OverlayCache(base, [res(T, 'b', 'mine')]);
    let batches = 0;
    o.cache.onChange(() => batches++);
    change(base);
    expect(content(o.cache)).toEqual(want);
    expect(batches).toBeLessThanOrEqual(1);
  });

  it('setOwn replaces its resources and uncovers the base', () => {
    const base = new ResourceCache();
    base.apply([res(T, 'b', 'b1')]);
    const o = new OverlayCache(base, [res(T, 'b', 'mine'), res(T, 'c', 'c-own')]);
    o.setOwn([res(T, 'd', 'd-own')]);
    expect(content(o.cache)).toEqual({ 'A/b': 'b1', 'A/d': 'd-own' });
  });

  it('starts from a base whose change log was compacted, and stops following once closed', () => {
    const base = new ResourceCache({ minLogEntries: 2 });
    base.apply([res(T, 'a', 'a1')]);
    const o = new OverlayCache(base);
    o.close();
    for (let i = 0; i < 10; i++) base.apply([res(T, `n${i}`, `v${i}`)]);
    base.delete(T, 'a');
    const again = new OverlayCache(base);
    expect(Object.keys(content(again.cache))).toHaveLength(10);
    expect(content(o.cache)).toEqual({ 'A/a': 'a1' });
  });
});

describe('OverlayCache revisions', () => {
  it('never repeat between the overlays of one base, and move ahead of the base', () => {
    const base = new ResourceCache();
    base.apply([res(T, 'a', 'a1')]);
    const one = new OverlayCache(base, [res(T, 'own', '1')]);
    base.apply([res(T, 'a', 'a2')]);
    const two = new OverlayCache(base, [res(T, 'own', '2')]);
    base.apply([res(T, 'a', 'a3')]);
    const seen = [one.cache.revision, two.cache.revision];
    expect(new Set(seen).size).toBe(2);
    expect(Math.min(...seen)).toBeGreaterThan(1);
    // each still increases with its own changes
    const before = two.cache.revision;
    two.setOwn([res(T, 'own', '3')]);
    expect(two.cache.revision).toBeGreaterThan(before);
    expect(two.cache.revision).not.toBe(one.cache.revision);
  });
});
