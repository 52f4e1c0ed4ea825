// Hybrid scenarios: ambient pods (their node's ztunnel), sidecar pods (their own @weft/sidecar) and
// pods out of the mesh calling each other. The namespace `hybrid` (apps/examples/manifests/
// 50-hybrid.yaml) holds sidecar-client, sidecar-echo (both with a sidecar) and plain-echo (no
// proxy); `demo` holds the ambient ones and its waypoint. Sidecars do not skip waypoints: a
// sidecar client reaches a waypoint-bound service through the waypoint, so its L7 policy applies.
import { type JudgedCall, judgeCall, type Refuser } from '../denial.ts';
import type { CallResult, MeshDriver, StepLogger } from '../driver.ts';
import { eventually } from '../wait.ts';
import { CLIENT_ID, check, describeCall, ECHO_URL, metricLines, type Scenario } from './l4.ts';

export const SIDECAR_CLIENT = 'sidecar-client';
export const SIDECAR_ECHO = 'sidecar-echo';
export const SIDECAR_CLIENT_ID = 'spiffe://cluster.local/ns/hybrid/sa/sidecar-client';
export const SIDECAR_ECHO_ID = 'spiffe://cluster.local/ns/hybrid/sa/sidecar-echo';
export const SIDECAR_ECHO_URL = 'http://sidecar-echo.hybrid.svc.cluster.local:8080/';
const PLAIN_ECHO_URL = 'http://plain-echo.hybrid.svc.cluster.local:8080/';
/** echo-direct: an ambient pod no Service selects, so no waypoint stands in front of it. */
const ECHO_DIRECT = 'echo-direct';
/** What a mesh client calls to reach a server kind (the ambient one by its pod address). */
const urlOf = (driver: MeshDriver, server: ServerKind): string =>
  server === 'ambient' ? `http://${hostOf(driver.podIp(ECHO_DIRECT))}:8080/` : SERVER[server].url;
const hostOf = (ip: string): string => (ip.includes(':') ? `[${ip}]` : ip);
const WAYPOINT_POD = 'waypoint-0';

const ok200 = (r: CallResult): boolean => r.ok && r.response.status === 200;

export type ClientKind = 'ambient' | 'sidecar' | 'none';
export type ServerKind = 'ambient' | 'waypoint' | 'sidecar' | 'none';
export type PeerAuthMode = 'STRICT' | 'PERMISSIVE';

/** The calling pod of each mesh client kind (`none` is a plaintext caller with no pod of its own). */
const CLIENT_POD: Record<Exclude<ClientKind, 'none'>, string> = {
  ambient: 'client',
  sidecar: SIDECAR_CLIENT,
};
const CLIENT_PRINCIPAL: Record<Exclude<ClientKind, 'none'>, string> = {
  ambient: 'cluster.local/ns/demo/sa/client',
  sidecar: 'cluster.local/ns/hybrid/sa/sidecar-client',
};

/**
 * Each server kind: what a mesh client calls, and the pod a plaintext caller hits (a port the
 * waypoint guards for `waypoint`: echo-v1, behind the echo Services).
 */
const SERVER: Record<ServerKind, { readonly url: string; readonly pod: string; readonly what: string }> = {
  ambient: { url: '', pod: ECHO_DIRECT, what: 'echo-direct (ambient)' },
  waypoint: { url: ECHO_URL, pod: 'echo-v1', what: 'echo (ambient + waypoint)' },
  sidecar: { url: SIDECAR_ECHO_URL, pod: SIDECAR_ECHO, what: 'sidecar-echo (sidecar)' },
  none: { url: PLAIN_ECHO_URL, pod: 'plain-echo', what: 'plain-echo (no proxy)' },
};

export interface MatrixCell {
  readonly client: ClientKind;
  readonly server: ServerKind;
  readonly mode: PeerAuthMode;
  readonly expect: 'allowed' | 'refused';
  readonly why: string;
}

/**
 * What each cell must do. A mesh client (ambient or sidecar) reaches every server under both modes:
 * HBONE with mutual TLS to a proxied server, plain TCP to one with no proxy. A plaintext caller is
 * refused by a proxied server under STRICT, let in under PERMISSIVE, except to a port a waypoint
 * guards (it would skip the waypoint's L7 policy); a server with no proxy takes anything.
 */
