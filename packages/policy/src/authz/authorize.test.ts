import { describe, expect, it } from 'vitest';
import { compile } from '../compile/compile.ts';
import { authorizationPolicy, compiledPolicies, meshFixture } from '../testing/index.ts';
import { authorize } from './authorize.ts';
import { policiesFor } from './select.ts';
import type { AuthzPolicy, AuthzRequest } from './types.ts';

const CLIENT = 'spiffe://cluster.local/ns/legacy/sa/client';
const ap = (name: string, action: 'ALLOW' | 'DENY' | 'AUDIT', rules?: unknown[]) =>
  authorizationPolicy(name, { namespace: 'shop', action, ...(rules ? { rules } : {}) });
const policies = (...objs: unknown[]): AuthzPolicy[] => compiledPolicies(objs);

describe('authorize: decision order', () => {
  const req: AuthzRequest = {
    sourcePrincipal: CLIENT,
    sourceIp: '10.2.0.5',
    destinationPort: 8080,
    method: 'GET',
    path: '/',
  };
  const table: [string, AuthzPolicy[], 'ALLOW' | 'DENY', string][] = [
    ['no policy allows', [], 'ALLOW', 'no-policy'],
    ['ALLOW with no rules allows nothing', policies(ap('nothing', 'ALLOW')), 'DENY', 'no-allow-match'],
    ['ALLOW with an empty rule allows all', policies(ap('all', 'ALLOW', [{}])), 'ALLOW', 'allowed'],
    ['DENY with no rules denies nothing', policies(ap('d', 'DENY')), 'ALLOW', 'no-policy'],
    ['DENY with an empty rule denies all', policies(ap('d', 'DENY', [{}])), 'DENY', 'denied'],
    ['DENY wins over ALLOW', policies(ap('a', 'ALLOW', [{}]), ap('d', 'DENY', [{}])), 'DENY', 'denied'],
    ['AUDIT never decides', policies(ap('audit', 'AUDIT', [{}])), 'ALLOW', 'no-policy'],
    [
      'unmatched ALLOW denies even with other ALLOWs present',
      policies(
        ap('a1', 'ALLOW', [{ from: [{ source: { namespaces: ['other'] } }] }]),
        ap('a2', 'ALLOW', [{ to: [{ operation: { ports: ['9'] } }] }]),
      ),
      'DENY',
      'no-allow-match',
    ],
    [
      'second ALLOW policy can allow',
      policies(
        ap('a1', 'ALLOW', [{ from: [{ source: { namespaces: ['other'] } }] }]),
        ap('a2', 'ALLOW', [{ from: [{ source: { namespaces: ['legacy'] } }] }]),
      ),
      'ALLOW',
      'allowed',
    ],
  ];
  it.each(table)('%s', (_name, ps, action, code) => {
    expect(authorize(ps, req)).toMatchObject({ action, code });
  });

  it('names the deciding policy and rule, and reports AUDIT matches', () => {
    const d = authorize(
      policies(
        ap('audit', 'AUDIT', [{ to: [{ operation: { ports: ['1'] } }] }, {}]),
        ap('allow', 'ALLOW', [
          { to: [{ operation: { methods: ['POST'] } }] },
          { to: [{ operation: { methods: ['GET'] } }] },
        ]),
      ),
      req,
    );
    expect(d).toMatchObject({
      action: 'ALLOW',
      policy: 'shop/allow',
      rule: 1,
      audit: [{ policy: 'shop/audit', rule: 1 }],
    });
    expect(d.reason).toBe('allowed by ALLOW policy shop/allow rule 1');
  });

  it('does not depend on policy order', () => {
    const ps = policies(
      ap('a', 'ALLOW', [{}]),
      ap('b', 'DENY', [{ to: [{ operation: { paths: ['/x'] } }] }]),
      ap('c', 'DENY', [{ to: [{ operation: { ports: ['8080'] } }] }]),
    );
    expect(authorize(ps, req)).toEqual(authorize([...ps].reverse(), req));
    expect(authorize(ps, req).policy).toBe('shop/c');
  });

  it('fails closed on an action it does not support', () => {
    const custom = { ...policies(ap('a', 'ALLOW', [{}]))[0], action: 'CUSTOM' } as unknown as AuthzPolicy;
    expect(authorize([custom], req)).toMatchObject({ action: 'DENY', code: 'denied' });
  });
});

