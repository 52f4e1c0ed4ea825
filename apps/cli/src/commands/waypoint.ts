// weft waypoint generate|apply|list: the waypoint Gateway and the use-waypoint labels.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compile,
  LABEL_USE_WAYPOINT,
  LABEL_WAYPOINT_FOR,
  type MeshSnapshot,
  WAYPOINT_GATEWAY_CLASS,
} from '@weft/policy';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CommandContext } from '../context.ts';
import { usageError } from '../errors.ts';
import { configDir, setLabel } from '../file-source.ts';
import { table } from '../format.ts';
import { loadManifests } from './analyze.ts';

const FOR = ['service', 'workload', 'all', 'none'] as const;

export interface WaypointOptions {
  readonly namespace: string;
  readonly name: string;
  readonly for?: string;
}

/** The Gateway object weftd reads as a waypoint. */
export function waypointGateway(o: WaypointOptions): Record<string, unknown> {
  if (o.for !== undefined && !(FOR as readonly string[]).includes(o.for))
    throw usageError(`--for ${o.for}: one of ${FOR.join(', ')}`);
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      ...(o.for !== undefined ? { labels: { [LABEL_WAYPOINT_FOR]: o.for } } : {}),
    },
    spec: {
      gatewayClassName: WAYPOINT_GATEWAY_CLASS,
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
    },
  };
}

interface WaypointRow {
  readonly waypoint: string;
  readonly trafficType: string;
  readonly addresses: readonly string[];
  readonly services: readonly string[];
  readonly workloads: readonly string[];
}

export function waypointRows(s: MeshSnapshot): WaypointRow[] {
  return Object.values(s.waypoints).map((w) => ({
    waypoint: w.key,
    trafficType: w.trafficType,
    addresses: w.addresses,
    services: Object.values(s.services)
      .filter((v) => v.waypoint?.key === w.key)
      .map((v) => v.hostname),
    workloads: Object.values(s.workloads)
      .filter((v) => v.waypoint?.key === w.key)
      .map((v) => `${v.namespace}/${v.name}`),
  }));
}

export function registerWaypoint(program: Command, ctx: CommandContext): void {
  const wp = program
    .command('waypoint')
    .description('waypoints: the Gateway object and the use-waypoint labels');
  const common = (c: Command): Command =>
    c
      .option('-n, --namespace <ns>', 'namespace of the waypoint', 'default')
      .option('--name <name>', 'name of the Gateway', 'waypoint')
      .option('--for <type>', `traffic the waypoint serves (${FOR.join('|')})`);
  common(wp.command('generate'))
    .description('print the waypoint Gateway (YAML unless -o json)')
    .action((o: WaypointOptions) => {
      const gw = waypointGateway(o);
      ctx.io.out(ctx.globals().output === 'json' ? `${JSON.stringify(gw, null, 2)}\n` : stringify(gw));
    });
  common(wp.command('apply'))
    .requiredOption('--config-dir <dir>', 'the folder weftd reads manifests from (its file source)')
    .option('--enroll-namespace', `also label the namespace ${LABEL_USE_WAYPOINT}=<name>`)
    .description('write the Gateway into the file source (and label the namespace to use it)')
    .addHelpText(
      'after',
      '\nExample: weft waypoint apply -n demo --enroll-namespace --config-dir .weft/local/config',
    )
    .action((o: WaypointOptions & { configDir: string; enrollNamespace?: boolean }) => {
      const dir = configDir(o.configDir, ctx.io.cwd);
      const gw = waypointGateway(o);
      const file = join(dir, `waypoint-${o.namespace}-${o.name}.yaml`);
      writeFileSync(file, stringify(gw));
      const labelled =
        o.enrollNamespace === true
          ? setLabel(dir, { kind: 'Namespace', name: o.namespace }, LABEL_USE_WAYPOINT, o.name)
          : undefined;
      ctx.print(
        { gateway: `${o.namespace}/${o.name}`, file, ...(labelled !== undefined ? { labelled } : {}) },
        () =>
          [
            `waypoint ${o.namespace}/${o.name} written to ${file}`,
            ...(labelled !== undefined
              ? [`namespace ${o.namespace} labelled ${LABEL_USE_WAYPOINT}=${o.name} (${labelled})`]
              : []),
            '',
          ].join('\n'),
      );
    });
  wp.command('list')
    .option('-f, --file <path...>', 'list from manifests instead of the live snapshot')
    .description('the waypoints and what uses them')
    .action(async (o: { file?: string[] }) => {
      const snap =
        o.file !== undefined
          ? compile(loadManifests(o.file, ctx.io.cwd).objects).snapshot
          : await ctx.mesh().weftdJson<MeshSnapshot>('/debug/config_dump');
      const rows = waypointRows(snap);
      ctx.print({ waypoints: rows }, () =>
        table(
          ['WAYPOINT', 'FOR', 'ADDRESSES', 'SERVICES', 'WORKLOADS'],
          rows.map((r) => [
            r.waypoint,
            r.trafficType,
            r.addresses.join(','),
            String(r.services.length),
            String(r.workloads.length),
          ]),
        ),
      );
    });
}
