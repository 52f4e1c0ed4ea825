// The proxyless inbound decision, table-driven: each row is decided by `decideInbound` and, for
// parity, must equal what `authorize()` says about the request a sidecar's L7 RBAC filter
// would build for the same call.
import { status } from '@grpc/grpc-js';
import { type AuthzPolicy, authorize } from '@weft/policy';
import { authorizationPolicy, compiledPolicies } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { buildAuthzRequest, DENIED_MESSAGE, decideInbound, type InboundCallFacts } from './decide.ts';

const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';
const OTHER = 'spiffe://cluster.local/ns/other/sa/intruder';
const ECHO = '/weft.test.Echo/Echo';
const ADMIN = '/weft.test.Echo/Admin';

const policies = {
  none: [] as AuthzPolicy[],
  denyAdmin: compiledPolicies([
    authorizationPolicy('deny-admin', {
      namespace: 'demo',
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: [ADMIN] } }] }],
    }),
  ]),
  allowClient: compiledPolicies([
    authorizationPolicy('allow-client', {
      namespace: 'demo',
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
    }),
  ]),
  allowNamespaceDemo: compiledPolicies([
    authorizationPolicy('allow-demo', {
      namespace: 'demo',
      action: 'ALLOW',
      rules: [{ from: [{ source: { namespaces: ['demo'] } }] }],
    }),
  ]),
  allowPrefixOnPort: compiledPolicies([
    authorizationPolicy('allow-echo-port', {
      namespace: 'demo',
      action: 'ALLOW',
      rules: [{ to: [{ operation: { paths: ['/weft.test.Echo/*'], ports: ['8080'], methods: ['POST'] } }] }],
    }),
  ]),
  denyHeader: compiledPolicies([
    authorizationPolicy('deny-guest', {
      namespace: 'demo',
      action: 'DENY',
      rules: [{ when: [{ key: 'request.headers[x-user]', values: ['guest'] }] }],
    }),
  ]),
  denyUnauthenticated: compiledPolicies([
    authorizationPolicy('require-mtls', {
      namespace: 'demo',
      action: 'DENY',
      rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }],
    }),
  ]),
};

const call = (over: Partial<InboundCallFacts> = {}): InboundCallFacts => ({
  peerPrincipal: CLIENT,
  sourceIp: '10.0.0.7',
  destinationIp: '10.0.0.9',
  destinationPort: 8080,
  host: 'echo.demo.svc.cluster.local:8080',
  path: ECHO,
  headers: { 'user-agent': 'grpc-node-js/1.14.7' },
  ...over,
});
const { peerPrincipal: _drop, ...plaintext } = call();

