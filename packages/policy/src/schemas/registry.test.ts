import { describe, expect, it } from 'vitest';
import { formatValidationError } from '../errors.ts';
import { jsonSchemas, MESH_KINDS, validateObject } from './registry.ts';

const ap = (spec: unknown, name = 'p') => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: 'ns1' },
  spec,
});

function errorOf(raw: unknown) {
  const r = validateObject(raw);
  if (r.ok) throw new Error('expected a validation error');
  return r.error;
}

describe('validateObject', () => {
  it('accepts a full AuthorizationPolicy', () => {
    const r = validateObject(
      ap({
        selector: { matchLabels: { app: 'web' } },
        action: 'ALLOW',
        rules: [
          {
            from: [
              {
                source: {
                  principals: ['cluster.local/ns/a/sa/b'],
                  ipBlocks: ['10.0.0.0/8', '2001:db8::/32'],
                },
              },
            ],
            to: [{ operation: { methods: ['GET'], paths: ['/api/*'], ports: ['8080'] } }],
            when: [{ key: 'request.headers[x-user]', values: ['alice'] }],
          },
        ],
      }),
    );
    expect(r.ok).toBe(true);
  });

  it('names the object and the exact field path', () => {
    const e = errorOf(ap({ rules: [{ to: [{ operation: { paths: ['/ok', 'bad*path'] } }] }] }, 'deny-admin'));
    expect(e).toMatchObject({
      code: 'invalid',
      kind: 'AuthorizationPolicy',
      namespace: 'ns1',
      name: 'deny-admin',
      path: 'spec.rules[0].to[0].operation.paths[1]',
    });
    expect(formatValidationError(e)).toMatch(
      /^AuthorizationPolicy ns1\/deny-admin: spec\.rules\[0\]\.to\[0\]\.operation\.paths\[1\]: /,
    );
  });

  const invalid: [string, unknown, string, RegExp][] = [
    [
      'CUSTOM action',
      ap({ action: 'CUSTOM', provider: { name: 'x' } }),
      'spec.action',
      /CUSTOM is not supported/,
    ],
    [
      'misspelt field',
      ap({ rules: [{ to: [{ operation: { path: ['/admin'] } }] }] }),
      'spec.rules[0].to[0].operation.path',
      /unknown field "path"/,
    ],
    [
      'bad CIDR',
      ap({ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] }] }),
      'spec.rules[0].from[0].source.ipBlocks[0]',
      /not an IP address or CIDR/,
    ],
    [
      'octal-looking IP',
      ap({ rules: [{ from: [{ source: { ipBlocks: ['010.0.0.1'] } }] }] }),
      'spec.rules[0].from[0].source.ipBlocks[0]',
      /not an IP/,
    ],
    [
      'unknown when key',
      ap({ rules: [{ when: [{ key: 'request.foo', values: ['x'] }] }] }),
      'spec.rules[0].when[0].key',
      /unknown condition key/,
    ],
    [
      'when without values',
      ap({ rules: [{ when: [{ key: 'source.ip' }] }] }),
      'spec.rules[0].when[0]',
      /values or notValues/,
    ],
    [
      'bad port',
      ap({ rules: [{ to: [{ operation: { ports: ['70000'] } }] }] }),
      'spec.rules[0].to[0].operation.ports[0]',
      /1\.\.65535/,
    ],
    [
      'selector plus targetRefs',
      ap({ selector: { matchLabels: { a: 'b' } }, targetRefs: [{ kind: 'Service', group: '', name: 's' }] }),
      'spec.selector',
      /mutually exclusive/,
    ],
    [
      'targetRef kind',
      ap({ targetRefs: [{ kind: 'ServiceEntry', group: 'networking.istio.io', name: 's' }] }),
      'spec.targetRefs[0].kind',
      /not supported/,
    ],
    [
      'empty source',
      ap({ rules: [{ from: [{ source: {} }] }] }),
      'spec.rules[0].from[0].source',
      /at least one field/,
    ],
    [
      'path not absolute',
      ap({ rules: [{ to: [{ operation: { paths: ['admin'] } }] }] }),
      'spec.rules[0].to[0].operation.paths[0]',
      /must start with/,
    ],
  ];
  it.each(invalid)('rejects %s', (_label, raw, path, message) => {
    const e = errorOf(raw);
    expect(e.path).toBe(path);
    expect(e.message).toMatch(message);
  });

  it('reports unknown kinds without failing', () => {
    const e = errorOf({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'x' } });
    expect(e.code).toBe('unknown-kind');
    expect(e.kind).toBe('Deployment');
  });

  it('rejects non-objects and missing kind', () => {
    expect(errorOf(42).code).toBe('invalid');
    expect(errorOf({ metadata: { name: 'x' } }).path).toBe('apiVersion');
    expect(errorOf(null).code).toBe('invalid');
  });

  it('rejects bad metadata', () => {
    const e = errorOf({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'Bad_Name', namespace: 'a' } });
    expect(e.path).toBe('metadata.name');
  });

  it('accepts Date timestamps as the Kubernetes client delivers them', () => {
    const r = validateObject({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'a', creationTimestamp: new Date('2024-01-02T03:04:05Z') },
    });
    expect(r.ok && r.object.metadata.creationTimestamp).toBe('2024-01-02T03:04:05Z');
  });

  it('rejects cyclic input instead of crashing', () => {
    const o: Record<string, unknown> = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } };
    o.self = o;
    expect(errorOf(o).message).toMatch(/cyclic/);
  });

  it('validates Service targetPort as number or name', () => {
    const svc = (targetPort: unknown) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'a' },
      spec: { ports: [{ port: 80, targetPort }] },
    });
    expect(validateObject(svc(8080)).ok).toBe(true);
    expect(validateObject(svc('http')).ok).toBe(true);
    expect(errorOf(svc(true)).path).toBe('spec.ports[0].targetPort');
    expect(errorOf(svc(0)).path).toBe('spec.ports[0].targetPort');
  });

  it('rejects PeerAuthentication port settings without a selector', () => {
    const e = errorOf({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'p', namespace: 'a' },
      spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } },
    });
    expect(e.path).toBe('spec.portLevelMtls');
  });

  it('rejects unsupported route features with a clear message', () => {
    const e = errorOf({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'v', namespace: 'a' },
      spec: { hosts: ['r'], tcp: [{ route: [] }] },
    });
    expect(e.path).toBe('spec.tcp');
    expect(e.message).toMatch(/use a TCPRoute/);
  });

  it('checks HTTPRoute filters and durations', () => {
    const route = (rule: unknown) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'r', namespace: 'a' },
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 's' }], rules: [rule] },
    });
    expect(
      validateObject(route({ timeouts: { request: '1.5s' }, backendRefs: [{ name: 's', port: 80 }] })).ok,
    ).toBe(true);
    expect(errorOf(route({ timeouts: { request: '1.5' } })).path).toBe('spec.rules[0].timeouts.request');
    expect(errorOf(route({ filters: [{ type: 'URLRewrite' }] })).path).toBe(
      'spec.rules[0].filters[0].urlRewrite',
    );
    expect(errorOf(route({ filters: [{ type: 'ExtensionRef', extensionRef: {} }] })).message).toMatch(
      /not supported/,
    );
    expect(errorOf(route({ matches: [{ path: { type: 'PathPrefix', value: '/a/../b' } }] })).path).toBe(
      'spec.rules[0].matches[0].path.value',
    );
    expect(
      errorOf(route({ matches: [{ path: { type: 'RegularExpression', value: '(?=x)' } }] })).message,
    ).toMatch(/look-around/);
  });

  it('requires weights when a VirtualService splits traffic', () => {
    const e = errorOf({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'v', namespace: 'a' },
      spec: {
        hosts: ['r'],
        http: [{ route: [{ destination: { host: 'a' } }, { destination: { host: 'b' }, weight: 10 }] }],
      },
    });
    expect(e.path).toBe('spec.http[0].route[0].weight');
  });

  it('collects every issue of an object', () => {
    const e = errorOf(ap({ rules: [{ to: [{ operation: { paths: ['x'], ports: ['0'] } }] }] }));
    expect(e.issues.length).toBeGreaterThanOrEqual(2);
  });
});

describe('jsonSchemas', () => {
  it('produces one JSON Schema per kind from the same source', () => {
    const schemas = jsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...MESH_KINDS].sort());
    const authz = schemas.AuthorizationPolicy as { properties: Record<string, unknown> };
    expect(authz.properties.spec).toBeDefined();
    expect(JSON.stringify(authz)).toContain('"ALLOW"');
    expect(JSON.stringify(authz)).not.toContain('CUSTOM');
  });

  it('publishes strict mesh specs (unknown fields rejected) and loose core objects', () => {
    const schemas = jsonSchemas();
    const spec = (schemas.AuthorizationPolicy as { properties: { spec: { additionalProperties?: unknown } } })
      .properties.spec;
    expect(spec.additionalProperties).toBe(false);
    const podSpec = (schemas.Pod as { properties: { spec: { additionalProperties?: unknown } } }).properties
      .spec;
    expect(podSpec.additionalProperties).not.toBe(false);
  });

  it('can target OpenAPI 3.0 for CRD manifests', () => {
    const schemas = jsonSchemas({ target: 'openapi-3.0' });
    expect(schemas.HTTPRoute).toBeDefined();
  });
});
