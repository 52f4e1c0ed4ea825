// Proxyless gRPC scenarios: apps linked with @weft/proxyless-sdk take routes, load balancing,
// mutual TLS and authorization from weftd over xDS, with no proxy in the pod (namespace
// `proxyless`, apps/examples/manifests/60-proxyless.yaml): a GRPCRoute splits grpc-echo 80/20
// between v1 and v2, and an AuthorizationPolicy denies the Admin method to grpc-client.
import type { GrpcTally } from '../driver.ts';
import { eventually } from '../wait.ts';
import { check, type Scenario } from './l4.ts';

export const GRPC_CLIENT = 'grpc-client';
export const GRPC_ECHO = 'grpc-echo.proxyless.svc.cluster.local:9090';

const served = (t: GrpcTally, version: string): number =>
  Object.entries(t.served)
    .filter(([who]) => who.endsWith(` ${version}`))
    .reduce((n, [, c]) => n + c, 0);

export function describeTally(t: GrpcTally): string {
  const errors = Object.entries(t.errors)
    .map(([k, v]) => `${k} x${v}`)
    .join(', ');
  return `${t.ok}/${t.calls} ok (v1 ${served(t, 'v1')}, v2 ${served(t, 'v2')})${errors ? `; ${errors}` : ''}`;
}

const split: Scenario = {
  name: 'proxyless-split',
  title:
    'a proxyless gRPC client follows the GRPCRoute 80/20 split over mesh mTLS, config and certificates from weftd',
  async run(driver, log) {
    const t = await driver.grpcCalls(GRPC_CLIENT, GRPC_ECHO, { calls: 200 });
    const v1 = served(t, 'v1');
    log(`grpc-client -> grpc-echo, 200 unary calls: ${describeTally(t)}`);
    check(t.ok === t.calls, `every call should succeed: ${describeTally(t)} ${t.lastError ?? ''}`);
    // 80% of 200 is 160; a binomial spread of 3 sigma is about +-17.
    check(v1 >= 135 && v1 <= 185, `v1 should serve about 80% (160 of 200), served ${v1}`);
    check(served(t, 'v2') > 0, 'v2 served nothing');
  },
};

const deniedMethod: Scenario = {
  name: 'proxyless-denied-method',
  title:
    "the Admin method is denied to grpc-client by the server's own interceptor (authorize()), Echo is not",
  async run(driver, log) {
    const admin = await driver.grpcCalls(GRPC_CLIENT, GRPC_ECHO, { calls: 10, method: 'Admin' });
    log(`grpc-client -> grpc-echo Admin x10: ${describeTally(admin)}`);
    check(
      admin.ok === 0 && (admin.errors.PERMISSION_DENIED ?? 0) === 10,
      `Admin should be denied: ${describeTally(admin)}`,
    );
    const echo = await driver.grpcCalls(GRPC_CLIENT, GRPC_ECHO, { calls: 10 });
    log(`grpc-client -> grpc-echo Echo x10: ${describeTally(echo)}`);
    check(echo.ok === 10, `Echo should pass: ${describeTally(echo)}`);
  },
};

const DENY_ALL_GRPC_CLIENT = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: grpc-echo-deny-client
  namespace: proxyless
spec:
  selector:
    matchLabels:
      app: grpc-echo
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/proxyless/sa/grpc-client"]
`;

const denyLive: Scenario = {
  name: 'proxyless-deny-live',
  title:
    'a DENY applied to the proxyless servers takes effect without a restart, and lifting it restores calls',
  async run(driver, log) {
    await driver.apply('zz-proxyless-deny.yaml', DENY_ALL_GRPC_CLIENT);
    const t0 = Date.now();
    try {
      const denied = await eventually(
        'grpc-client to be denied',
        () => driver.grpcCalls(GRPC_CLIENT, GRPC_ECHO, { calls: 5 }),
        (t) => (t.errors.PERMISSION_DENIED ?? 0) === t.calls,
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      log(
        `DENY from grpc-client applied: ${describeTally(denied)} (${Date.now() - t0} ms after the write, client start included)`,
      );
    } finally {
      await driver.remove('zz-proxyless-deny.yaml');
    }
    const back = await eventually(
      'grpc-client to be allowed again',
      () => driver.grpcCalls(GRPC_CLIENT, GRPC_ECHO, { calls: 5 }),
      (t) => t.ok === t.calls,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    log(`DENY removed: ${describeTally(back)}`);
  },
};

// ---- where the modes meet: ambient and sidecar apps call the proxyless servers, and a
// proxyless client calls a plain gRPC app in the ambient mesh.

const GRPC_AMBIENT = 'grpc-ambient.grpc-ambient.svc.cluster.local:9090';

function denyFrom(name: string, principal: string, method?: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: proxyless
spec:
  selector:
    matchLabels:
      app: grpc-echo
  action: DENY
  rules:
    - from:
        - source:
            principals: ["${principal}"]
${method !== undefined ? `      to:\n        - operation:\n            paths: ["/weft.examples.v1.Echo/${method}"]\n` : ''}`;
}