describe('authorize: sources', () => {
  const allowFrom = (source: unknown) => policies(ap('a', 'ALLOW', [{ from: [{ source }] }]));
  const table: [string, unknown, AuthzRequest, boolean][] = [
    [
      'exact principal',
      { principals: ['cluster.local/ns/legacy/sa/client'] },
      { sourcePrincipal: CLIENT },
      true,
    ],
    ['principal with spiffe:// in policy', { principals: [CLIENT] }, { sourcePrincipal: CLIENT }, true],
    [
      'other principal',
      { principals: ['cluster.local/ns/legacy/sa/other'] },
      { sourcePrincipal: CLIENT },
      false,
    ],
    ['principal prefix', { principals: ['cluster.local/ns/legacy/*'] }, { sourcePrincipal: CLIENT }, true],
    ['principal suffix', { principals: ['*/sa/client'] }, { sourcePrincipal: CLIENT }, true],
    ['presence needs an identity', { principals: ['*'] }, { sourceIp: '10.0.0.1' }, false],
    ['presence with identity', { principals: ['*'] }, { sourcePrincipal: CLIENT }, true],
    ['notPrincipals excludes', { notPrincipals: ['*/sa/client'] }, { sourcePrincipal: CLIENT }, false],
    ['notPrincipals passes plaintext', { notPrincipals: ['*/sa/client'] }, {}, true],
    ['namespace from principal', { namespaces: ['legacy'] }, { sourcePrincipal: CLIENT }, true],
    [
      'principal beats a claimed namespace',
      { namespaces: ['shop'] },
      { sourcePrincipal: CLIENT, sourceNamespace: 'shop' },
      false,
    ],
    [
      'no namespace from a non-workload SPIFFE path',
      { namespaces: ['kube-system'] },
      { sourcePrincipal: 'spiffe://other.td/x/ns/kube-system/sa/y', sourceNamespace: 'kube-system' },
      false,
    ],
    ['namespace prefix', { namespaces: ['leg*'] }, { sourcePrincipal: CLIENT }, true],
    ['notNamespaces', { notNamespaces: ['legacy'] }, { sourcePrincipal: CLIENT }, false],
    ['IPv4 block', { ipBlocks: ['10.2.0.0/16'] }, { sourceIp: '10.2.0.5' }, true],
    ['IPv4 outside', { ipBlocks: ['10.3.0.0/16'] }, { sourceIp: '10.2.0.5' }, false],
    ['IPv4-mapped peer', { ipBlocks: ['10.2.0.0/16'] }, { sourceIp: '::ffff:10.2.0.5' }, true],
    ['IPv6 block', { ipBlocks: ['fd00:10::/32'] }, { sourceIp: 'fd00:10:0:1::5' }, true],
    ['IPv6 outside', { ipBlocks: ['fd00:10::/32'] }, { sourceIp: 'fd00:11::5' }, false],
    ['IPv6 block vs IPv4 peer', { ipBlocks: ['::/0'] }, { sourceIp: '10.0.0.1' }, false],
    ['single IPv6 address', { ipBlocks: ['2001:db8::1'] }, { sourceIp: '2001:DB8:0::1' }, true],
    ['notIpBlocks', { notIpBlocks: ['10.2.0.0/16'] }, { sourceIp: '10.2.0.5' }, false],
    ['no source ip never in a block', { ipBlocks: ['0.0.0.0/0'] }, {}, false],
    [
      'remoteIpBlocks uses the forwarded client',
      { remoteIpBlocks: ['203.0.113.0/24'] },
      { sourceIp: '10.0.0.1', remoteIp: '203.0.113.9' },
      true,
    ],
    [
      'remoteIpBlocks falls back to the peer',
      { remoteIpBlocks: ['10.0.0.0/8'] },
      { sourceIp: '10.0.0.1' },
      true,
    ],
    [
      'request principal',
      { requestPrincipals: ['https://issuer/*'] },
      { requestPrincipal: 'https://issuer/alice' },
      true,
    ],
    ['request principal absent', { requestPrincipals: ['*'] }, {}, false],
  ];
  it.each(table)('%s', (_name, source, request, allowed) => {
    expect(authorize(allowFrom(source), request).action).toBe(allowed ? 'ALLOW' : 'DENY');
  });
});

