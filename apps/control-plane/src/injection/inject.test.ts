import { describe, expect, it } from 'vitest';
import {
  DATAPLANE_MODE_LABEL,
  inject,
  type JsonPatchOperation,
  PROXY_UID,
  SIDECAR_CONTAINER,
  sidecarContainer,
  TOKEN_VOLUME,
} from './inject.ts';

type Obj = Record<string, unknown>;

/** RFC 6902 `add` (all inject emits), applied to a deep copy: what the API server would do. */
function applyPatch(doc: unknown, patch: readonly JsonPatchOperation[]): unknown {
  const root = structuredClone(doc) as Obj;
  for (const op of patch) {
    expect(op.op).toBe('add');
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() as string;
    let parent: unknown = root;
    for (const p of parts) {
      parent = (parent as Obj)[p];
      expect(parent, `${op.path}: parent ${p} missing`).toBeTypeOf('object');
    }
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(op.value);
      else parent.splice(Number(last), 0, op.value);
    } else {
      (parent as Obj)[last] = op.value;
    }
  }
  return root;
}

function podSpec(extra: Obj = {}): Obj {
  return { containers: [{ name: 'app', image: 'app:1' }], ...extra };
}

function pod(metadata: Obj = { name: 'web', namespace: 'demo' }, spec: Obj = podSpec()): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

function workload(kind: string, template: Obj): Obj {
  const apiVersion = kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
  const spec =
    kind === 'CronJob' ? { schedule: '* * * * *', jobTemplate: { spec: { template } } } : { template };
  return { apiVersion, kind, metadata: { name: 'web', namespace: 'demo' }, spec };
}

function templateOf(o: Obj): Obj {
  if (o.kind === 'Pod') return o;
  const spec = o.spec as Obj;
  if (o.kind === 'CronJob') return ((spec.jobTemplate as Obj).spec as Obj).template as Obj;
  return spec.template as Obj;
}

