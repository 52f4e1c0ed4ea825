import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, formatFinding } from './analyze.ts';

const BASE = `
apiVersion: v1
kind: Namespace
metadata: { name: demo }
---
apiVersion: v1
kind: Pod
metadata: { name: echo-v1, namespace: demo, uid: u1, labels: { app: echo } }
spec: { nodeName: node-a, serviceAccountName: echo, containers: [{ name: echo, image: e, ports: [{ containerPort: 8080 }] }] }
status: { phase: Running, podIP: 10.0.0.1 }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec: { selector: { app: echo }, ports: [{ name: http, port: 8080 }] }
`;

const analyzeYaml = (yaml: string): string[] => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-analyze-'));
  writeFileSync(join(dir, 'm.yaml'), `${BASE}---\n${yaml}`);
  return analyze([dir], dir).findings.map(formatFinding);
};

// One bad manifest per row, and the exact findings it produces.
const CASES: { name: string; yaml: string; want: string[] }[] = [
  {
    name: 'the base is clean',
    yaml: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: echo, namespace: demo }\n',
    want: [],
  },
  {
    name: 'not YAML',
    yaml: 'kind: [unclosed\n',
    want: [
      'error m.yaml: document 3: Flow sequence in block collection must be sufficiently indented and end with a ] at line 18, column 1:',
    ],
  },
  {
    name: 'an invalid AuthorizationPolicy action',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: bad-action, namespace: demo }
spec: { action: MAYBE, rules: [{}] }
`,
    want: ['error AuthorizationPolicy demo/bad-action spec.action: action must be one of ALLOW, DENY, AUDIT'],
  },
  {
    name: 'a policy selecting nothing',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: lonely, namespace: demo }
spec: { selector: { matchLabels: { app: nothing } }, action: DENY, rules: [{}] }
`,
    want: [
      'warning AuthorizationPolicy demo/lonely spec.selector.matchLabels: app=nothing matches no pod in namespace demo; fix the labels or remove the policy',
    ],
  },
  {
    name: 'a route to a missing service',
    yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: demo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 8080 }]
  rules: [{ backendRefs: [{ name: echo-v9, port: 8080 }] }]
`,
    want: [
      'error HTTPRoute demo/r spec.rules[0].backendRefs[0].name: Service demo/echo-v9 does not exist; create it or fix the name',
    ],
  },
  {
    name: 'a route to a missing port',
    yaml: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: demo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 9999 }]
  rules: [{ backendRefs: [{ name: echo, port: 8081 }] }]
`,
    want: [
      'error HTTPRoute demo/r spec.parentRefs[0].port: Service demo/echo has no port 9999 (ports: 8080); use one of its ports',
      'error HTTPRoute demo/r spec.rules[0].backendRefs[0].port: Service demo/echo has no port 8081 (ports: 8080); use one of its ports',
    ],
  },
  {
    name: 'a waypoint label naming no Gateway',
    yaml: `apiVersion: v1
kind: Service
metadata: { name: other, namespace: demo, labels: { weft.dev/use-waypoint: missing } }
spec: { selector: { app: echo }, ports: [{ port: 80 }] }
`,
    want: [
      'error Service demo/other metadata.labels["weft.dev/use-waypoint"]: names Gateway demo/missing, which does not exist; create it (weft waypoint generate -n demo --name missing) or fix the label',
    ],
  },
  {
    name: 'two namespace-wide PeerAuthentications',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: a, namespace: demo }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: b, namespace: demo }
spec: { mtls: { mode: PERMISSIVE } }
`,
    want: [
      'error PeerAuthentication demo/b spec.selector: namespace demo already has PeerAuthentication demo/a; only the oldest applies: merge them into one',
    ],
  },
  {
    name: 'two workload PeerAuthentications on one pod',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: a, namespace: demo }
spec: { selector: { matchLabels: { app: echo } }, mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: b, namespace: demo }
spec: { selector: { matchLabels: { app: echo } }, mtls: { mode: DISABLE } }
`,
    want: [
      'error PeerAuthentication demo/b spec.selector.matchLabels: selects pod demo/echo-v1, which PeerAuthentication demo/a also selects; only the oldest applies: narrow one selector',
    ],
  },
];

describe('weft analyze', () => {
  it.each(CASES)('$name', ({ yaml, want }) => {
    expect(analyzeYaml(yaml)).toEqual(want);
  });

  it('finds nothing wrong in the example manifests', () => {
    const r = analyze([join(import.meta.dirname, '../../../examples/manifests')], '/');
    expect(r.findings.filter((f) => f.level === 'error')).toEqual([]);
    expect(r.objects).toBeGreaterThan(20);
  });
});
