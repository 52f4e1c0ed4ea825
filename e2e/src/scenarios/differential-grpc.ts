// Differential authorization for proxyless gRPC servers: every cell of policies x methods x
// clients (a proxyless client through the SDK, an ambient app and a sidecar app calling with plain
// gRPC through their data plane) gets exactly the decision @weft/policy's `authorize()` gives for
// the server's policies — the ones its SDK interceptor evaluates: its workload's and those of the
// Services selecting it. A difference names its cell.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type AuthzPolicy,
  authorize,
  compile,
  type MeshSnapshot,
  parseManifests,
  policiesFor,
} from '@weft/policy';
import type { MeshDriver } from '../driver.ts';
import { eventually } from '../wait.ts';
import { SIDECAR_CLIENT, SIDECAR_CLIENT_ID } from './hybrid.ts';
import { CLIENT_ID, check, type Scenario } from './l4.ts';
import { GRPC_CLIENT, GRPC_ECHO } from './proxyless.ts';

const MANIFESTS_DIR = fileURLToPath(new URL('../../../apps/examples/manifests/', import.meta.url));
const POLICY_FILE = 'differential-grpc-policy.yaml';
const SERVICE_PATH = '/weft.examples.v1.Echo';

type ClientKind = 'proxyless' | 'ambient' | 'sidecar';
type Method = 'Echo' | 'Admin';
type Decision = 'ALLOW' | 'DENY';

const CLIENTS: Record<
  ClientKind,
  { readonly pod: string; readonly principal: string; readonly what: string }
> = {
  proxyless: {
    pod: GRPC_CLIENT,
    principal: 'spiffe://cluster.local/ns/proxyless/sa/grpc-client',
    what: 'proxyless/grpc-client (proxyless)',
  },
  ambient: { pod: 'client', principal: CLIENT_ID, what: 'demo/client (ambient, plain gRPC)' },
  sidecar: {
    pod: SIDECAR_CLIENT,
    principal: SIDECAR_CLIENT_ID,
    what: 'hybrid/sidecar-client (sidecar, plain gRPC)',
  },
};
const CLIENT_KINDS: readonly ClientKind[] = ['proxyless', 'ambient', 'sidecar'];
const METHODS: readonly Method[] = ['Echo', 'Admin'];

interface PolicyCase {
  readonly name: string;
  readonly action: Decision;
  /** By the pods' labels, or by targetRefs on the grpc-echo Service (applied by the server as a sidecar would). */
  readonly attach?: 'selector' | 'service';
  readonly rules: string;
}

const POLICIES: readonly PolicyCase[] = [
  {
    name: 'deny-admin',
    action: 'DENY',
    rules: `    - to:
        - operation:
            paths: ["${SERVICE_PATH}/Admin"]`,
  },
  {
    name: 'allow-echo-prefix',
    action: 'ALLOW',
    rules: `    - to:
        - operation:
            paths: ["${SERVICE_PATH}/Echo*"]`,
  },
  {
    name: 'allow-get-only',
    action: 'ALLOW',
    rules: `    - to:
        - operation:
            methods: ["GET"]`,
  },
  {
    name: 'allow-principal',
    action: 'ALLOW',
    rules: `    - from:
        - source:
            principals: ["cluster.local/ns/demo/sa/client"]`,
  },
  {
    name: 'deny-namespace-admin',
    action: 'DENY',
    attach: 'service',
    rules: `    - from:
        - source:
            namespaces: ["hybrid", "proxyless"]
      to:
        - operation:
            paths: ["${SERVICE_PATH}/Admin"]`,
  },
];

const policyYaml = (p: PolicyCase): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: diff-${p.name}
  namespace: proxyless
spec:
${
  p.attach === 'service'
    ? '  targetRefs:\n    - group: ""\n      kind: Service\n      name: grpc-echo'
    : '  selector:\n    matchLabels:\n      app: grpc-echo'
}
  action: ${p.action}
  rules:
