// weft authz check: the decision the enforcing proxy would make for one request, with the same
// policy selection (packages/l7/src/role.ts, proxy-core's policiesForWorkload) and authorize().
import {
  type AuthzDecision,
  type AuthzPolicy,
  type AuthzRequest,
  authorize,
  compile,
  type MeshSnapshot,
  policiesFor,
  type Service,
  type Workload,
} from '@weft/policy';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { EXIT, usageError } from '../errors.ts';
import { table } from '../format.ts';
import { loadManifests } from './analyze.ts';

export type Enforcer = 'waypoint' | 'sidecar' | 'ztunnel' | 'proxyless' | 'none';

export interface AuthzCheckInput {
  readonly from: string;
  readonly to: string;
  readonly port?: number;
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

export interface AuthzCheckResult {
  readonly source: string;
  readonly destination: string;
  readonly enforcedBy: Enforcer;
  readonly proxy: string;
  readonly mode: 'L4' | 'L7';
  readonly port: number;
  readonly policies: readonly string[];
  readonly decision: AuthzDecision['action'];
  readonly code: AuthzDecision['code'];
  readonly policy?: string;
  readonly rule?: number;
  readonly reason: string;
}

function findWorkload(s: MeshSnapshot, ref: string): Workload | undefined {
  const ws = Object.values(s.workloads);
  const [a, b] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
  return (
    ws.find((w) => w.name === b && (a === undefined || w.namespace === a)) ??
    ws.find((w) => w.ips.includes(ref))
  );
}

function findService(s: MeshSnapshot, ref: string): Service | undefined {
  const host = ref.split(':')[0] ?? ref;
  const direct = s.services[host];
  if (direct !== undefined) return direct;
  const svcs = Object.values(s.services);
  const [a, b] = host.includes('/') ? host.split('/', 2) : [undefined, host];
  return (
    svcs.find((v) => v.name === b && (a === undefined || v.namespace === a)) ??
    svcs.find((v) => v.hostname.startsWith(`${host}.`)) ??
    svcs.find((v) => v.vips.includes(host))
  );
}

const union = (lists: readonly (readonly AuthzPolicy[])[]): AuthzPolicy[] => {
  const byKey = new Map<string, AuthzPolicy>();
  for (const l of lists) for (const p of l) byKey.set(p.key, p);
  return [...byKey.values()];
};

/** The decision for one request, evaluated where the mesh evaluates it. */
export function authzCheck(snapshot: MeshSnapshot, input: AuthzCheckInput): AuthzCheckResult {
  const src = input.from.startsWith('spiffe://') ? undefined : findWorkload(snapshot, input.from);
  if (src === undefined && !input.from.startsWith('spiffe://') && input.from !== 'plaintext')
    throw usageError(
      `unknown source ${input.from}: name a pod (ns/name), a spiffe:// identity or "plaintext"`,
    );
  const principal = input.from.startsWith('spiffe://')
    ? input.from
    : src !== undefined && src.mode !== 'none'
      ? src.identity
      : undefined;

  // The destination: a Service (by name, ns/name, hostname or VIP) before a pod.
  const svc = findService(snapshot, input.to);
  const dstWorkload = svc === undefined ? findWorkload(snapshot, input.to) : undefined;
  if (svc === undefined && dstWorkload === undefined)
    throw usageError(
      `unknown destination ${input.to}: name a Service (ns/name or hostname) or a pod (ns/name)`,
    );

  const servicePort = input.port ?? svc?.ports[0]?.port ?? dstWorkload?.ports[0]?.port ?? 0;
  let enforcedBy: Enforcer;
  let proxy: string;
  let policies: AuthzPolicy[];
  let port = servicePort;
  let mode: 'L4' | 'L7' = 'L7';
  const waypoint = svc?.waypoint ?? dstWorkload?.waypoint;
  if (waypoint !== undefined) {
    enforcedBy = 'waypoint';
    proxy = `waypoint~${waypoint.key}`;
    policies = policiesFor(
      snapshot,
      svc !== undefined
        ? { service: svc.hostname, waypoint: waypoint.key }
        : { workload: dstWorkload?.uid ?? '', waypoint: waypoint.key },
    );
  } else {
    // No waypoint: the endpoint's own data plane decides.
    const endpoint =
      dstWorkload ??
      (svc !== undefined
        ? svc.endpoints
            .map((e) => snapshot.workloads[e.workloadUid])
            .find((w): w is Workload => w !== undefined)
        : undefined);
    if (endpoint === undefined)
      throw usageError(`${input.to} has no endpoints: no proxy would receive the request`);
    if (svc !== undefined) {
      const sp = svc.ports.find((p) => p.port === servicePort);
      const ep = svc.endpoints.find((e) => e.workloadUid === endpoint.uid && e.port === servicePort);
      port = ep?.targetPort ?? (typeof sp?.targetPort === 'number' ? sp.targetPort : servicePort);
    }
    switch (endpoint.mode) {
      case 'sidecar':
        enforcedBy = 'sidecar';
        proxy = `sidecar~${endpoint.namespace}/${endpoint.name}`;
        policies = union([
          policiesFor(snapshot, { workload: endpoint.uid }),
          ...endpoint.services.map((service) => policiesFor(snapshot, { service })),
        ]);
        break;
      case 'ambient':
        enforcedBy = 'ztunnel';
        proxy = `ztunnel~${endpoint.node ?? '?'}`;
        mode = 'L4';
        policies = policiesFor(snapshot, { workload: endpoint.uid }).filter((p) => p.scope !== 'targets');
        break;
      case 'proxyless':
        enforcedBy = 'proxyless';
        proxy = `proxyless~${endpoint.namespace}/${endpoint.name}`;
        policies = policiesFor(snapshot, { workload: endpoint.uid }).filter((p) => p.scope !== 'targets');
        break;
      case 'none':
        enforcedBy = 'none';
        proxy = '-';
        policies = [];
        break;
      default: {
        const never: never = endpoint.mode;
        return never;
      }
    }
  }
  const request: AuthzRequest = {
    ...(principal !== undefined ? { sourcePrincipal: principal } : {}),
    ...(src?.ips[0] !== undefined ? { sourceIp: src.ips[0] } : {}),
    destinationPort: port,
    ...(mode === 'L7' && input.method !== undefined ? { method: input.method } : {}),
    ...(mode === 'L7' ? { path: input.path ?? '/' } : {}),
    ...(mode === 'L7' && input.headers !== undefined ? { headers: input.headers } : {}),
  };
  const d =
    enforcedBy === 'none'
      ? ({
          action: 'ALLOW',
          code: 'no-policy',
          reason: 'destination is not in the mesh: nothing enforces policy',
        } as const)
      : authorize(policies, request, { mode });
  return {
    source: principal ?? 'plaintext (no mesh identity)',
    destination:
      svc !== undefined
        ? `${svc.hostname}:${servicePort}`
        : `${dstWorkload?.namespace}/${dstWorkload?.name}:${port}`,
    enforcedBy,
    proxy,
    mode,
    port,
    policies: policies.map((p) => p.key).sort(),
    decision: d.action,
    code: d.code,
    ...('policy' in d && d.policy !== undefined ? { policy: d.policy } : {}),
    ...('rule' in d && d.rule !== undefined ? { rule: d.rule } : {}),
    reason: d.reason,
  };
}

export function parseHeaders(list: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const h of list) {
    const i = h.indexOf('=');
    if (i <= 0) throw usageError(`--header ${h}: expected name=value`);
    const k = h.slice(0, i).toLowerCase();
    const v = h.slice(i + 1);
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function registerAuthz(program: Command, ctx: CommandContext): void {
  const authz = program.command('authz').description('authorization: what the mesh would decide');
  authz
    .command('check')
    .argument('<from>', 'source pod (ns/name), a spiffe:// identity, or "plaintext"')
    .argument('<to>', 'destination Service (ns/name, hostname) or pod (ns/name)')
    .option('--method <method>', 'HTTP method')
    .option('--path <path>', 'request path', '/')
    .option('--header <k=v...>', 'request header (repeatable)')
    .option('--port <port>', 'destination (service) port; default its first port')
    .option('-f, --file <path...>', 'decide from manifests instead of the live snapshot (/debug/config_dump)')
    .description('the decision the enforcing proxy would make, and the policy and rule that made it')
    .addHelpText(
      'after',
      '\nExit: 0 ALLOW, 1 DENY, 2 bad input, 3 weftd unreachable.\nExample: weft authz check demo/client demo/echo --method GET --path /admin',
    )
    .action(
      async (
        from: string,
        to: string,
        o: { method?: string; path?: string; header?: string[]; port?: string; file?: string[] },
      ) => {
        let port: number | undefined;
        if (o.port !== undefined) {
          port = Number(o.port);
          if (!Number.isInteger(port) || port <= 0 || port > 65535)
            throw usageError(`--port ${o.port}: not a port`);
        }
        let snapshot: MeshSnapshot;
        if (o.file !== undefined) {
          const loaded = loadManifests(o.file, ctx.io.cwd);
          if (loaded.findings.length > 0)
            throw usageError(loaded.findings[0]?.message ?? 'manifests do not parse');
          snapshot = compile(loaded.objects).snapshot;
        } else snapshot = await ctx.mesh().weftdJson<MeshSnapshot>('/debug/config_dump');
        const r = authzCheck(snapshot, {
          from,
          to,
          ...(port !== undefined ? { port } : {}),
          ...(o.method !== undefined ? { method: o.method } : {}),
          ...(o.path !== undefined ? { path: o.path } : {}),
          ...(o.header !== undefined ? { headers: parseHeaders(o.header) } : {}),
        });
        ctx.print(r, () => {
          const c = ctx.colors;
          return table(
            ['FIELD', 'VALUE'],
            [
              ['decision', r.decision === 'ALLOW' ? c.green(r.decision) : c.red(r.decision)],
              ['reason', `${r.code}: ${r.reason}`],
              [
                'policy',
                r.policy !== undefined ? `${r.policy}${r.rule !== undefined ? ` rule ${r.rule}` : ''}` : '-',
              ],
              ['source', r.source],
              ['destination', r.destination],
              ['enforced by', `${r.enforcedBy} ${r.proxy} (${r.mode}, port ${r.port})`],
              ['policies', r.policies.join(', ') || '-'],
            ],
          );
        });
        if (r.decision === 'DENY') ctx.fail(EXIT.failed);
      },
    );
}
