// The example of README.md ("Config sources"), kept runnable.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FileSource, ObjectStore, type SourceEvent } from './index.ts';

it('README example: a folder of manifests into an ObjectStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-readme-'));
  await writeFile(
    join(dir, 'mesh.yaml'),
    `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: shop}
spec: {}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`,
  );

  // --- example ---
  const store = new ObjectStore();
  const source = new FileSource({ dir });
  let synced = false;
  await source.start((event: SourceEvent) => {
    switch (event.type) {
      case 'changes':
        store.apply(event.batch); // then recompile when store.generation moved
        break;
      case 'synced':
        synced = true;
        break;
      case 'error':
        // e.g. "mesh.yaml: document 2: metadata.name: missing or not a string"
        break;
      case 'status':
        break;
    }
  });
  // `synced` is true here: FileSource reads the folder before start() resolves.
  const kinds = store.objects().map((o) => o.kind); // ['Namespace', 'AuthorizationPolicy'], sorted by key
  await source.stop();
  // --- end of example ---

  expect(synced).toBe(true);
  expect(kinds).toEqual(['Namespace', 'AuthorizationPolicy']);
  expect(store.generation).toBe(1);
  await rm(dir, { recursive: true, force: true });
});