describe('authorize: operations and path bypasses', () => {
  const denyAdmin = policies(
    ap('deny-admin', 'DENY', [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }]),
  );
  const allowPublic = policies(
    ap('allow-public', 'ALLOW', [{ to: [{ operation: { paths: ['/public', '/public/*'] } }] }]),
  );
  const table: [string, AuthzPolicy[], string, 'ALLOW' | 'DENY', string][] = [
    ['plain /admin', denyAdmin, '/admin', 'DENY', 'denied'],
    ['dot-segment /public/../admin', denyAdmin, '/public/../admin', 'DENY', 'denied'],
    ['double slash //admin', denyAdmin, '//admin', 'DENY', 'denied'],
    ['double slash inside /admin//x', denyAdmin, '/admin//x', 'DENY', 'denied'],
    ['encoded dots %2e%2e', denyAdmin, '/public/%2e%2e/admin', 'DENY', 'denied'],
    ['encoded letters /%61dmin', denyAdmin, '/%61dmin', 'DENY', 'denied'],
    ['encoded slash /admin%2F is a bad request', denyAdmin, '/admin%2F', 'DENY', 'invalid-request'],
    ['encoded slash to dodge a prefix', denyAdmin, '/public%2F..%2Fadmin', 'DENY', 'invalid-request'],
    ['backslash', denyAdmin, '/public\\..\\admin', 'DENY', 'invalid-request'],
    ['NUL byte', denyAdmin, '/admin%00.png', 'DENY', 'invalid-request'],
    ['fragment is stripped', denyAdmin, '/admin#frag', 'DENY', 'denied'],
    ['query is not part of the path', denyAdmin, '/admin?x=1', 'DENY', 'denied'],
    ['other path is allowed', denyAdmin, '/adminx', 'ALLOW', 'no-policy'],
    // Paths are case-sensitive (as in Istio): a DENY list does not cover /ADMIN ...
    ['case differs from a DENY rule', denyAdmin, '/ADMIN', 'ALLOW', 'no-policy'],
    // ... which is why ALLOW lists are the safe pattern: /ADMIN is not in them.
    ['case differs from an ALLOW rule', allowPublic, '/PUBLIC', 'DENY', 'no-allow-match'],
    ['allow-list with dot-segment escape', allowPublic, '/public/../admin', 'DENY', 'no-allow-match'],
    ['allow-list with encoded escape', allowPublic, '/public/%2e%2e/admin', 'DENY', 'no-allow-match'],
    ['allow-list fragment trick', allowPublic, '/public#/../admin', 'ALLOW', 'allowed'],
    ['allow-list normal', allowPublic, '/public/x', 'ALLOW', 'allowed'],
  ];
  it.each(table)('%s: %s', (_name, ps, path, action, code) => {
    expect(authorize(ps, { method: 'GET', path, host: 'app.example' })).toMatchObject({ action, code });
  });

  it('decodes escaped slashes only when the proxy is configured to', () => {
    expect(
      authorize(denyAdmin, { path: '/public%2F..%2Fadmin' }, { path: { escapedSlashes: 'decode' } }),
    ).toMatchObject({ action: 'DENY', code: 'denied' });
  });

  it('matches hosts case-insensitively, with or without port', () => {
    const deny = policies(
      ap('deny-secret', 'DENY', [{ to: [{ operation: { hosts: ['secret.com', '*.internal'] } }] }]),
    );
    for (const host of ['secret.com', 'Secret.com', 'SECRET.COM:443', 'secret.com.', 'db.INTERNAL']) {
      expect(authorize(deny, { host, path: '/' }).action, host).toBe('DENY');
    }
    expect(authorize(deny, { host: 'public.com', path: '/' }).action).toBe('ALLOW');
    const withPort = policies(ap('p', 'ALLOW', [{ to: [{ operation: { hosts: ['api.com:8080'] } }] }]));
    expect(authorize(withPort, { host: 'API.com:8080' }).action).toBe('ALLOW');
    expect(authorize(withPort, { host: 'api.com:9090' }).action).toBe('DENY');
  });

  it('rejects malformed hosts', () => {
    expect(authorize([], { host: 'a b', path: '/' })).toMatchObject({
      action: 'DENY',
      code: 'invalid-request',
    });
  });

  it('matches methods, ports and negations', () => {
    const ps = policies(
      ap('a', 'ALLOW', [
        { to: [{ operation: { methods: ['GET', 'HEAD'], notPaths: ['/private*'], ports: ['8080'] } }] },
      ]),
    );
    const base = { destinationPort: 8080, path: '/x' };
    expect(authorize(ps, { ...base, method: 'GET' }).action).toBe('ALLOW');
    expect(authorize(ps, { ...base, method: 'get' }).action).toBe('DENY');
    expect(authorize(ps, { ...base, method: 'POST' }).action).toBe('DENY');
    expect(authorize(ps, { ...base, method: 'GET', path: '/private/a' }).action).toBe('DENY');
    expect(authorize(ps, { ...base, method: 'GET', destinationPort: 9090 }).action).toBe('DENY');
  });
});