export const MATRIX: readonly MatrixCell[] = (['STRICT', 'PERMISSIVE'] as const).flatMap((mode) =>
  (['ambient', 'sidecar', 'none'] as const).flatMap((client) =>
    (['ambient', 'waypoint', 'sidecar', 'none'] as const).map((server): MatrixCell => {
      if (client !== 'none') return { client, server, mode, expect: 'allowed', why: 'mesh client' };
      if (server === 'none') return { client, server, mode, expect: 'allowed', why: 'no proxy to refuse it' };
      if (server === 'waypoint')
        return { client, server, mode, expect: 'refused', why: 'only the waypoint may reach a guarded port' };
      return mode === 'STRICT'
        ? { client, server, mode, expect: 'refused', why: 'STRICT wants mutual TLS' }
        : { client, server, mode, expect: 'allowed', why: 'PERMISSIVE takes plaintext' };
    }),
  ),
);

function call(driver: MeshDriver, client: ClientKind, server: ServerKind): Promise<CallResult> {
  const s = SERVER[server];
  return client === 'none'
    ? driver.plaintextRequest(s.pod, 8080, '/')
    : driver.request(CLIENT_POD[client], urlOf(driver, server), { timeoutMs: 3000 });
}

/**
 * Who refuses a plaintext caller to a proxied server, and the reason it counts: the server's
 * ztunnel (ambient), echo-v1's ztunnel (a port the waypoint guards: STRICT refuses plaintext
 * first, PERMISSIVE still refuses a caller that skips the waypoint), or the server's own sidecar.
 */
function plaintextRefuser(driver: MeshDriver, server: ServerKind, mode: PeerAuthMode): Refuser[] {
  switch (server) {
    case 'ambient':
      return [{ component: driver.nodeOf(ECHO_DIRECT), reasons: ['strict_mtls'] }];
    case 'waypoint':
      return [
        {
          component: driver.nodeOf(SERVER.waypoint.pod),
          reasons: [mode === 'STRICT' ? 'strict_mtls' : 'waypoint_bypass'],
        },
      ];
    case 'sidecar':
      return [{ component: SIDECAR_ECHO, reasons: ['strict_mtls'] }];
    case 'none':
      return [];
  }
}