${p.rules}
`;

function snapshotWith(extra: string): MeshSnapshot {
  const objects: unknown[] = [];
  const texts: [string, string][] = readdirSync(MANIFESTS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => [f, readFileSync(`${MANIFESTS_DIR}${f}`, 'utf8')]);
  texts.push([POLICY_FILE, extra]);
  for (const [name, text] of texts) {
    const parsed = parseManifests(text, name);
    check(parsed.errors.length === 0, `${name} does not parse`);
    objects.push(...parsed.objects);
  }
  const { snapshot, errors } = compile(objects);
  check(errors.length === 0, `the manifests do not compile: ${errors.map((e) => e.message).join('; ')}`);
  return snapshot;
}

/** The proxyless server's policies: its workload's and those of the Services selecting it. */
function serverPolicies(snapshot: MeshSnapshot): AuthzPolicy[] {
  const w = Object.values(snapshot.workloads).find(
    (x) => x.namespace === 'proxyless' && x.name === 'grpc-echo-v1',
  );
  check(w !== undefined, 'proxyless/grpc-echo-v1 is not in the compiled snapshot');
  const byKey = new Map<string, AuthzPolicy>();
  for (const target of [{ workload: w.uid }, ...w.services.map((service) => ({ service }))])
    for (const p of policiesFor(snapshot, target)) byKey.set(p.key, p);
  return [...byKey.values()];
}

async function send(driver: MeshDriver, client: ClientKind, method: Method): Promise<Decision | string> {
  if (client === 'proxyless') {
    const t = await driver.grpcCalls(GRPC_CLIENT, GRPC_ECHO, { calls: 1, method });
    if (t.ok === 1) return 'ALLOW';
    return (t.errors.PERMISSION_DENIED ?? 0) === 1
      ? 'DENY'
      : `other (${t.lastError ?? JSON.stringify(t.errors)})`;
  }
  const r = await driver.grpcPlainCall(CLIENTS[client].pod, GRPC_ECHO, method);
  if (r.ok) return 'ALLOW';
  return r.status === 7 ? 'DENY' : `other (${r.error})`;
}

export const differentialGrpc: Scenario = {
  name: 'differential-authz-grpc',
  title: `every cell of ${POLICIES.length} policies x ${METHODS.length} methods x ${CLIENT_KINDS.length} clients (proxyless, ambient, sidecar) at a proxyless server gets the decision authorize() computes`,
  async run(driver, log) {
    const mismatches: string[] = [];
    let cells = 0;
    for (const policy of POLICIES) {
      const yaml = policyYaml(policy);
      const policies = serverPolicies(snapshotWith(yaml));
      check(
        policies.some((p) => p.name === `diff-${policy.name}`),
        `policy ${policy.name} does not select the proxyless server in the compiled snapshot`,
      );
      const want = (client: ClientKind, method: Method): Decision =>
        authorize(policies, {
          sourcePrincipal: CLIENTS[client].principal,
          destinationPort: 9091,
          method: 'POST',
          path: `${SERVICE_PATH}/${method}`,
          headers: {},
        }).action;
      const probe = CLIENT_KINDS.flatMap((c) => METHODS.map((m) => [c, m] as const)).find(
        ([c, m]) => c !== 'proxyless' && want(c, m) === 'DENY',
      );
      await driver.apply(POLICY_FILE, yaml);
      try {
        if (probe !== undefined)
          await eventually(
            `policy ${policy.name} to be in force`,
            () => send(driver, probe[0], probe[1]),
            (d) => d === 'DENY',
            { timeoutMs: 10_000, intervalMs: 100 },
          );
        let denied = 0;
        for (const client of CLIENT_KINDS)
          for (const method of METHODS) {
            cells++;
            const w = want(client, method);
            const got = await send(driver, client, method);
            if (w === 'DENY') denied++;
            if (got !== w)
              mismatches.push(
                `policy ${policy.name}, method ${method}, client ${CLIENTS[client].what}: authorize() says ${w}, the mesh gave ${got}`,
              );
          }
        log(
          `${policy.action.padEnd(5)} ${policy.name.padEnd(22)}: ${CLIENT_KINDS.length * METHODS.length - denied} allowed, ${denied} denied`,
        );
      } finally {
        await driver.remove(POLICY_FILE);
      }
      if (probe !== undefined)
        await eventually(
          `policy ${policy.name} to be gone`,
          () => send(driver, probe[0], probe[1]),
          (d) => d === 'ALLOW',
          { timeoutMs: 10_000, intervalMs: 100 },
        );
    }
    log(`${cells} cells compared, ${mismatches.length} differ from authorize()`);
    for (const m of mismatches) log(`MISMATCH ${m}`);
    check(
      mismatches.length === 0,
      `${mismatches.length} cells differ from authorize():\n${mismatches.join('\n')}`,
    );
  },
};
