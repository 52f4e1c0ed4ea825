import { describe, expect, it } from 'vitest';
import { objectKey, parseObjectKey } from './object-key.ts';
import { ObjectStore } from './object-store.ts';
import type { KubeObject, ObjectChange } from './types.ts';

function pod(name: string, rv = '1'): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', resourceVersion: rv } };
}

const add = (o: KubeObject): ObjectChange => ({ type: 'add', key: objectKey(o), object: o });
const update = (o: KubeObject): ObjectChange => ({ type: 'update', key: objectKey(o), object: o });
const del = (o: KubeObject): ObjectChange => ({ type: 'delete', key: objectKey(o), object: o });

describe('objectKey', () => {
  it.each([
    [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, '/Namespace//a'],
    [pod('p'), '/Pod/default/p'],
    [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'x', namespace: 'n' },
      },
      'security.istio.io/AuthorizationPolicy/n/x',
    ],
    [
      {
        apiVersion: 'security.istio.io/v1beta1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'x', namespace: 'n' },
      },
      'security.istio.io/AuthorizationPolicy/n/x',
    ],
  ] as [KubeObject, string][])('%j -> %s', (object, key) => {
    expect(objectKey(object)).toBe(key);
    expect(parseObjectKey(key)).toEqual({
      group: key.split('/')[0],
      kind: object.kind,
      namespace: object.metadata.namespace ?? '',
      name: object.metadata.name,
    });
  });
});

describe('ObjectStore', () => {
  it('applies batches and counts generations', () => {
    const store = new ObjectStore();
    expect(store.generation).toBe(0);
    expect(store.objects()).toEqual([]);

    const r1 = store.apply({ source: 't', changes: [add(pod('b')), add(pod('a'))] });
    expect(r1).toMatchObject({ changed: true, generation: 1, added: 2 });
    expect(store.objects().map((o) => o.metadata.name)).toEqual(['a', 'b']);

    const first = store.objects();
    expect(store.objects()).toBe(first);

    store.apply([update(pod('a', '2')), del(pod('b'))]);
    expect(store.generation).toBe(2);
    expect(store.objects()).not.toBe(first);
    expect(store.objects().map((o) => [o.metadata.name, o.metadata.resourceVersion])).toEqual([['a', '2']]);
  });

  it('treats replays as no-ops and upserts', () => {
    const store = new ObjectStore();
    const a = pod('a');
    store.apply([add(a)]);
    expect(store.apply([add(a), del(pod('missing'))])).toMatchObject({ changed: false, generation: 1 });
    expect(store.apply([update(pod('new'))])).toMatchObject({ changed: true, added: 1 });
    expect(store.size).toBe(2);
  });
});