describe('inject', () => {
  it.each([
    { name: 'a bare Pod', input: pod(), prefix: '' },
    {
      name: 'a Pod with labels, init containers and volumes',
      input: pod(
        { name: 'web', labels: { app: 'web' } },
        podSpec({ initContainers: [{ name: 'migrate' }], volumes: [{ name: 'data', emptyDir: {} }] }),
      ),
      prefix: '',
    },
    { name: 'a Pod without metadata', input: { apiVersion: 'v1', kind: 'Pod', spec: podSpec() }, prefix: '' },
    {
      name: 'a Pod already labelled sidecar',
      input: pod({ name: 'web', labels: { [DATAPLANE_MODE_LABEL]: 'sidecar' } }),
      prefix: '',
    },
    ...['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].map((kind) => ({
      name: `a ${kind}`,
      input: workload(kind, { metadata: { labels: { app: 'web' } }, spec: podSpec() }),
      prefix: '/spec/template',
    })),
    {
      name: 'a CronJob',
      input: workload('CronJob', { spec: podSpec({ restartPolicy: 'OnFailure' }) }),
      prefix: '/spec/jobTemplate/spec/template',
    },
  ])('injects $name; the patch gives the same object', ({ input, prefix }) => {
    const before = structuredClone(input);
    const r = inject(input);
    expect(r.ok && r.injected).toBe(true);
    if (!r.ok || !r.injected) return;
    expect(input).toEqual(before); // the input is left alone
    expect(applyPatch(input, r.patch)).toEqual(r.object);
    for (const op of r.patch) expect(op.path.startsWith(`${prefix}/`)).toBe(true);

    const t = templateOf(r.object);
    const spec = t.spec as { initContainers: Obj[]; containers: Obj[]; volumes: Obj[] };
    expect(spec.initContainers[0]?.name).toBe(SIDECAR_CONTAINER);
    expect(spec.initContainers[0]?.restartPolicy).toBe('Always');
    expect(spec.containers).toEqual((templateOf(input).spec as Obj).containers);
    expect(spec.volumes.at(-1)?.name).toBe(TOKEN_VOLUME);
    expect((t.metadata as { labels: Obj }).labels[DATAPLANE_MODE_LABEL]).toBe('sidecar');
  });

  it('keeps existing init containers after the proxy, and existing labels', () => {
    const r = inject(
      pod({ name: 'web', labels: { app: 'web' } }, podSpec({ initContainers: [{ name: 'migrate' }] })),
    );
    if (!r.ok || !r.injected) throw new Error('not injected');
    const spec = r.object.spec as { initContainers: Obj[] };
    expect(spec.initContainers.map((c) => c.name)).toEqual([SIDECAR_CONTAINER, 'migrate']);
    expect((r.object.metadata as Obj).labels).toEqual({ app: 'web', [DATAPLANE_MODE_LABEL]: 'sidecar' });
    expect(r.patch.map((p) => p.path)).toEqual([
      '/metadata/labels/weft.dev~1dataplane-mode',
      '/spec/initContainers/0',
      '/spec/volumes',
    ]);
  });

  it('builds the proxy container from the options, as uid 1337 with the design ports', () => {
    const c = sidecarContainer({
      image: 'registry.local/weft/sidecar:1.2.3',
      args: ['--log-level', 'debug'],
      resources: { requests: { cpu: '50m' } },
    }) as {
      image: string;
      args: string[];
      resources: Obj;
      ports: { containerPort: number }[];
      env: { name: string; value?: string }[];
      securityContext: Obj;
      startupProbe: { httpGet: { port: number } };
      readinessProbe: { httpGet: { port: number; path: string } };
      volumeMounts: Obj[];
    };
    expect(c.image).toBe('registry.local/weft/sidecar:1.2.3');
    expect(c.args).toEqual(['--log-level', 'debug']);
    expect(c.resources).toEqual({ requests: { cpu: '50m' } });
    expect(c.securityContext).toMatchObject({
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
    });
    expect(c.ports.map((p) => p.containerPort)).toEqual([15008, 15020, 15021]);
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect([
      env.WEFT_OUTBOUND_PORT,
      env.WEFT_INBOUND_PORT,
      env.WEFT_HBONE_PORT,
      env.WEFT_ADMIN_PORT,
      env.WEFT_METRICS_PORT,
      env.WEFT_READINESS_PORT,
    ]).toEqual(['15001', '15006', '15008', '15000', '15020', '15021']);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });
    expect(c.startupProbe.httpGet.port).toBe(15021);
    expect(c.volumeMounts).toEqual([
      { name: TOKEN_VOLUME, mountPath: '/var/run/secrets/weft/tokens', readOnly: true },
    ]);
    const moved = sidecarContainer({ ports: { readiness: 16021 } }) as {
      readinessProbe: { httpGet: { port: number } };
    };
    expect(moved.readinessProbe.httpGet.port).toBe(16021);
  });

  it('mounts a projected token with the audience weftd checks', () => {
    const r = inject(pod(), { tokenAudience: 'weft-ca-test' });
    if (!r.ok || !r.injected) throw new Error('not injected');
    expect((r.object.spec as { volumes: Obj[] }).volumes).toEqual([
      {
        name: TOKEN_VOLUME,
        projected: {
          sources: [
            {
              serviceAccountToken: { audience: 'weft-ca-test', expirationSeconds: 3600, path: 'weft-token' },
            },
          ],
        },
      },
    ]);
  });

  it.each([
    {
      name: 'label weft.dev/inject=false',
      input: pod({ name: 'w', labels: { 'weft.dev/inject': 'false' } }),
      why: 'opted out: label weft.dev/inject=false',
    },
    {
      name: 'annotation weft.dev/inject=false',
      input: pod({ name: 'w', annotations: { 'weft.dev/inject': 'false' } }),
      why: 'opted out: annotation weft.dev/inject=false',
    },
    {
      name: 'another data-plane mode',
      input: pod({ name: 'w', labels: { [DATAPLANE_MODE_LABEL]: 'ambient' } }),
      why: 'opted out: label weft.dev/dataplane-mode=ambient',
    },
    { name: 'hostNetwork', input: pod(undefined, podSpec({ hostNetwork: true })), why: 'hostNetwork' },
    {
      name: 'already injected (init container)',
      input: pod(undefined, podSpec({ initContainers: [{ name: SIDECAR_CONTAINER }] })),
      why: 'already injected',
    },
    {
      name: 'already injected (a regular container)',
      input: pod(undefined, { containers: [{ name: 'app' }, { name: SIDECAR_CONTAINER }] }),
      why: 'already injected',
    },
    {
      name: 'a Deployment whose template opts out',
      input: workload('Deployment', {
        metadata: { labels: { 'weft.dev/inject': 'false' } },
        spec: podSpec(),
      }),
      why: 'opted out',
    },
  ])('leaves alone $name', ({ input, why }) => {
    const r = inject(input);
    expect(r).toMatchObject({ ok: true, injected: false, patch: [] });
    if (r.ok && !r.injected) expect(r.reason).toContain(why);
    if (r.ok) expect(r.object).toBe(input);
  });

  it('injecting twice is injecting once', () => {
    const once = inject(pod());
    if (!once.ok || !once.injected) throw new Error('not injected');
    expect(inject(once.object)).toMatchObject({ ok: true, injected: false });
  });

  it.each([
    { input: null, error: 'not a JSON object' },
    { input: [], error: 'not a JSON object' },
    { input: 'Pod', error: 'not a JSON object' },
    { input: {}, error: 'kind: missing' },
    { input: { kind: 'Service', spec: {} }, error: 'kind: Service is not one of Pod, Deployment' },
    { input: { kind: 'Pod' }, error: 'spec: missing or not an object' },
    { input: { kind: 'Pod', spec: {} }, error: 'spec.containers: missing or empty' },
    { input: { kind: 'Pod', spec: { containers: 'app' } }, error: 'spec.containers: not a list' },
    { input: { kind: 'Pod', spec: { containers: [{}] } }, error: 'spec.containers[0].name: missing' },
    { input: { kind: 'Pod', metadata: 'x', spec: podSpec() }, error: 'metadata: not an object' },
    {
      input: { kind: 'Pod', metadata: { labels: { a: 1 } }, spec: podSpec() },
      error: 'metadata.labels.a: not a string',
    },
    {
      input: { kind: 'Pod', metadata: { annotations: [] }, spec: podSpec() },
      error: 'metadata.annotations: not an object',
    },
    {
      input: { kind: 'Pod', spec: podSpec({ initContainers: {} }) },
      error: 'spec.initContainers: not a list',
    },
    {
      input: { kind: 'Pod', spec: podSpec({ volumes: [{ name: TOKEN_VOLUME }] }) },
      error: 'a volume named weft-token already exists',
    },
    { input: { kind: 'Deployment', spec: {} }, error: 'spec.template: missing or not an object' },
    {
      input: { kind: 'Deployment', spec: { template: { spec: {} } } },
      error: 'spec.template.spec.containers: missing or empty',
    },
    {
      input: { kind: 'CronJob', spec: { jobTemplate: [] } },
      error: 'spec.jobTemplate: missing or not an object',
    },
  ])('refuses $input with an error naming the field', ({ input, error }) => {
    const r = inject(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('never throws on odd shapes', () => {
    const odd: unknown[] = [
      undefined,
      0,
      Object.create(null),
      { kind: 'Pod', metadata: null, spec: podSpec() },
      { kind: 'Pod', metadata: { labels: null }, spec: podSpec({ initContainers: null, volumes: null }) },
      { kind: 'Pod', spec: { containers: [null] } },
      { kind: '__proto__', spec: podSpec() },
      { kind: 'toString', spec: podSpec() },
      { kind: 'Pod', spec: podSpec({ volumes: [1] }) },
    ];
    for (const o of odd) expect(() => inject(o)).not.toThrow();
    const nulls = inject({
      kind: 'Pod',
      metadata: { labels: null },
      spec: podSpec({ initContainers: null, volumes: null }),
    });
    if (!nulls.ok || !nulls.injected) throw new Error('not injected');
    expect(
      applyPatch(
        { kind: 'Pod', metadata: { labels: null }, spec: podSpec({ initContainers: null, volumes: null }) },
        nulls.patch,
      ),
    ).toEqual(nulls.object);
  });
});