type Row = [
  name: string,
  policies: readonly AuthzPolicy[],
  facts: InboundCallFacts,
  expected: 'allow' | status,
];
const rows: Row[] = [
  ['no policy: allowed', policies.none, call(), 'allow'],
  ['no policy, no client certificate: allowed', policies.none, plaintext, 'allow'],
  ['DENY on a path: other methods pass', policies.denyAdmin, call(), 'allow'],
  [
    'DENY on a path: that method is denied',
    policies.denyAdmin,
    call({ path: ADMIN }),
    status.PERMISSION_DENIED,
  ],
  [
    'DENY on a path: without a certificate too',
    policies.denyAdmin,
    { ...plaintext, path: ADMIN },
    status.PERMISSION_DENIED,
  ],
  ['ALLOW principal: that principal', policies.allowClient, call(), 'allow'],
  [
    'ALLOW principal: another one',
    policies.allowClient,
    call({ peerPrincipal: OTHER }),
    status.PERMISSION_DENIED,
  ],
  [
    'ALLOW principal: PERMISSIVE caller without a certificate',
    policies.allowClient,
    plaintext,
    status.PERMISSION_DENIED,
  ],
  ['ALLOW namespace: from the namespace', policies.allowNamespaceDemo, call(), 'allow'],
  [
    'ALLOW namespace: from elsewhere',
    policies.allowNamespaceDemo,
    call({ peerPrincipal: OTHER }),
    status.PERMISSION_DENIED,
  ],
  [
    'ALLOW namespace: a claimed namespace header counts for nothing',
    policies.allowNamespaceDemo,
    { ...plaintext, headers: { 'x-namespace': 'demo' } },
    status.PERMISSION_DENIED,
  ],
  ['ALLOW path prefix + port + POST', policies.allowPrefixOnPort, call(), 'allow'],
  [
    'ALLOW path prefix: another port',
    policies.allowPrefixOnPort,
    call({ destinationPort: 9090 }),
    status.PERMISSION_DENIED,
  ],
  [
    'ALLOW path prefix: another service',
    policies.allowPrefixOnPort,
    call({ path: '/other.Svc/Echo' }),
    status.PERMISSION_DENIED,
  ],
  [
    'ALLOW path prefix: dot segments are normalized first',
    policies.allowPrefixOnPort,
    call({ path: '/weft.test.Echo/../other.Svc/Echo' }),
    status.PERMISSION_DENIED,
  ],
  [
    'DENY header: matching metadata',
    policies.denyHeader,
    call({ headers: { 'x-user': 'guest' } }),
    status.PERMISSION_DENIED,
  ],
  ['DENY header: other value', policies.denyHeader, call({ headers: { 'x-user': 'admin' } }), 'allow'],
  [
    'DENY header: repeated metadata reaches the evaluator as sent',
    policies.denyHeader,
    call({ headers: { 'x-user': ['admin', 'guest'] } }),
    status.PERMISSION_DENIED,
  ],
  ['DENY unauthenticated: mTLS caller', policies.denyUnauthenticated, call(), 'allow'],
  [
    'DENY unauthenticated: PERMISSIVE caller',
    policies.denyUnauthenticated,
    plaintext,
    status.PERMISSION_DENIED,
  ],
];

describe('decideInbound', () => {
  it.each(rows)('%s', (_name, ps, facts, expected) => {
    const d = decideInbound(ps, facts);
    const reference = authorize(ps, buildAuthzRequest(facts), { mode: 'L7' });
    if (expected === 'allow') {
      expect(d).toEqual({ allow: true, decision: reference });
      expect(reference.action).toBe('ALLOW');
    } else {
      expect(d).toMatchObject({ allow: false, code: expected });
      if (expected === status.PERMISSION_DENIED) {
        expect(d).toMatchObject({ message: DENIED_MESSAGE, decision: reference });
        expect(reference.action).toBe('DENY');
      }
    }
  });

  it('builds the request the sidecar RBAC filter builds: POST, the gRPC path, metadata as headers', () => {
    expect(buildAuthzRequest(call())).toEqual({
      sourcePrincipal: CLIENT,
      sourceIp: '10.0.0.7',
      destinationIp: '10.0.0.9',
      destinationPort: 8080,
      host: 'echo.demo.svc.cluster.local:8080',
      method: 'POST',
      path: ECHO,
      headers: { 'user-agent': 'grpc-node-js/1.14.7' },
    });
    expect(buildAuthzRequest(plaintext)).not.toHaveProperty('sourcePrincipal');
  });

  it('fails closed before the first policy snapshot and on an unusable peer identity', () => {
    expect(decideInbound(undefined, call())).toMatchObject({ allow: false, code: status.UNAVAILABLE });
    expect(
      decideInbound(policies.none, call({ peerIdentityError: 'certificate has 2 spiffe:// URI SANs' })),
    ).toMatchObject({
      allow: false,
      code: status.UNAUTHENTICATED,
    });
  });

  it('refuses a path the evaluator cannot normalize', () => {
    expect(decideInbound(policies.denyAdmin, call({ path: '/weft.test.Echo/%00' }))).toMatchObject({
      allow: false,
      code: status.INVALID_ARGUMENT,
    });
  });
});
