// Decision tables for the pure parts of weftd: proxy ids, flags, what a snapshot re-encodes, and
// the compile loop's batching and once-only rejection reports (driven by a ManualClock).
import { compile } from '@weft/policy';
import { authorizationPolicy, meshFixture } from '@weft/policy/testing';
import { captureLogger, createManualClock } from '@weft/telemetry/testing';
import { ResourceCache, WEFT_TYPE_URL } from '@weft/xds-protocol';
import { describe, expect, it } from 'vitest';
import { CompileLoop, type RejectedObject } from './compile-loop.ts';
import { parseFlags } from './flags.ts';
import type {
  ConfigSource,
  KubeObject,
  SourceCounters,
  SourceListener,
  SourceStatus,
} from './sources/index.ts';
import { objectKey } from './sources/index.ts';
import { SnapshotPublisher } from './xds/publisher.ts';
import { nodePolicyKeys } from './xds/views.ts';

describe('parseFlags', () => {
  it('reads local mode', () => {
    const r = parseFlags([
      '--config-dir',
      '/etc/weft',
      '--token-file=/etc/weft/tokens',
      '--ca-dir',
      '/var/lib/weftd',
      '--trust-domain',
      'example.org',
      '--xds-tls-address',
      'off',
      '--admin-address',
      '0.0.0.0:15014',
      '--no-debug-auth',
    ]);
    expect(r).toEqual({
      ok: true,
      value: {
        config: {
          configDir: '/etc/weft',
          tokenFile: '/etc/weft/tokens',
          caDir: '/var/lib/weftd',
          trustDomain: 'example.org',
          xdsTlsAddress: false,
          adminAddress: '0.0.0.0:15014',
          debugAuth: false,
        },
        kube: undefined,
        logLevel: 'info',
        logFormat: 'kv',
      },
    });
  });

  it('reads Kubernetes mode', () => {
    const r = parseFlags([
      '--in-cluster',
      '--token-audience',
      'weft-ca',
      '--token-audience',
      'istio-ca',
      '--log-format',
      'json',
    ]);
    expect(r).toMatchObject({
      ok: true,
      value: {
        kube: { kind: 'in-cluster' },
        config: { tokenAudiences: ['weft-ca', 'istio-ca'] },
        logFormat: 'json',
      },
    });
    expect(parseFlags(['--kubeconfig', '/root/.kube/config'])).toMatchObject({
      ok: true,
      value: { kube: { kind: 'file' } },
    });
  });

  it('reads the injection webhook flags', () => {
    expect(
      parseFlags([
        '--in-cluster',
        '--injection-address',
        '0.0.0.0:15017',
        '--sidecar-image',
        'reg/sidecar:1',
      ]),
    ).toMatchObject({
      ok: true,
      value: { config: { injectionAddress: '0.0.0.0:15017', injection: { image: 'reg/sidecar:1' } } },
    });
    expect(parseFlags(['--config-dir', 'a', '--injection-address', 'off'])).toMatchObject({
      ok: true,
      value: { config: { injectionAddress: false } },
    });
  });

  it.each([
    [[], 'exactly one of --config-dir, --kubeconfig, --in-cluster'],
    [['--config-dir', 'a', '--in-cluster'], 'exactly one of'],
    [['--config-dir', 'a', '--xds-address', 'localhost'], '--xds-address: "localhost" is not host:port'],
    [['--config-dir', 'a', '--xds-address', '1.2.3.4:99999'], 'is not host:port'],
    [['--config-dir', 'a', '--admin-address', 'off'], '--admin-address cannot be off'],
    [['--config-dir', 'a', '--xds-address', 'off', '--xds-tls-address', 'off'], 'both xDS ports are off'],
    [['--config-dir', 'a', '--injection-address', '15017'], '--injection-address: "15017" is not host:port'],
    [['--config-dir', 'a', '--log-level', 'loud'], '--log-level: "loud"'],
    [['--config-dir', 'a', '--trust-domain', 'Bad Domain'], '--trust-domain'],
    [['--in-cluster', '--anonymous-xds'], '--anonymous-xds is for local mode only'],
    [['--config-dir', 'a', '--bogus'], 'bogus'],
    [['--config-dir', 'a', 'extra'], 'unexpected argument "extra"'],
  ])('%j is refused', (argv, error) => {
    const r = parseFlags(argv);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('answers --help', () => {
    expect(parseFlags(['--help'])).toEqual({ ok: true, help: true });
  });
});

describe('SnapshotPublisher', () => {
  it('encodes only what changed and removes what went away, in one cache batch', () => {
    const cache = new ResourceCache();
    const publisher = new SnapshotPublisher(cache);
    let batches = 0;
    cache.onChange(() => batches++);
    const base = meshFixture();
    const first = publisher.publish(compile(base).snapshot);
    expect(first.encoded).toBe(first.upserted);
    expect(cache.size(WEFT_TYPE_URL.workload)).toBe(5);
    expect(batches).toBe(1);

    // The same objects again: nothing to encode, no batch.
    expect(publisher.publish(compile(base).snapshot)).toMatchObject({
      encoded: 0,
      upserted: 0,
      removed: 0,
      changed: 0,
    });
    expect(batches).toBe(1);

    // One new policy selecting db: the policy, plus the one workload whose policy keys changed.
    const policy = authorizationPolicy('db-deny', {
      namespace: 'shop',
      action: 'DENY',
      selector: { app: 'db' },
      rules: [{}],
    });
    const added = publisher.publish(compile([...base, policy]).snapshot);
    expect(added).toMatchObject({ encoded: 2, upserted: 2, removed: 0 });
    expect(cache.get(WEFT_TYPE_URL.authorization, 'shop/db-deny')).toBeDefined();
    expect(batches).toBe(2);

    const removed = publisher.publish(compile(base).snapshot);
    expect(removed).toMatchObject({ encoded: 1, removed: 1 });
    expect(cache.get(WEFT_TYPE_URL.authorization, 'shop/db-deny')).toBeUndefined();
  });

  it('nodePolicyKeys: the policies of the workloads on a node', () => {
    const policy = authorizationPolicy('web-only', {
      namespace: 'shop',
      selector: { app: 'web', version: 'v2' },
    });
    const { snapshot } = compile([...meshFixture(), policy]);
    expect(nodePolicyKeys(snapshot, 'node-b')).toEqual(['shop/web-only']);
    expect(nodePolicyKeys(snapshot, 'node-a')).toEqual([]);
    expect(nodePolicyKeys(snapshot, 'nowhere')).toEqual([]);
  });
});

/** A source the test drives by hand. */
class HandSource implements ConfigSource {
  readonly name = 'hand';
  listener: SourceListener | undefined;
  async start(listener: SourceListener): Promise<void> {
    this.listener = listener;
  }
  async stop(): Promise<void> {}
  status(): SourceStatus {
    return { source: this.name, phase: 'synced', synced: true, objects: 0, resources: [] };
  }
  counters(): SourceCounters {
    return {
      batches: 0,
      changes: 0,
      errors: {} as SourceCounters['errors'],
      lists: 0,
      watches: 0,
      filesRead: 0,
      rescans: 0,
    };
  }
  put(...objects: unknown[]): void {
    const changes = objects.map((o) => ({
      type: 'update' as const,
      key: objectKey(o as KubeObject),
      object: o as KubeObject,
    }));
    this.listener?.({ type: 'changes', batch: { source: this.name, changes } });
  }
}

describe('CompileLoop', () => {
  function setup() {
    const clock = createManualClock();
    const source = new HandSource();
    const logger = captureLogger();
    const snapshots: string[] = [];
    const rejected: RejectedObject[] = [];
    const loop = new CompileLoop({
      sources: [source],
      clock,
      debounceMs: 50,
      maxDelayMs: 200,
      logger,
      events: { snapshot: (c) => snapshots.push(c.snapshot.version), rejected: (r) => rejected.push(r) },
    });
    return { clock, source, logger, snapshots, rejected, loop };
  }

  it('waits for the initial sync, then batches a burst into one compile', async () => {
    const { clock, source, snapshots, loop } = setup();
    await loop.start();
    source.put(...meshFixture());
    clock.advance(1000);
    expect(snapshots).toHaveLength(0); // not synced yet: no partial snapshot
    source.listener?.({ type: 'synced' });
    clock.advance(49);
    expect(snapshots).toHaveLength(0);
    clock.advance(1);
    expect(snapshots).toHaveLength(1);
    // A burst: each change 30 ms after the last; the max delay (200 ms) still compiles.
    for (let i = 0; i < 10; i++) {
      source.put(authorizationPolicy(`p${i}`, { namespace: 'shop' }));
      clock.advance(30);
    }
    expect(snapshots).toHaveLength(2);
    clock.advance(50);
    expect(snapshots).toHaveLength(3);
    expect(loop.current?.snapshot.authorizationPolicies['shop/p9']).toBeDefined();
  });

  it('reports a rejection once, names the field, and keeps the last valid version', async () => {
    const { clock, source, logger, rejected, loop } = setup();
    await loop.start();
    source.listener?.({ type: 'synced' });
    const good = authorizationPolicy('deny-db', {
      namespace: 'shop',
      action: 'DENY',
      selector: { app: 'db' },
      rules: [{}],
    });
    source.put(...meshFixture(), good);
    clock.advance(100);
    const bad = { ...good, spec: { ...(good.spec as object), action: 'MAYBE' } };
    source.put(bad);
    clock.advance(100);
    source.put(bad); // the same bad version again (a rescan)
    source.put(authorizationPolicy('other', { namespace: 'shop' })); // another recompile
    clock.advance(100);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ field: 'spec.action', servingLastValid: true, name: 'deny-db' });
    expect(logger.records.filter((r) => r.msg === 'config object rejected')).toHaveLength(1);
    expect(loop.current?.snapshot.authorizationPolicies['shop/deny-db']?.action).toBe('DENY');
    expect(loop.status().rejected.map((r) => r.name)).toEqual(['deny-db']);
    // The compile log counts objects refused on arrival, not only what compile itself refused.
    const compiledLines = logger.records.filter((r) => r.msg === 'compiled');
    expect(compiledLines.at(-1)?.fields).toMatchObject({ rejected: 1 });
    // Fixed: accepted again, no longer listed.
    source.put({ ...good, spec: { ...(good.spec as object), action: 'AUDIT' } });
    clock.advance(100);
    expect(loop.status().rejected).toEqual([]);
    expect(loop.current?.snapshot.authorizationPolicies['shop/deny-db']?.action).toBe('AUDIT');
  });

  it('a new object that is invalid never compiles; kinds the mesh does not read are listed as ignored', async () => {
    const { clock, source, rejected, loop } = setup();
    await loop.start();
    source.listener?.({ type: 'synced' });
    source.put(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'shop' },
        spec: { containers: 'x' },
      },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'shop' }, data: {} },
    );
    clock.advance(100);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.servingLastValid).toBe(false);
    expect(rejected[0]?.field).toContain('spec.containers');
    expect(loop.status().ignored.map((i) => i.key)).toEqual(['/ConfigMap/shop/cm']);
    expect(Object.keys(loop.current?.snapshot.workloads ?? {})).toEqual([]);
  });
});