function fromMeshApp(name: string, pod: string, principal: string, what: string): Scenario {
  return {
    name,
    title: `${what} calls the proxyless servers with plain gRPC: its data plane originates mesh mTLS, the servers see its identity and decide with the same policies`,
    async run(driver, log) {
      const first = await eventually(
        `${pod} -> grpc-echo`,
        () => driver.grpcPlainCall(pod, GRPC_ECHO),
        (r) => r.ok,
      );
      if (!first.ok) return;
      log(
        `${pod} (${what}) -> grpc-echo Echo: served by ${first.reply.pod} ${first.reply.version}, caller seen as ${first.reply.peer}`,
      );
      check(
        first.reply.peer === `spiffe://${principal}`,
        `the proxyless server saw ${first.reply.peer || 'no identity'}`,
      );
      const file = `zz-${name}.yaml`;
      await driver.apply(file, denyFrom(`deny-${name}`, principal, 'Admin'));
      try {
        const denied = await eventually(
          `${pod} -> grpc-echo Admin to be denied`,
          () => driver.grpcPlainCall(pod, GRPC_ECHO, 'Admin'),
          (r) => !r.ok && r.status === 7,
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        log(
          `DENY Admin from ${principal}: ${denied.ok ? 'allowed' : `grpc-status ${denied.status} (${denied.error})`}`,
        );
        const echo = await driver.grpcPlainCall(pod, GRPC_ECHO, 'Echo');
        log(`... Echo still: ${echo.ok ? `ok (${echo.reply.pod})` : echo.error}`);
        check(echo.ok, `Echo from ${pod} should still pass: ${echo.ok ? '' : echo.error}`);
      } finally {
        await driver.remove(file);
      }
    },
  };
}

const toAmbient: Scenario = {
  name: 'proxyless-to-ambient',
  title:
    'a proxyless client calls a plain gRPC app in the ambient mesh under STRICT: mesh mTLS to the pod, terminated and authorized by its ztunnel',
  async run(driver, log) {
    if (driver.name === 'local') {
      // Without interception nothing stands between the proxyless client and the app's port.
      log('needs interception (the pod ztunnel terminates the mesh mTLS on 15006): run on the netns tier');
      return;
    }
    const t = await eventually(
      'grpc-client -> grpc-ambient',
      () => driver.grpcCalls(GRPC_CLIENT, GRPC_AMBIENT, { calls: 10 }),
      (r) => r.ok === r.calls,
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    log(`grpc-client (proxyless) -> grpc-ambient (ambient, plain app), 10 calls: ${describeTally(t)}`);
    await driver.apply(
      'zz-deny-proxyless-to-ambient.yaml',
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-grpc-client
  namespace: grpc-ambient
spec:
  selector:
    matchLabels:
      app: grpc-ambient
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/proxyless/sa/grpc-client"]
`,
    );
    try {
      const denied = await eventually(
        'grpc-client to be refused by the ztunnel',
        () => driver.grpcCalls(GRPC_CLIENT, GRPC_AMBIENT, { calls: 3 }),
        (r) => r.ok === 0,
        { timeoutMs: 15_000, intervalMs: 300 },
      );
      log(`DENY from grpc-client at the ambient pod (L4, its ztunnel): ${describeTally(denied)}`);
    } finally {
      await driver.remove('zz-deny-proxyless-to-ambient.yaml');
    }
  },
};

const GRPC_SIDECAR = 'grpc-sidecar.hybrid.svc.cluster.local:9090';

const toSidecar: Scenario = {
  name: 'proxyless-to-sidecar',
  title:
    "a proxyless client calls a plain gRPC app behind its sidecar under STRICT: the sidecar terminates the mesh mTLS and applies the pod's L7 policy to the method",
  async run(driver, log) {
    if (driver.name === 'local') {
      log(
        'needs interception (the sidecar terminates the mesh mTLS on its captured 15006): run on the netns tier',
      );
      return;
    }
    const t = await eventually(
      'grpc-client -> grpc-sidecar',
      () => driver.grpcCalls(GRPC_CLIENT, GRPC_SIDECAR, { calls: 10 }),
      (r) => r.ok === r.calls,
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    log(`grpc-client (proxyless) -> grpc-sidecar (sidecar, plain app), 10 calls: ${describeTally(t)}`);
    await driver.apply(
      'zz-deny-proxyless-to-sidecar.yaml',
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-grpc-client-admin
  namespace: hybrid
spec:
  selector:
    matchLabels:
      app: grpc-sidecar
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/proxyless/sa/grpc-client"]
      to:
        - operation:
            paths: ["/weft.examples.v1.Echo/Admin"]
`,
    );
    try {
      const denied = await eventually(
        'Admin from grpc-client to be denied by the sidecar',
        () => driver.grpcCalls(GRPC_CLIENT, GRPC_SIDECAR, { calls: 3, method: 'Admin' }),
        (r) => r.ok === 0,
        { timeoutMs: 15_000, intervalMs: 300 },
      );
      log(`DENY Admin from grpc-client at the sidecar (L7): ${describeTally(denied)}`);
      const echo = await driver.grpcCalls(GRPC_CLIENT, GRPC_SIDECAR, { calls: 3 });
      log(`... Echo still: ${describeTally(echo)}`);
      check(echo.ok === echo.calls, `Echo should still pass: ${describeTally(echo)}`);
    } finally {
      await driver.remove('zz-deny-proxyless-to-sidecar.yaml');
    }
  },
};

const GRPC_DEMO = 'grpc-demo.demo.svc.cluster.local:9090';

const toWaypoint: Scenario = {
  name: 'proxyless-to-waypoint',
  title:
    "a proxyless client calls a plain gRPC app behind the namespace's waypoint: weftd sends it through the waypoint (mesh mTLS to 15009), which applies the Service's L7 policy",
  async run(driver, log) {
    const t = await eventually(
      'grpc-client -> grpc-demo through the waypoint',
      () => driver.grpcCalls(GRPC_CLIENT, GRPC_DEMO, { calls: 10 }),
      (r) => r.ok === r.calls,
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    log(`grpc-client (proxyless) -> grpc-demo (ambient + waypoint), 10 calls: ${describeTally(t)}`);
    await driver.apply(
      'zz-deny-proxyless-to-waypoint.yaml',
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-grpc-client-admin
  namespace: demo
spec:
  targetRefs:
    - group: ""
      kind: Service
      name: grpc-demo
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/proxyless/sa/grpc-client"]
      to:
        - operation:
            paths: ["/weft.examples.v1.Echo/Admin"]
`,
    );
    try {
      const denied = await eventually(
        'Admin from grpc-client to be denied by the waypoint',
        () => driver.grpcCalls(GRPC_CLIENT, GRPC_DEMO, { calls: 3, method: 'Admin' }),
        (r) => (r.errors.PERMISSION_DENIED ?? 0) === r.calls,
        { timeoutMs: 15_000, intervalMs: 300 },
      );
      log(`DENY Admin from grpc-client on the Service (the waypoint, L7): ${describeTally(denied)}`);
      const echo = await driver.grpcCalls(GRPC_CLIENT, GRPC_DEMO, { calls: 3 });
      log(`... Echo still: ${describeTally(echo)}`);
      check(echo.ok === echo.calls, `Echo should still pass: ${describeTally(echo)}`);
    } finally {
      await driver.remove('zz-deny-proxyless-to-waypoint.yaml');
    }
  },
};

export const INTEROP_SCENARIOS: readonly Scenario[] = [
  fromMeshApp('proxyless-from-ambient', 'client', 'cluster.local/ns/demo/sa/client', 'an ambient app'),
  fromMeshApp(
    'proxyless-from-sidecar',
    'sidecar-client',
    'cluster.local/ns/hybrid/sa/sidecar-client',
    'a sidecar app',
  ),
  toAmbient,
  toSidecar,
  toWaypoint,
];

export const PROXYLESS_SCENARIOS: readonly Scenario[] = [split, deniedMethod, denyLive, ...INTEROP_SCENARIOS];
