// Differential authorization: every cell of policies x requests x clients x servers is sent
// through the real data path and must get exactly the decision @weft/policy's `authorize()` gives
// for it. The expected decision is computed the way the enforcing proxy computes it: the example
// manifests plus the policy are compiled, the policies for the destination are picked as
// packages/l7/src/role.ts picks them (the waypoint: the Service and its own Gateway; a sidecar:
// its workload and the Services selecting it), and `authorize()` runs in L7 mode on the request's
// attributes. A difference names its cell.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type AuthzPolicy,
  type AuthzRequest,
  authorize,
  compile,
  type MeshSnapshot,
  parseManifests,
  policiesFor,
} from '@weft/policy';
import type { CallResult, MeshDriver } from '../driver.ts';
import { eventually } from '../wait.ts';
import { SIDECAR_CLIENT, SIDECAR_CLIENT_ID, SIDECAR_ECHO_URL } from './hybrid.ts';
import { CLIENT_ID, check, ECHO_URL, type Scenario } from './l4.ts';

const MANIFESTS_DIR = fileURLToPath(new URL('../../../apps/examples/manifests/', import.meta.url));
const POLICY_FILE = 'differential-policy.yaml';

type ClientKind = 'ambient' | 'sidecar';
type ServerKind = 'waypoint' | 'sidecar';

const CLIENTS: Record<
  ClientKind,
  { readonly pod: string; readonly principal: string; readonly what: string }
> = {
  ambient: { pod: 'client', principal: CLIENT_ID, what: 'demo/client (ambient)' },
  sidecar: { pod: SIDECAR_CLIENT, principal: SIDECAR_CLIENT_ID, what: 'hybrid/sidecar-client (sidecar)' },
};

const SERVERS: Record<ServerKind, { readonly url: string; readonly port: number; readonly what: string }> = {
  waypoint: { url: ECHO_URL, port: 8080, what: 'demo/echo (waypoint)' },
  sidecar: { url: SIDECAR_ECHO_URL, port: 8080, what: 'hybrid/sidecar-echo (sidecar)' },
};

/**
 * How a policy attaches to each server. The waypoint-bound echo only by targetRefs on its
 * Service (a selector would also reach echo's ztunnel, which sees the waypoint's identity, not
 * the client's); sidecar-echo by its pod's labels, or by its Service's targetRefs (enforced by the
 * server-side sidecar): the table uses both.
 */
type SidecarAttach = 'service' | 'selector';

interface PolicyCase {
  readonly name: string;
  readonly action: 'ALLOW' | 'DENY';
  readonly sidecarAttach: SidecarAttach;
  /** The `rules:` list, indented for `spec`. */
  readonly rules: string;
}

const POLICIES: readonly PolicyCase[] = [
  {
    name: 'deny-admin-path',
    action: 'DENY',
    sidecarAttach: 'service',
    rules: `    - to:
        - operation:
            paths: ["/admin", "/admin/*"]`,
  },
  {
    name: 'allow-get',
    action: 'ALLOW',
    sidecarAttach: 'selector',
    rules: `    - to:
        - operation:
            methods: ["GET"]`,
  },
  {
    name: 'deny-header',
    action: 'DENY',
    sidecarAttach: 'service',
    rules: `    - when:
        - key: request.headers[x-user]
          values: ["mallory"]`,
  },
  {
    name: 'allow-principal',
    action: 'ALLOW',
    sidecarAttach: 'selector',
    rules: `    - from:
        - source:
            principals: ["cluster.local/ns/demo/sa/client"]`,
  },
  {
    name: 'deny-namespace',
    action: 'DENY',
    sidecarAttach: 'service',
    rules: `    - from:
        - source:
            namespaces: ["hybrid"]`,
  },
  {
    name: 'allow-port-api',
    action: 'ALLOW',
    sidecarAttach: 'selector',
    rules: `    - to:
        - operation:
            ports: ["8080"]
            paths: ["/api/*"]
        - operation:
            ports: ["9090"]`,
  },
];