describe('authorize: conditions', () => {
  const when = (action: 'ALLOW' | 'DENY', cond: unknown) => policies(ap('w', action, [{ when: [cond] }]));
  const table: [string, AuthzPolicy[], AuthzRequest, 'ALLOW' | 'DENY'][] = [
    [
      'header value',
      when('ALLOW', { key: 'request.headers[X-User]', values: ['alice'] }),
      { headers: { 'x-user': 'alice' } },
      'ALLOW',
    ],
    [
      'header name case',
      when('ALLOW', { key: 'request.headers[x-user]', values: ['alice'] }),
      { headers: { 'X-USER': 'alice' } },
      'ALLOW',
    ],
    [
      'header missing',
      when('ALLOW', { key: 'request.headers[x-user]', values: ['*'] }),
      { headers: {} },
      'DENY',
    ],
    [
      'header prefix',
      when('ALLOW', { key: 'request.headers[x-user]', values: ['ali*'] }),
      { headers: { 'x-user': 'alicia' } },
      'ALLOW',
    ],
    // repeated headers: DENY if any value (or the joined value) matches ...
    [
      'DENY sees any repeated value',
      when('DENY', { key: 'request.headers[x-role]', values: ['admin'] }),
      { headers: { 'x-role': ['guest', 'admin'] } },
      'DENY',
    ],
    [
      'DENY sees the joined value',
      when('DENY', { key: 'request.headers[x-role]', values: ['guest,admin'] }),
      { headers: { 'x-role': ['guest', 'admin'] } },
      'DENY',
    ],
    [
      'DENY notValues with a smuggled value',
      when('DENY', { key: 'request.headers[x-env]', notValues: ['trusted'] }),
      { headers: { 'x-env': ['trusted', 'evil'] } },
      'DENY',
    ],
    [
      'DENY notValues when absent',
      when('DENY', { key: 'request.headers[x-env]', notValues: ['trusted'] }),
      {},
      'DENY',
    ],
    [
      'DENY notValues when trusted',
      when('DENY', { key: 'request.headers[x-env]', notValues: ['trusted'] }),
      { headers: { 'x-env': 'trusted' } },
      'ALLOW',
    ],
    // ... and ALLOW only if every value matches.
    [
      'ALLOW needs every repeated value',
      when('ALLOW', { key: 'request.headers[x-role]', values: ['admin'] }),
      { headers: { 'x-role': ['admin', 'guest'] } },
      'DENY',
    ],
    [
      'ALLOW with consistent repeats',
      when('ALLOW', { key: 'request.headers[x-role]', values: ['admin'] }),
      { headers: { 'x-role': ['admin', 'admin'] } },
      'ALLOW',
    ],
    [
      'ALLOW notValues with a smuggled value',
      when('ALLOW', { key: 'request.headers[x-env]', notValues: ['prod'] }),
      { headers: { 'x-env': ['dev', 'prod'] } },
      'DENY',
    ],
    [
      'source.ip CIDR',
      when('ALLOW', { key: 'source.ip', values: ['10.0.0.0/8'] }),
      { sourceIp: '10.1.1.1' },
      'ALLOW',
    ],
    [
      'source.ip IPv6',
      when('ALLOW', { key: 'source.ip', values: ['fd00::/8'] }),
      { sourceIp: 'fd12::1' },
      'ALLOW',
    ],
    [
      'destination.port',
      when('ALLOW', { key: 'destination.port', values: ['8080'] }),
      { destinationPort: 8080 },
      'ALLOW',
    ],
    [
      'destination.port other',
      when('ALLOW', { key: 'destination.port', values: ['8080'] }),
      { destinationPort: 80 },
      'DENY',
    ],
    [
      'source.principal',
      when('ALLOW', { key: 'source.principal', values: ['cluster.local/ns/legacy/*'] }),
      { sourcePrincipal: CLIENT },
      'ALLOW',
    ],
    [
      'source.namespace',
      when('ALLOW', { key: 'source.namespace', notValues: ['legacy'] }),
      { sourcePrincipal: CLIENT },
      'DENY',
    ],
    [
      'connection.sni',
      when('ALLOW', { key: 'connection.sni', values: ['*.example.com'] }),
      { sni: 'api.example.com' },
      'ALLOW',
    ],
    [
      'jwt principal',
      when('ALLOW', { key: 'request.auth.principal', values: ['iss/alice'] }),
      { requestPrincipal: 'iss/alice' },
      'ALLOW',
    ],
    [
      'jwt audiences any',
      when('ALLOW', { key: 'request.auth.audiences', values: ['api'] }),
      { requestAudiences: ['web', 'api'] },
      'ALLOW',
    ],
    [
      'jwt claim list',
      when('ALLOW', { key: 'request.auth.claims[groups]', values: ['admins'] }),
      { requestClaims: { groups: ['dev', 'admins'] } },
      'ALLOW',
    ],
    [
      'jwt nested claim',
      when('ALLOW', { key: 'request.auth.claims[org][team]', values: ['infra'] }),
      { requestClaims: { org: { team: 'infra' } } },
      'ALLOW',
    ],
    [
      'jwt claim notValues',
      when('ALLOW', { key: 'request.auth.claims[groups]', notValues: ['banned'] }),
      { requestClaims: { groups: ['dev', 'banned'] } },
      'DENY',
    ],
    [
      'jwt claim absent',
      when('ALLOW', { key: 'request.auth.claims[groups]', values: ['*'] }),
      { requestClaims: {} },
      'DENY',
    ],
  ];
  it.each(table)('%s', (_name, ps, request, action) => {
    expect(authorize(ps, request).action).toBe(action);
  });
});

