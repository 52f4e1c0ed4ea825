// weft config <proxy> <section>: a proxy's live config from its own admin endpoint, and where it
// differs from what weftd holds (the snapshot weftd compiled and sent).
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { usageError } from '../errors.ts';
import { table } from '../format.ts';
import type { ProxyEndpoint } from '../mesh.ts';
import { proxyCerts } from './check.ts';

export const SECTIONS = ['workloads', 'services', 'policies', 'routes', 'certs', 'all'] as const;
export type Section = (typeof SECTIONS)[number];

/** The proxy's store, wherever its admin puts it (ztunnel at the top, waypoint/sidecar under `config`). */
interface Store {
  readonly version?: string;
  readonly workloads?: readonly {
    uid: string;
    namespace: string;
    name: string;
    mode: string;
    ips: string[];
    hash?: string;
  }[];
  readonly services?: readonly {
    hostname: string;
    vips: string[];
    ports: { port: number }[];
    hash?: string;
  }[];
  readonly authorizationPolicies?: readonly { key: string; action: string; scope?: string; hash?: string }[];
  readonly routes?: readonly { key?: string; hash?: string; [k: string]: unknown }[];
}
interface WeftdSnapshot {
  readonly version: string;
  readonly workloads: Record<string, { hash: string }>;
  readonly services: Record<string, { hash: string }>;
  readonly authorizationPolicies: Record<string, { hash: string }>;
}

/** Keys the proxy holds that weftd does not, the reverse, and the ones whose hash differs. */
export function diffKeys(
  proxy: readonly { key: string; hash?: string | undefined }[],
  weftd: Readonly<Record<string, { hash: string }>>,
  /** false for a type weftd sends each proxy a subset of (policies): absence is expected. */
  complete = true,
): string[] {
  const out: string[] = [];
  for (const p of proxy) {
    const w = weftd[p.key];
    if (w === undefined) out.push(`${p.key}: on the proxy, not in weftd's snapshot`);
    else if (p.hash !== undefined && p.hash !== w.hash)
      out.push(`${p.key}: differs (proxy ${p.hash}, weftd ${w.hash})`);
  }
  if (!complete) return out;
  const held = new Set(proxy.map((p) => p.key));
  for (const k of Object.keys(weftd))
    if (!held.has(k)) out.push(`${k}: in weftd's snapshot, not on the proxy`);
  return out;
}

export function registerConfig(program: Command, ctx: CommandContext): void {
  program
    .command('config')
    .argument('<proxy>', 'node-a, waypoint-0, sidecar-echo, … (weft proxy-status lists them)')
    .argument('[section]', SECTIONS.join('|'), 'all')
    .description("a proxy's live config from its own admin endpoint, with differences from weftd's snapshot")
    .addHelpText(
      'after',
      '\nExit: 0 shown, 2 unknown proxy or section, 3 proxy unreachable.\nExample: weft config node-a workloads',
    )
    .action(async (name: string, section: string) => {
      if (!(SECTIONS as readonly string[]).includes(section))
        throw usageError(`unknown section ${section}; one of ${SECTIONS.join(', ')}`);
      const mesh = ctx.mesh();
      const p: ProxyEndpoint = mesh.proxy(name);
      const dump = await mesh.getJson<Record<string, unknown>>(`${p.admin}/config_dump`, `${p.name} admin`);
      const store = (p.kind === 'ztunnel' ? dump : (dump.config ?? {})) as Store;
      const want = (s: Section): boolean => section === 'all' || section === s;
      const value: Record<string, unknown> = { proxy: p.id, version: store.version };
      if (want('workloads')) value.workloads = store.workloads ?? [];
      if (want('services')) value.services = store.services ?? [];
      if (want('policies')) value.policies = store.authorizationPolicies ?? [];
      if (want('routes')) value.routes = store.routes ?? [];
      if (want('certs'))
        value.certs =
          p.kind === 'waypoint' ? 'the waypoint admin has no /certs endpoint' : await proxyCerts(mesh, p);
      // What weftd holds, when the token allows reading it.
      let diff: string[] | undefined;
      try {
        const snap = await mesh.weftdJson<WeftdSnapshot>('/debug/config_dump');
        diff = [
          ...(want('workloads')
            ? diffKeys(
                (store.workloads ?? []).map((w) => ({ key: w.uid, hash: w.hash })),
                snap.workloads,
              )
            : []),
          ...(want('services')
            ? diffKeys(
                (store.services ?? []).map((s) => ({ key: s.hostname, hash: s.hash })),
                snap.services,
              )
            : []),
          ...(want('policies')
            ? diffKeys(store.authorizationPolicies ?? [], snap.authorizationPolicies, false)
            : []),
        ];
        value.weftdVersion = snap.version;
        value.differences = diff;
      } catch {
        value.differences = 'weftd snapshot not readable';
      }
      ctx.print(value, () => {
        const parts: string[] = [`proxy ${p.id} version ${store.version ?? '?'}\n`];
        if (want('workloads'))
          parts.push(
            `\nWORKLOADS\n${table(
              ['NAMESPACE', 'NAME', 'MODE', 'IPS', 'UID'],
              (store.workloads ?? []).map((w) => [w.namespace, w.name, w.mode, w.ips.join(','), w.uid]),
            )}`,
          );
        if (want('services'))
          parts.push(
            `\nSERVICES\n${table(
              ['HOSTNAME', 'VIPS', 'PORTS'],
              (store.services ?? []).map((s) => [
                s.hostname,
                s.vips.join(','),
                s.ports.map((x) => x.port).join(','),
              ]),
            )}`,
          );
        if (want('policies'))
          parts.push(
            `\nPOLICIES\n${table(
              ['KEY', 'ACTION', 'SCOPE'],
              (store.authorizationPolicies ?? []).map((a) => [a.key, a.action, a.scope ?? '']),
            )}`,
          );
        if (want('routes'))
          parts.push(
            `\nROUTES\n${table(
              ['KEY'],
              (store.routes ?? []).map((r) => [String(r.key ?? JSON.stringify(r).slice(0, 80))]),
            )}`,
          );
        if (want('certs'))
          parts.push(
            `\nCERTS\n${
              typeof value.certs === 'string'
                ? `${value.certs}\n`
                : table(
                    ['IDENTITY', 'STATE', 'NOT AFTER'],
                    (value.certs as { identity: string; state: string; notAfter?: string }[]).map((c) => [
                      c.identity,
                      c.state,
                      c.notAfter ?? '-',
                    ]),
                  )
            }`,
          );
        if (Array.isArray(diff))
          parts.push(
            diff.length === 0
              ? `\n${ctx.colors.green('√')} matches weftd's snapshot ${String(value.weftdVersion)}\n`
              : `\n${ctx.colors.yellow('differences from weftd')}:\n${diff.map((d) => `  ${d}`).join('\n')}\n`,
          );
        return parts.join('');
      });
    });
}