interface RequestCase {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

const REQUESTS: readonly RequestCase[] = [
  { name: 'GET /', method: 'GET', path: '/', headers: {} },
  { name: 'GET /admin/users', method: 'GET', path: '/admin/users', headers: {} },
  { name: 'POST /api/items', method: 'POST', path: '/api/items', headers: {} },
  { name: 'DELETE /api/items', method: 'DELETE', path: '/api/items', headers: {} },
  {
    name: 'GET /api/items x-user: mallory',
    method: 'GET',
    path: '/api/items',
    headers: { 'x-user': 'mallory' },
  },
  { name: 'GET /api/items x-user: alice', method: 'GET', path: '/api/items', headers: { 'x-user': 'alice' } },
];

const CLIENT_KINDS: readonly ClientKind[] = ['ambient', 'sidecar'];
const SERVER_KINDS: readonly ServerKind[] = ['waypoint', 'sidecar'];

function policyYaml(p: PolicyCase): string {
  const doc = (namespace: string, attach: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: diff-${p.name}
  namespace: ${namespace}
spec:
${attach}
  action: ${p.action}
  rules:
${p.rules}
`;
  const sidecarAttach =
    p.sidecarAttach === 'service'
      ? '  targetRefs:\n    - group: ""\n      kind: Service\n      name: sidecar-echo'
      : '  selector:\n    matchLabels:\n      app: sidecar-echo';
  return [
    doc('demo', '  targetRefs:\n    - group: ""\n      kind: Service\n      name: echo'),
    doc('hybrid', sidecarAttach),
  ].join('---\n');
}

/** The example manifests plus `extra`, compiled as weftd compiles its config folder. */
function snapshotWith(file: string, extra: string): MeshSnapshot {
  const objects: unknown[] = [];
  const texts: [string, string][] = readdirSync(MANIFESTS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => [f, readFileSync(`${MANIFESTS_DIR}${f}`, 'utf8')]);
  texts.push([file, extra]);
  for (const [name, text] of texts) {
    const parsed = parseManifests(text, name);
    check(
      parsed.errors.length === 0,
      `${name} does not parse: ${parsed.errors.map((e) => JSON.stringify(e)).join('; ')}`,
    );
    objects.push(...parsed.objects);
  }
  const { snapshot, errors } = compile(objects);
  check(errors.length === 0, `the manifests do not compile: ${errors.map((e) => e.message).join('; ')}`);
  return snapshot;
}

/** The policies the enforcing proxy of `server` evaluates (packages/l7/src/role.ts). */
function policiesAt(snapshot: MeshSnapshot, server: ServerKind): AuthzPolicy[] {
  switch (server) {
    case 'waypoint':
      // The waypoint serves the echo Service's VIP: the Service's policies and its own Gateway's.
      return policiesFor(snapshot, { service: 'echo.demo.svc.cluster.local', waypoint: 'demo/waypoint' });
    case 'sidecar': {
      // sidecar-echo's inbound sees its pod's address: the workload's policies and those of the
      // Services selecting it.
      const workload = Object.values(snapshot.workloads).find(
        (w) => w.namespace === 'hybrid' && w.name === 'sidecar-echo',
      );
      check(workload !== undefined, 'hybrid/sidecar-echo is not in the compiled snapshot');
      const byKey = new Map<string, AuthzPolicy>();
      for (const target of [{ workload: workload.uid }, ...workload.services.map((service) => ({ service }))])
        for (const p of policiesFor(snapshot, target)) byKey.set(p.key, p);
      return [...byKey.values()];
    }
    default: {
      const never: never = server;
      return never;
    }
  }
}

type Decision = 'ALLOW' | 'DENY';

function expected(
  policies: readonly AuthzPolicy[],
  client: ClientKind,
  server: ServerKind,
  req: RequestCase,
): Decision {
  const request: AuthzRequest = {
    sourcePrincipal: CLIENTS[client].principal,
    destinationPort: SERVERS[server].port,
    method: req.method,
    path: req.path,
    headers: req.headers,
  };
  return authorize(policies, request).action;
}

/**
 * What the data path did: 2xx from echo allows; a 403 denies. Both servers' enforcing proxies
 * decide at L7 and answer 403, so a failed connection is a broken path, never a denial.
 */
function observed(r: CallResult): Decision | 'other' {
  if (!r.ok) return 'other';
  if (r.response.status >= 200 && r.response.status < 300) return 'ALLOW';
  return r.response.status === 403 ? 'DENY' : 'other';
}

const describe = (r: CallResult): string =>
  r.ok ? `HTTP ${r.response.status}` : `connection failed (${r.error})`;

function send(
  driver: MeshDriver,
  client: ClientKind,
  server: ServerKind,
  req: RequestCase,
): Promise<CallResult> {
  const url = new URL(req.path, SERVERS[server].url).toString();
  return driver.request(CLIENTS[client].pod, url, {
    method: req.method,
    headers: req.headers,
    timeoutMs: 3000,
  });
}

interface Cell {
  readonly client: ClientKind;
  readonly server: ServerKind;
  readonly request: RequestCase;
}

const CELLS: readonly Cell[] = CLIENT_KINDS.flatMap((client) =>
  SERVER_KINDS.flatMap((server) => REQUESTS.map((request) => ({ client, server, request }))),
);

const cellName = (policy: string, c: Cell): string =>
  `policy ${policy}, request "${c.request.name}", client ${CLIENTS[c.client].what}, server ${SERVERS[c.server].what}`;

export const differentialAuthz: Scenario = {
  name: 'differential-authz',
  title: `every cell of ${POLICIES.length} policies x ${REQUESTS.length} requests x ${CLIENT_KINDS.length} clients x ${SERVER_KINDS.length} servers gets the decision authorize() computes`,
  async run(driver, log) {
    // With no policy of ours every cell is allowed; make sure the mesh is there first.
    for (const c of CELLS.filter((c) => c.request.name === 'GET /'))
      await eventually(
        `${CLIENTS[c.client].what} -> ${SERVERS[c.server].what} before any policy`,
        () => send(driver, c.client, c.server, c.request),
        (r) => observed(r) === 'ALLOW',
        { timeoutMs: 20_000 },
      );
    const mismatches: string[] = [];
    let cells = 0;
    for (const policy of POLICIES) {
      const yaml = policyYaml(policy);
      const snapshot = snapshotWith(POLICY_FILE, yaml);
      const atServer = Object.fromEntries(SERVER_KINDS.map((s) => [s, policiesAt(snapshot, s)])) as Record<
        ServerKind,
        AuthzPolicy[]
      >;
      for (const s of SERVER_KINDS)
        check(
          atServer[s].some((p) => p.name === `diff-${policy.name}`),
          `policy ${policy.name} does not apply to ${SERVERS[s].what} in the compiled snapshot`,
        );
      const want = (c: Cell): Decision => expected(atServer[c.server], c.client, c.server, c.request);
      // One probe per server whose decision this policy turns from ALLOW to DENY: once it is
      // denied, the server's enforcing proxy holds the policy.
      const probes = SERVER_KINDS.map((s) => CELLS.find((c) => c.server === s && want(c) === 'DENY'));
      await driver.apply(POLICY_FILE, yaml);
      try {
        for (const probe of probes) {
          if (probe === undefined) continue;
          await eventually(
            `policy ${policy.name} to be in force (${cellName(policy.name, probe)})`,
            () => send(driver, probe.client, probe.server, probe.request),
            (r) => observed(r) === 'DENY',
            { timeoutMs: 10_000, intervalMs: 50 },
          );
        }
        const denied: string[] = [];
        for (const c of CELLS) {
          cells++;
          const w = want(c);
          const r = await send(driver, c.client, c.server, c.request);
          const got = observed(r);
          if (w === 'DENY') denied.push(`${c.client}->${c.server} ${c.request.name}`);
          if (got !== w)
            mismatches.push(
              `${cellName(policy.name, c)}: authorize() says ${w}, the mesh gave ${describe(r)}`,
            );
        }
        log(
          `${policy.action.padEnd(5)} ${policy.name.padEnd(16)} (sidecar by ${policy.sidecarAttach}): ${CELLS.length - denied.length} allowed, ${denied.length} denied`,
        );
      } finally {
        await driver.remove(POLICY_FILE);
      }
      for (const probe of probes) {
        if (probe === undefined) continue;
        await eventually(
          `policy ${policy.name} to be gone (${cellName(policy.name, probe)})`,
          () => send(driver, probe.client, probe.server, probe.request),
          (r) => observed(r) === 'ALLOW',
          { timeoutMs: 10_000, intervalMs: 50 },
        );
      }
    }
    log(`${cells} cells compared, ${mismatches.length} differ from authorize()`);
    for (const m of mismatches) log(`MISMATCH ${m}`);
    check(
      mismatches.length === 0,
      `${mismatches.length} cells differ from authorize():\n${mismatches.join('\n')}`,
    );
  },
};

export const DIFFERENTIAL_SCENARIOS: readonly Scenario[] = [differentialAuthz];