describe('authorize: L4 enforcement', () => {
  const l4 = { mode: 'L4' } as const;
  const req: AuthzRequest = {
    sourcePrincipal: CLIENT,
    sourceIp: '10.2.0.5',
    destinationPort: 8080,
    path: '/admin',
    method: 'GET',
  };

  it('never matches ALLOW rules that need L7 fields', () => {
    const ps = policies(ap('a', 'ALLOW', [{ to: [{ operation: { paths: ['/admin'] } }] }]));
    expect(authorize(ps, req)).toMatchObject({ action: 'ALLOW' });
    const d = authorize(ps, req, l4);
    expect(d).toMatchObject({ action: 'DENY', code: 'no-allow-match', l4Degraded: true });
    expect(d.reason).toMatch(/L4 enforcement/);
  });

  it('still matches L4-only ALLOW rules', () => {
    const ps = policies(
      ap('a', 'ALLOW', [
        { to: [{ operation: { paths: ['/admin'] } }] },
        { from: [{ source: { namespaces: ['legacy'] } }], to: [{ operation: { ports: ['8080'] } }] },
      ]),
    );
    expect(authorize(ps, req, l4)).toMatchObject({ action: 'ALLOW', rule: 1, l4Degraded: true });
  });

  it('enforces DENY rules without their L7 fields (stricter)', () => {
    const ps = policies(ap('d', 'DENY', [{ to: [{ operation: { ports: ['8080'], paths: ['/admin'] } }] }]));
    expect(authorize(ps, { ...req, path: '/public' })).toMatchObject({ action: 'ALLOW' });
    expect(authorize(ps, { ...req, path: '/public' }, l4)).toMatchObject({
      action: 'DENY',
      code: 'denied',
      l4Degraded: true,
    });
    expect(authorize(ps, { ...req, destinationPort: 9090 }, l4)).toMatchObject({ action: 'ALLOW' });
  });

  it('drops L7 conditions of DENY rules', () => {
    const ps = policies(
      ap('d', 'DENY', [
        {
          from: [{ source: { namespaces: ['legacy'] } }],
          when: [{ key: 'request.headers[x-debug]', values: ['1'] }],
        },
      ]),
    );
    expect(authorize(ps, req)).toMatchObject({ action: 'ALLOW' });
    expect(authorize(ps, req, l4)).toMatchObject({ action: 'DENY' });
  });

  it('ignores HTTP fields of the request and does not reject bad paths', () => {
    expect(authorize([], { ...req, path: '/%00' }, l4)).toMatchObject({ action: 'ALLOW', code: 'no-policy' });
  });
});

