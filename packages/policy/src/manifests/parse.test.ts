import { describe, expect, it } from 'vitest';
import { parseManifests } from './parse.ts';

describe('parseManifests', () => {
  it('reads multi-document YAML, Lists and JSON', () => {
    const yaml = [
      '# leading comment',
      'apiVersion: v1',
      'kind: Namespace',
      'metadata: {name: shop}',
      '---',
      '---',
      'apiVersion: v1',
      'kind: List',
      'items:',
      '- apiVersion: v1',
      '  kind: Service',
      '  metadata: {name: cart, namespace: shop}',
      '- apiVersion: security.istio.io/v1',
      '  kind: AuthorizationPolicy',
      '  metadata: {name: deny-all}',
      '  spec: {}',
      '---',
      '# only a comment',
    ].join('\n');
    const { objects, errors } = parseManifests(yaml, 'a.yaml');
    expect(errors).toEqual([]);
    expect(objects.map((o) => [o.kind, o.metadata.namespace, o.metadata.name])).toEqual([
      ['Namespace', undefined, 'shop'],
      ['Service', 'shop', 'cart'],
      ['AuthorizationPolicy', 'default', 'deny-all'],
    ]);
    expect(Object.isFrozen(objects[2]?.metadata)).toBe(true);

    const json = JSON.stringify({
      apiVersion: 'v1',
      kind: 'PodList',
      items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'x' } }],
    });
    expect(parseManifests(json, 'b.json').objects.map((o) => o.metadata.name)).toEqual(['p']);
    expect(parseManifests('', 'empty.yaml')).toEqual({ objects: [], errors: [] });
    expect(parseManifests('# nothing\n', 'c.yaml', { defaultNamespace: 'x' })).toEqual({
      objects: [],
      errors: [],
    });
  });

  it('applies the default namespace only to namespaced kinds', () => {
    const { objects } = parseManifests(
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n',
      'x.yaml',
      { defaultNamespace: 'mesh' },
    );
    expect(objects.map((o) => o.metadata.namespace)).toEqual(['mesh', undefined]);
  });

  // Each bad document is rejected alone, naming the file, the document and the field; the good
  // document after it still parses.
  it.each([
    ['bad YAML', 'kind: [unclosed\n', 'parse', undefined],
    ['duplicate key', 'apiVersion: v1\nkind: Pod\nkind: Service\nmetadata: {name: a}\n', 'parse', undefined],
    ['tab indentation', 'apiVersion: v1\nmetadata:\n\tname: a\n', 'parse', undefined],
    ['a scalar', 'just a string\n', 'invalid-object', ''],
    ['a sequence', '- a\n- b\n', 'invalid-object', ''],
    ['missing apiVersion', 'kind: Pod\nmetadata: {name: a}\n', 'invalid-object', 'apiVersion'],
    ['bad apiVersion', 'apiVersion: a/b/c\nkind: Pod\nmetadata: {name: a}\n', 'invalid-object', 'apiVersion'],
    ['missing kind', 'apiVersion: v1\nmetadata: {name: a}\n', 'invalid-object', 'kind'],
    ['numeric kind', 'apiVersion: v1\nkind: 3\nmetadata: {name: a}\n', 'invalid-object', 'kind'],
    ['missing metadata', 'apiVersion: v1\nkind: Pod\n', 'invalid-object', 'metadata'],
    [
      'missing name',
      'apiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\n',
      'invalid-object',
      'metadata.name',
    ],
    ['empty name', 'apiVersion: v1\nkind: Pod\nmetadata: {name: ""}\n', 'invalid-object', 'metadata.name'],
    [
      'slash in name',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: a/b}\n',
      'invalid-object',
      'metadata.name',
    ],
    [
      'numeric namespace',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: 7}\n',
      'invalid-object',
      'metadata.namespace',
    ],
    ['List without items', 'apiVersion: v1\nkind: List\n', 'invalid-object', 'items'],
    [
      'bad List item',
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n',
      'invalid-object',
      'items[0].metadata',
    ],
    [
      'nested List',
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n',
      'invalid-object',
      'items[0].kind',
    ],
    [
      'alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
      'parse',
      undefined,
    ],
  ] as const)('rejects %s', (_name, bad, reason, field) => {
    const text = `${bad}---\napiVersion: v1\nkind: Pod\nmetadata: {name: good, namespace: n}\n`;
    const { objects, errors } = parseManifests(text, 'dir/bad.yaml');
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(error).toMatchObject({ reason, file: 'dir/bad.yaml', document: 0 });
    expect(error?.field).toBe(field);
    expect(error?.message).toContain('dir/bad.yaml: document 0');
    if (reason === 'parse' && _name !== 'alias bomb') expect(error?.line).toBeGreaterThan(0);
    expect(objects.map((o) => o.metadata.name)).toEqual(['good']);
  });
});