/** PERMISSIVE for both namespaces, over the mesh-wide STRICT of 30-peer-authentication.yaml. */
const HYBRID_PERMISSIVE = ['demo', 'hybrid']
  .map(
    (ns) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: hybrid-permissive
  namespace: ${ns}
spec:
  mtls:
    mode: PERMISSIVE
`,
  )
  .join('---\n');

async function checkCells(driver: MeshDriver, log: StepLogger, cells: readonly MatrixCell[]): Promise<void> {
  for (const cell of cells) {
    // A refusal counts only when the server's proxy counted it: a broken path fails calls too.
    const refusers = plaintextRefuser(driver, cell.server, cell.mode);
    const want = (j: JudgedCall): boolean =>
      cell.expect === 'allowed' ? ok200(j.result) : j.verdict === 'denied';
    const judged = await eventually(
      `${cell.client} -> ${cell.server} under ${cell.mode} to be ${cell.expect}`,
      () => judgeCall(driver, refusers, () => call(driver, cell.client, cell.server)),
      want,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    log(
      `${cell.mode.padEnd(10)} ${cell.client.padEnd(7)} -> ${SERVER[cell.server].what.padEnd(26)} ${cell.expect} (${cell.why}): ${cell.expect === 'allowed' ? describeCall(judged.result) : judged.detail}`,
    );
  }
}

export const hybridMatrix: Scenario = {
  name: 'hybrid-matrix',
  title:
    'client {ambient, sidecar, none} x server {ambient, ambient + waypoint, sidecar, none}, under STRICT then PERMISSIVE',
  async run(driver, log) {
    await checkCells(
      driver,
      log,
      MATRIX.filter((c) => c.mode === 'STRICT'),
    );
    await driver.apply('hybrid-permissive.yaml', HYBRID_PERMISSIVE);
    log('applied PeerAuthentication hybrid-permissive (PERMISSIVE) in demo and hybrid');
    try {
      await checkCells(
        driver,
        log,
        MATRIX.filter((c) => c.mode === 'PERMISSIVE'),
      );
    } finally {
      await driver.remove('hybrid-permissive.yaml');
    }
    await eventually(
      'STRICT to apply again to sidecar-echo',
      () =>
        judgeCall(driver, plaintextRefuser(driver, 'sidecar', 'STRICT'), () =>
          call(driver, 'none', 'sidecar'),
        ),
      (j) => j.verdict === 'denied',
      { timeoutMs: 5000, intervalMs: 50 },
    );
    log('removed it: mesh-wide STRICT again (a plaintext caller is refused by sidecar-echo)');
  },
};

export const sidecarThroughWaypoint: Scenario = {
  name: 'hybrid-sidecar-to-waypoint',
  title: 'a sidecar client calls the ambient echo service through its waypoint (sidecars do not skip it)',
  async run(driver, log) {
    const result = await eventually(
      'sidecar-client -> echo',
      () => driver.request(SIDECAR_CLIENT, ECHO_URL),
      ok200,
      { timeoutMs: 20_000 },
    );
    log(`sidecar-client -> ${ECHO_URL}: ${describeCall(result)}`);
    const lines = await eventually(
      "the waypoint's istio_requests_total for the sidecar client",
      async () =>
        metricLines(await driver.metrics(WAYPOINT_POD), 'istio_requests_total', {
          reporter: 'waypoint',
          source_principal: SIDECAR_CLIENT_ID,
          response_code: '200',
        }),
      (ls) => ls.length > 0,
    );
    log(`waypoint-0: ${lines[0]}`);
    const logged = await eventually(
      "the waypoint's access log to name the sidecar client",
      async () => (await driver.accessLog(WAYPOINT_POD)).filter((l) => l.includes(SIDECAR_CLIENT_ID)),
      (ls) => ls.length > 0,
    );
    log(`waypoint-0 access log: ${logged.at(-1)}`);
  },
};

export const ambientToSidecarStrict: Scenario = {
  name: 'hybrid-ambient-to-sidecar',
  title:
    'an ambient client calls a sidecar server under mesh-wide STRICT: mutual TLS, the sidecar reports it',
  async run(driver, log) {
    const result = await eventually(
      'client -> sidecar-echo',
      () => driver.request('client', SIDECAR_ECHO_URL),
      ok200,
      { timeoutMs: 20_000 },
    );
    log(`client (ambient) -> ${SIDECAR_ECHO_URL}: ${describeCall(result)}`);
    const lines = await eventually(
      'istio_requests_total{reporter="destination"} on sidecar-echo for the ambient client',
      async () =>
        metricLines(await driver.metrics(SIDECAR_ECHO), 'istio_requests_total', {
          reporter: 'destination',
          source_principal: CLIENT_ID,
          destination_principal: SIDECAR_ECHO_ID,
          connection_security_policy: 'mutual_tls',
          response_code: '200',
        }),
      (ls) => ls.length > 0,
    );
    log(`sidecar-echo's sidecar: ${lines[0]}`);
  },
};

export const plaintextToStrictSidecar: Scenario = {
  name: 'hybrid-plaintext-to-sidecar',
  title: 'a plaintext caller is refused by a sidecar server under STRICT, and counted',
  async run(driver, log) {
    const refused = await judgeCall(driver, plaintextRefuser(driver, 'sidecar', 'STRICT'), () =>
      driver.plaintextRequest(SIDECAR_ECHO, 8080, '/'),
    );
    log(`plaintext caller -> sidecar-echo:8080 under mesh-wide STRICT: ${refused.detail}`);
    check(
      refused.verdict === 'denied',
      `a plaintext caller must be refused by a STRICT sidecar: ${refused.detail}`,
    );
    const counted = await eventually(
      'weft_rejected_total{reason="strict_mtls"} on sidecar-echo',
      async () =>
        metricLines(await driver.metrics(SIDECAR_ECHO), 'weft_rejected_total', {
          component: 'sidecar',
          reason: 'strict_mtls',
        }),
      (ls) => ls.length > 0,
    );
    log(`sidecar-echo's sidecar: ${counted[0]}`);
  },
};

export const sidecarToSidecar: Scenario = {
  name: 'hybrid-sidecar-to-sidecar',
  title: 'a sidecar client calls a sidecar server: HBONE between the two sidecars, both report it',
  async run(driver, log) {
    const result = await eventually(
      'sidecar-client -> sidecar-echo',
      () => driver.request(SIDECAR_CLIENT, SIDECAR_ECHO_URL),
      ok200,
      { timeoutMs: 20_000 },
    );
    log(`sidecar-client -> ${SIDECAR_ECHO_URL}: ${describeCall(result)}`);
    for (const [pod, reporter] of [
      [SIDECAR_CLIENT, 'source'],
      [SIDECAR_ECHO, 'destination'],
    ] as const) {
      const lines = await eventually(
        `istio_requests_total{reporter="${reporter}"} on ${pod}`,
        async () =>
          metricLines(await driver.metrics(pod), 'istio_requests_total', {
            reporter,
            source_principal: SIDECAR_CLIENT_ID,
            destination_principal: SIDECAR_ECHO_ID,
            response_code: '200',
          }),
        (ls) => ls.length > 0,
      );
      log(`${pod}'s sidecar: ${lines[0]}`);
    }
  },
};

