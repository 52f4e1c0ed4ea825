import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock, type ManualClock } from '@weft/telemetry/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceRecorder, waitFor } from '../testing/recorder.ts';
import { FileSource, type FileSourceOptions } from './file-source.ts';
import { ObjectStore } from './object-store.ts';
import type { ChangeBatch } from './types.ts';

const pod = (name: string, extra = ''): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: shop\n${extra}`;
const policy = (name: string, action = 'ALLOW'): string =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: shop}\nspec: {action: ${action}}\n`;

/** `add /Pod/shop/a` lines, sorted, of every change in `batches`. */
function summary(batches: readonly ChangeBatch[]): string[] {
  return batches.flatMap((b) => b.changes.map((c) => `${c.type} ${c.key}`)).sort();
}

describe('FileSource', () => {
  let dir: string;
  const sources: FileSource[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-files-'));
  });

  afterEach(async () => {
    for (const s of sources.splice(0)) await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function startSource(options: Partial<FileSourceOptions> = {}): Promise<{
    source: FileSource;
    rec: SourceRecorder;
    store: ObjectStore;
  }> {
    const source = new FileSource({ dir, watch: 'off', rescanIntervalMs: 0, ...options });
    sources.push(source);
    const rec = new SourceRecorder();
    const store = new ObjectStore();
    await source.start((event) => {
      rec.listener(event);
      if (event.type === 'changes') store.apply(event.batch);
    });
    return { source, rec, store };
  }

  const write = (path: string, text: string): Promise<void> => writeFile(join(dir, path), text);

  it('loads nested folders, multi-document files, Lists and JSON, and skips the rest', async () => {
    await mkdir(join(dir, 'ns/shop'), { recursive: true });
    await mkdir(join(dir, '.git'));
    await write('namespaces.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n');
    await write('ns/shop/pods.yml', `${pod('a')}---\n${pod('b')}`);
    await write(
      'ns/shop/list.json',
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' } }],
      }),
    );
    await write('ns/shop/policy.YAML', policy('allow'));
    await write('README.txt', 'not a manifest');
    await write('.hidden.yaml', pod('hidden'));
    await write('.git/config.yaml', pod('git'));
    await symlink(join(dir, 'ns/shop/pods.yml'), join(dir, 'ns/link-target-missing.yaml.bak'));
    await symlink('/nonexistent/file.yaml', join(dir, 'dangling.yaml'));

    const { source, rec, store } = await startSource();
    expect(rec.events.map((e) => e.type).slice(0, 2)).toEqual(['changes', 'synced']);
    expect(summary(rec.batches)).toEqual([
      'add /Namespace//shop',
      'add /Pod/shop/a',
      'add /Pod/shop/b',
      'add /Service/shop/cart',
      'add security.istio.io/AuthorizationPolicy/shop/allow',
    ]);
    expect(rec.errors).toEqual([]);
    expect(store.size).toBe(5);
    expect(source.status()).toMatchObject({ phase: 'synced', synced: true, objects: 5 });
    expect(source.counters()).toMatchObject({ batches: 1, changes: 5, filesRead: 4, rescans: 1 });
  });

  it('emits an empty first batch and synced for an empty folder', async () => {
    const { rec } = await startSource();
    expect(rec.batches).toEqual([{ source: `file:${dir}`, changes: [] }]);
    expect(rec.synced).toBe(true);
  });

  it('re-reads only changed files and emits per-object diffs', async () => {
    await write('a.yaml', `${pod('a')}---\n${pod('b')}`);
    await write('b.yaml', policy('p1'));
    const { source, rec, store } = await startSource();
    rec.take();

    await write('a.yaml', `${pod('a', '  labels: {v: "2"}\n')}---\n${pod('c')}`);
    await source.resync();
    expect(summary(rec.take())).toEqual(['add /Pod/shop/c', 'delete /Pod/shop/b', 'update /Pod/shop/a']);
    expect(source.counters().filesRead).toBe(3);

    // Touching a file without changing it is no change.
    await write('b.yaml', policy('p1'));
    await source.resync();
    expect(rec.take()).toEqual([]);

    await rm(join(dir, 'a.yaml'));
    await source.resync();
    expect(summary(rec.take())).toEqual(['delete /Pod/shop/a', 'delete /Pod/shop/c']);
    expect(store.objects().map((o) => o.metadata.name)).toEqual(['p1']);
  });

  it('treats an object moved between files as the same object', async () => {
    await write('a.yaml', `${pod('a')}---\n${pod('moving')}`);
    await write('b.yaml', pod('b'));
    const { source, rec } = await startSource();
    rec.take();
    await write('a.yaml', pod('a'));
    await write('b.yaml', `${pod('b')}---\n${pod('moving')}`);
    await source.resync();
    expect(rec.take()).toEqual([]);

    await write('b.yaml', `${pod('b')}---\n${pod('moving', '  labels: {moved: "yes"}\n')}`);
    await source.resync();
    expect(summary(rec.take())).toEqual(['update /Pod/shop/moving']);
  });

  it('keeps the last good objects of a file through a bad save, and reports it', async () => {
    await write('a.yaml', `${pod('a')}---\n${pod('b')}`);
    const { source, rec, store } = await startSource();
    rec.take();

    // Broken YAML in the second document, and the first one edited: the edit applies, b stays.
    await write('a.yaml', `${pod('a', '  labels: {v: "2"}\n')}---\napiVersion: v1\nkind: [Pod\n`);
    await source.resync();
    expect(summary(rec.take())).toEqual(['update /Pod/shop/a']);
    expect(store.objects().map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(rec.errors).toHaveLength(1);
    expect(rec.errors[0]).toMatchObject({ reason: 'parse', file: 'a.yaml', document: 1, line: 10 });
    expect(source.counters().errors.parse).toBe(1);

    // A document missing its name: reported by field, still nothing removed.
    await write('a.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {namespace: shop}\n');
    await source.resync();
    expect(rec.take()).toEqual([]);
    expect(rec.errors[1]).toMatchObject({
      reason: 'invalid-object',
      file: 'a.yaml',
      document: 0,
      field: 'metadata.name',
    });
    expect(store.size).toBe(2);

    // Once the file is clean again, its content is the truth: b is deleted.
    await write('a.yaml', pod('a'));
    await source.resync();
    expect(summary(rec.take())).toEqual(['delete /Pod/shop/b', 'update /Pod/shop/a']);
    expect(source.counters().errors).toMatchObject({ parse: 1, 'invalid-object': 1 });
  });

  it('loads the valid documents of a new file that has bad ones', async () => {
    await write('a.yaml', `kind: Pod\n---\n${pod('ok')}---\n: : :\n`);
    const { rec } = await startSource();
    expect(summary(rec.batches)).toEqual(['add /Pod/shop/ok']);
    expect(rec.errors.map((e) => [e.reason, e.document, e.field])).toEqual([
      ['invalid-object', 0, 'apiVersion'],
      ['parse', 2, undefined],
    ]);
  });

  it('lets the first file (by path) win a duplicate and reports it', async () => {
    await write('a.yaml', policy('dup', 'ALLOW'));
    await write('b.yaml', policy('dup', 'DENY'));
    const { source, rec, store } = await startSource();
    expect(rec.errors).toMatchObject([{ reason: 'duplicate', file: 'b.yaml' }]);
    expect(store.objects()[0]?.spec).toEqual({ action: 'ALLOW' });

    await rm(join(dir, 'a.yaml'));
    await source.resync();
    expect(summary(rec.take().slice(1))).toEqual(['update security.istio.io/AuthorizationPolicy/shop/dup']);
    expect(store.objects()[0]?.spec).toEqual({ action: 'DENY' });
  });

  it('deletes the objects of a removed folder, and rejects oversized files but keeps their last objects', async () => {
    await mkdir(join(dir, 'sub/deeper'), { recursive: true });
    await write('sub/deeper/x.yaml', pod('x'));
    await write('big.yaml', pod('big'));
    const { source, rec, store } = await startSource({ maxFileBytes: 200 });
    rec.take();

    await rm(join(dir, 'sub'), { recursive: true });
    await write('big.yaml', `${pod('big')}# ${'x'.repeat(300)}\n`);
    await source.resync();
    expect(summary(rec.take())).toEqual(['delete /Pod/shop/x']);
    expect(rec.errors).toMatchObject([{ reason: 'read', file: 'big.yaml' }]);
    expect(store.objects().map((o) => o.metadata.name)).toEqual(['big']);
  });

  it('reports a missing folder once and picks it up when it appears', async () => {
    const missing = join(dir, 'later');
    const source = new FileSource({ dir: missing, watch: 'off', rescanIntervalMs: 0 });
    sources.push(source);
    const rec = new SourceRecorder();
    await source.start(rec.listener);
    expect(rec.synced).toBe(true);
    expect(rec.errors.map((e) => e.reason)).toEqual(['read']);
    await source.resync();
    expect(rec.errors).toHaveLength(1);

    await mkdir(missing);
    await writeFile(join(missing, 'a.yaml'), pod('a'));
    await source.resync();
    expect(summary(rec.take())).toEqual(['add /Pod/shop/a']);
  });

  it('follows symlinked files and notices a ConfigMap-style ..data swap on rescan', async () => {
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1/mesh.yaml'), pod('v1'));
    await symlink('..v1', join(dir, '..data'));
    await symlink('..data/mesh.yaml', join(dir, 'mesh.yaml'));
    const { source, rec } = await startSource();
    expect(summary(rec.take())).toEqual(['add /Pod/shop/v1']);

    await mkdir(join(dir, '..v2'));
    await writeFile(join(dir, '..v2/mesh.yaml'), pod('v2'));
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await source.resync();
    expect(summary(rec.take())).toEqual(['add /Pod/shop/v2', 'delete /Pod/shop/v1']);
  });

  it('rescans periodically on the injected clock when events are lost', async () => {
    const clock = createManualClock();
    await write('a.yaml', pod('a'));
    const { source, rec } = await startSource({ clock, rescanIntervalMs: 5_000 });
    rec.take();
    await write('b.yaml', pod('b'));
    clock.advance(4_999);
    await source.idle();
    expect(rec.take()).toEqual([]);
    clock.advance(1);
    expect(summary(await rec.next('rescan batch'))).toEqual(['add /Pod/shop/b']);
    expect(source.counters().rescans).toBe(2);
  });

  describe.each(['per-directory', 'recursive'] as const)('watching (%s)', (mode) => {
    /** Fires the debounce whenever events are pending until `count` changes came out. */
    async function pump(
      source: FileSource,
      clock: ManualClock,
      rec: SourceRecorder,
      count: number,
    ): Promise<string[]> {
      const got: string[] = [];
      const deadline = Date.now() + 10_000;
      while (got.length < count) {
        if (Date.now() > deadline) throw new Error(`timed out with ${JSON.stringify(got)}`);
        if (source.pending() > 0) {
          clock.advance(50);
          await source.idle();
          got.push(...summary(rec.take()));
        } else {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      return got.sort();
    }

    it('debounces fs events into one batch and follows new folders', async () => {
      const clock = createManualClock();
      await write('a.yaml', pod('a'));
      const { source, rec } = await startSource({ clock, watch: mode, debounceMs: 50 });
      rec.take();

      await write('b.yaml', pod('b'));
      await write('a.yaml', pod('a', '  labels: {v: "2"}\n'));
      // Both files are reported by fs events; nothing is read before the debounce fires.
      await waitFor(() => source.pending() >= 2, 'fs events for a.yaml and b.yaml');
      expect(rec.take()).toEqual([]);
      clock.advance(50);
      await source.idle();
      const batches = rec.take();
      expect(batches).toHaveLength(1);
      expect(summary(batches)).toEqual(['add /Pod/shop/b', 'update /Pod/shop/a']);

      await mkdir(join(dir, 'team'));
      await write('team/c.yaml', pod('c'));
      expect(await pump(source, clock, rec, 1)).toEqual(['add /Pod/shop/c']);

      // The new folder is watched too.
      await write('team/d.yaml', pod('d'));
      expect(await pump(source, clock, rec, 1)).toEqual(['add /Pod/shop/d']);

      await rm(join(dir, 'team'), { recursive: true });
      expect(await pump(source, clock, rec, 2)).toEqual(['delete /Pod/shop/c', 'delete /Pod/shop/d']);
      expect(source.status().phase).toBe('synced');
    });
  });
});
