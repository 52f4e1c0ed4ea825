import { join } from 'node:path';
import { compile, parseManifests } from '@weft/policy';
import { describe, expect, it } from 'vitest';
import { loadManifests } from './analyze.ts';
import { authzCheck, parseHeaders } from './authz.ts';

const EXAMPLES = join(import.meta.dirname, '../../../examples/manifests');

// The examples plus an ALLOW on the echo Service (enforced by the demo's waypoint) and one on
// sidecar-echo's pod (enforced by its sidecar).
const EXTRA = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: echo-get-only, namespace: demo }
spec:
  targetRefs: [{ kind: Service, group: "", name: echo }]
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/demo/sa/client"] } }]
      to: [{ operation: { methods: ["GET"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: sidecar-echo-deny-admin, namespace: hybrid }
spec:
  selector: { matchLabels: { app: sidecar-echo } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]
`;

const snapshot = compile([
  ...loadManifests([EXAMPLES], '/').objects,
  ...parseManifests(EXTRA, 'extra.yaml').objects,
]).snapshot;

describe('weft authz check', () => {
  const CASES = [
    {
      name: 'proxyless DENY of the Admin method',
      input: {
        from: 'proxyless/grpc-client',
        to: 'proxyless/grpc-echo',
        path: '/weft.examples.v1.Echo/Admin',
      },
      want: { decision: 'DENY', policy: 'proxyless/grpc-echo-deny-admin', rule: 0, enforcedBy: 'proxyless' },
    },
    {
      name: 'proxyless: other methods pass',
      input: {
        from: 'proxyless/grpc-client',
        to: 'proxyless/grpc-echo',
        path: '/weft.examples.v1.Echo/Echo',
      },
      want: { decision: 'ALLOW', code: 'no-policy', enforcedBy: 'proxyless' },
    },
    {
      name: 'the waypoint allows GET from the client',
      input: { from: 'demo/client', to: 'demo/echo', method: 'GET' },
      want: { decision: 'ALLOW', policy: 'demo/echo-get-only', rule: 0, enforcedBy: 'waypoint', mode: 'L7' },
    },
    {
      name: 'the waypoint denies POST (no ALLOW rule matches)',
      input: { from: 'demo/client', to: 'echo.demo.svc.cluster.local', method: 'POST' },
      want: { decision: 'DENY', code: 'no-allow-match', enforcedBy: 'waypoint' },
    },
    {
      name: 'the sidecar denies /admin',
      input: { from: 'hybrid/sidecar-client', to: 'hybrid/sidecar-echo', path: '/admin' },
      want: { decision: 'DENY', policy: 'hybrid/sidecar-echo-deny-admin', enforcedBy: 'sidecar' },
    },
    {
      name: 'ztunnel decides at L4 for a service without a waypoint',
      input: { from: 'plaintext', to: 'demo/echo-direct' },
      want: { decision: 'ALLOW', enforcedBy: 'ztunnel', mode: 'L4', source: 'plaintext (no mesh identity)' },
    },
  ] as const;
  it.each(CASES)('$name', ({ input, want }) => {
    expect(authzCheck(snapshot, input)).toMatchObject(want);
  });

  it('names an unknown pod', () => {
    expect(() => authzCheck(snapshot, { from: 'demo/nobody', to: 'demo/echo' })).toThrow(
      'unknown source demo/nobody: name a pod (ns/name), a spiffe:// identity or "plaintext"',
    );
  });

  it('parses repeated headers', () => {
    expect(parseHeaders(['X-A=1', 'x-a=2', 'b=c=d'])).toEqual({ 'x-a': ['1', '2'], b: 'c=d' });
    expect(() => parseHeaders(['nope'])).toThrow('--header nope: expected name=value');
  });
});