/** A DENY from one client's principal on one server kind, in the form its enforcer reads. */
function denyPolicy(server: Exclude<ServerKind, 'none'>, principal: string): string {
  const target =
    server === 'waypoint'
      ? // The waypoint enforces policies attached to the Service it serves.
        { namespace: 'demo', attach: 'targetRefs:\n    - group: ""\n      kind: Service\n      name: echo' }
      : server === 'ambient'
        ? // echo-direct's node ztunnel enforces it at L4.
          { namespace: 'demo', attach: 'selector:\n    matchLabels:\n      app: echo-direct' }
        : // sidecar-echo's own sidecar enforces it.
          { namespace: 'hybrid', attach: 'selector:\n    matchLabels:\n      app: sidecar-echo' };
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: hybrid-deny
  namespace: ${target.namespace}
spec:
  ${target.attach}
  action: DENY
  rules:
    - from:
        - source:
            principals: ["${principal}"]
`;
}

/** The cells a DENY is checked in: every mesh client to every server with a proxy to enforce it. */
export const DENY_CELLS: readonly {
  client: Exclude<ClientKind, 'none'>;
  server: Exclude<ServerKind, 'none'>;
}[] = (['ambient', 'sidecar'] as const).flatMap((client) =>
  (['sidecar', 'ambient', 'waypoint'] as const).map((server) => ({ client, server })),
);

export const hybridDenyLive: Scenario = {
  name: 'hybrid-deny-live',
  title:
    'a DENY AuthorizationPolicy blocks the caller within a second in every cell (ambient and sidecar clients to sidecar, ambient and waypoint servers); removing it restores the call',
  async run(driver, log) {
    for (const { client, server } of DENY_CELLS) {
      const pod = CLIENT_POD[client];
      const url = urlOf(driver, server);
      await eventually(
        `${pod} -> ${SERVER[server].what} before the policy`,
        () => driver.request(pod, url),
        ok200,
        {
          timeoutMs: 10_000,
        },
      );
      const t0 = Date.now();
      await driver.apply('hybrid-deny.yaml', denyPolicy(server, CLIENT_PRINCIPAL[client]));
      // The waypoint and sidecar-echo's sidecar enforce at L7 and answer 403; echo-direct's
      // ztunnel refuses the tunnel (the client sees its connection closed, or a 503 from its
      // own sidecar) and counts the refusal.
      const refusers: Refuser[] =
        server === 'ambient' ? [{ component: driver.nodeOf(ECHO_DIRECT), reasons: ['denied'] }] : [];
      const denied = await eventually(
        `the DENY to block ${pod} -> ${SERVER[server].what}`,
        () => judgeCall(driver, refusers, () => driver.request(pod, url, { timeoutMs: 2000 })),
        (j) => j.verdict === 'denied',
        { timeoutMs: 5000, intervalMs: 50 },
      );
      const blockedMs = Date.now() - t0;
      const t1 = Date.now();
      await driver.remove('hybrid-deny.yaml');
      await eventually(
        `${pod} -> ${SERVER[server].what} to work again`,
        () => driver.request(pod, url),
        ok200,
        {
          timeoutMs: 5000,
          intervalMs: 50,
        },
      );
      log(
        `${client.padEnd(7)} -> ${SERVER[server].what.padEnd(26)} DENY from ${CLIENT_PRINCIPAL[client]}: ${denied.detail} ${blockedMs} ms after the write; removed, 200 again after ${Date.now() - t1} ms`,
      );
      check(
        blockedMs <= 1000,
        `the DENY on ${server} took ${blockedMs} ms to apply to ${client}; the goal is 1 s`,
      );
    }
  },
};

export const HYBRID_SCENARIOS: readonly Scenario[] = [
  sidecarThroughWaypoint,
  ambientToSidecarStrict,
  plaintextToStrictSidecar,
  sidecarToSidecar,
  hybridDenyLive,
  hybridMatrix,
];