describe('policiesFor', () => {
  it('unions workload, service and waypoint policies', () => {
    const { snapshot } = compile([
      ...meshFixture(),
      authorizationPolicy('ns', { namespace: 'shop', rules: [{}] }),
      authorizationPolicy('svc', {
        namespace: 'shop',
        targetRefs: [{ kind: 'Service', name: 'web' }],
        rules: [{}],
      }),
      authorizationPolicy('gw', {
        namespace: 'shop',
        targetRefs: [{ kind: 'Gateway', name: 'waypoint' }],
        rules: [{}],
      }),
    ]);
    expect(policiesFor(snapshot, { workload: 'uid-shop-web-1' }).map((p) => p.key)).toEqual(['shop/ns']);
    expect(
      policiesFor(snapshot, { service: 'web.shop.svc.cluster.local', waypoint: 'shop/waypoint' }).map(
        (p) => p.key,
      ),
    ).toEqual(['shop/gw', 'shop/svc']);
    expect(policiesFor(snapshot, { workload: 'nope' })).toEqual([]);
  });
});

describe('authorize: parsed callers and addresses are remembered, never confused', () => {
  // More distinct callers and addresses than the remembered sets hold, so they are emptied and
  // refilled along the way; every decision must still be the one for its own request.
  const pol = policies(
    ap('a', 'ALLOW', [
      { from: [{ source: { namespaces: ['ns-7'] } }] },
      { from: [{ source: { ipBlocks: ['10.9.0.0/16'] } }] },
    ]),
  );
  const decide = (i: number) =>
    authorize(pol, {
      sourcePrincipal: `spiffe://cluster.local/ns/ns-${i % 10}/sa/sa-${i}`,
      sourceIp: `10.${i % 2 === 0 ? 9 : 8}.${(i >> 8) & 0xff}.${i & 0xff}`,
      method: 'GET',
      path: '/',
    }).action;
  const want = (i: number) => (i % 10 === 7 || i % 2 === 0 ? 'ALLOW' : 'DENY');

  it('10,000 callers, each decided on its own identity and address, twice', () => {
    const wrong: number[] = [];
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 10_000; i++) if (decide(i) !== want(i)) wrong.push(i);
    expect(wrong).toEqual([]);
  });

  it('an unparseable principal stays unparseable when asked again', () => {
    const bad = { sourcePrincipal: 'spiffe://cluster.local/not-a-workload', method: 'GET', path: '/' };
    const only7 = policies(ap('a', 'ALLOW', [{ from: [{ source: { namespaces: ['ns-7'] } }] }]));
    expect(authorize(only7, bad).action).toBe('DENY');
    expect(authorize(only7, bad).action).toBe('DENY');
  });
});
