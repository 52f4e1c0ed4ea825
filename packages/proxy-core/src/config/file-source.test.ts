// The static config file: read with @weft/policy's manifest parser, so a bad document is refused
// alone (named by file and document) and the rest is compiled and applied as weftd would.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStateStore } from '../state/store.ts';
import { loadConfigFile, loadManifests } from './file-source.ts';

const GOOD = [
  'apiVersion: v1',
  'kind: Namespace',
  'metadata: {name: shop}',
  '---',
  'apiVersion: v1',
  'kind: List',
  'items:',
  '- apiVersion: security.istio.io/v1',
  '  kind: AuthorizationPolicy',
  '  metadata: {name: deny-admin, namespace: shop}',
  '  spec: {action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}',
].join('\n');

describe('loadManifests', () => {
  it('applies multi-document YAML and Lists', async () => {
    const store = createStateStore();
    const r = await loadManifests(store, GOOD);
    expect(r).toMatchObject({ ok: true, parseErrors: [], invalid: [] });
    expect([...store.state.namespaces.keys()]).toContain('shop');
    expect(store.state.authorizationPolicies.size).toBe(1);
  });

  it.each([
    ['bad YAML', 'kind: [unclosed\n'],
    ['a sequence', '- a\n- b\n'],
    ['missing kind', 'apiVersion: v1\nmetadata: {name: a}\n'],
    [
      'an alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b]\n`,
    ],
  ])('refuses %s alone, naming the document, and applies the rest', async (_name, bad) => {
    const store = createStateStore();
    const r = await loadManifests(store, `${GOOD}\n---\n${bad}`, {}, 'mesh.yaml');
    expect(r.ok).toBe(false);
    expect(r.parseErrors).toHaveLength(1);
    expect(r.parseErrors[0]).toMatch(/^mesh\.yaml: document 2: /);
    expect(r.applied).toBeDefined();
    expect(store.state.authorizationPolicies.size).toBe(1);
  });

  it('leaves schema errors to compile: the invalid object is skipped, the rest applies', async () => {
    const store = createStateStore();
    const bad =
      'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: nope}\n';
    const r = await loadManifests(store, `${GOOD}\n---\n${bad}`);
    expect(r.ok).toBe(true);
    expect(r.invalid.map((e) => e.name)).toEqual(['web']);
    expect(store.state.authorizationPolicies.size).toBe(1);
  });
});

describe('loadConfigFile', () => {
  it('names the file in document errors and reports an unreadable file without applying', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proxy-core-file-'));
    const path = join(dir, 'mesh.yaml');
    writeFileSync(path, `${GOOD}\n---\nkind: [unclosed\n`);
    const store = createStateStore();
    const r = await loadConfigFile(store, path);
    expect(r.parseErrors).toEqual([expect.stringMatching(new RegExp(`^${path}: document 2: `))]);
    expect(store.state.authorizationPolicies.size).toBe(1);

    const missing = await loadConfigFile(createStateStore(), join(dir, 'absent.yaml'));
    expect(missing.ok).toBe(false);
    expect(missing.applied).toBeUndefined();
    expect(missing.parseErrors[0]).toContain('absent.yaml');
  });
});
