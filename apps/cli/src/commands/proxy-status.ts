// weft proxy-status [proxy]: per proxy and resource type, what weftd sent and what the proxy acked.
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { EXIT } from '../errors.ts';
import { table } from '../format.ts';

export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT' | 'NOT CONNECTED';

export interface SynczType {
  readonly type: string;
  readonly versionSent?: string;
  readonly versionAcked?: string;
  readonly resources?: number;
  readonly pendingNonce?: string;
  readonly acks?: number;
  readonly nacks?: number;
  readonly lastNack?: { readonly message: string; readonly version?: string; readonly at?: string };
}
export interface SynczProxy {
  readonly id: string;
  readonly kind: string;
  readonly connectedAt?: string;
  readonly types: readonly SynczType[];
}
export interface Syncz {
  readonly proxies: readonly SynczProxy[];
}

export interface TypeStatus {
  readonly type: string;
  readonly state: SyncState;
  readonly sent: string;
  readonly acked: string;
  readonly nack?: string;
}
export interface ProxyStatusRow {
  readonly proxy: string;
  readonly kind: string;
  readonly state: SyncState;
  readonly types: readonly TypeStatus[];
}

/** One resource type's state, as istioctl names them. */
export function typeState(t: SynczType): SyncState {
  if (t.versionSent === undefined || t.versionSent === '') return 'NOT SENT';
  if (t.versionAcked === t.versionSent) return 'SYNCED';
  if (t.lastNack !== undefined && (t.lastNack.version === undefined || t.lastNack.version === t.versionSent))
    return 'NACKED';
  return 'STALE';
}

const RANK: Record<SyncState, number> = { SYNCED: 0, 'NOT SENT': 1, STALE: 2, NACKED: 3, 'NOT CONNECTED': 4 };
export const worst = (states: readonly SyncState[]): SyncState =>
  states.reduce<SyncState>((a, b) => (RANK[b] > RANK[a] ? b : a), 'SYNCED');

const shortType = (t: string): string => t.split('.').pop() ?? t;

export function proxyStatusRows(
  syncz: Syncz,
  expected: readonly { id: string; kind: string }[],
): ProxyStatusRow[] {
  const rows: ProxyStatusRow[] = syncz.proxies.map((p) => {
    const types = p.types.map((t) => ({
      type: shortType(t.type),
      state: typeState(t),
      sent: t.versionSent ?? '',
      acked: t.versionAcked ?? '',
      ...(t.lastNack !== undefined && typeState(t) === 'NACKED' ? { nack: t.lastNack.message } : {}),
    }));
    return { proxy: p.id, kind: p.kind, state: worst(types.map((t) => t.state)), types };
  });
  for (const e of expected)
    if (!rows.some((r) => r.proxy === e.id))
      rows.push({ proxy: e.id, kind: e.kind, state: 'NOT CONNECTED', types: [] });
  return rows.sort((a, b) => (a.proxy < b.proxy ? -1 : a.proxy > b.proxy ? 1 : 0));
}

export function proxyStatusTable(rows: readonly ProxyStatusRow[]): string {
  const typeNames = [...new Set(rows.flatMap((r) => r.types.map((t) => t.type)))];
  const body = rows.map((r) => [
    r.proxy,
    r.kind,
    r.state,
    ...typeNames.map((n) => {
      const t = r.types.find((x) => x.type === n);
      if (t === undefined) return '-';
      return t.state === 'SYNCED' ? `SYNCED (${t.acked})` : `${t.state} (${t.sent}/${t.acked || '-'})`;
    }),
  ]);
  const nacks = rows.flatMap((r) =>
    r.types.filter((t) => t.nack !== undefined).map((t) => `${r.proxy} ${t.type}: ${t.nack}`),
  );
  return (
    table(['PROXY', 'KIND', 'STATUS', ...typeNames.map((n) => n.toUpperCase())], body) +
    (nacks.length > 0 ? `\nNACK errors:\n${nacks.map((n) => `  ${n}`).join('\n')}\n` : '')
  );
}

export function registerProxyStatus(program: Command, ctx: CommandContext): void {
  program
    .command('proxy-status')
    .argument('[proxy]', 'one proxy (node-a, waypoint-0, sidecar-echo or a weftd id such as ztunnel~node-a)')
    .description(
      'versions weftd sent and each proxy acked, per resource type (SYNCED / STALE / NACKED / NOT SENT)',
    )
    .addHelpText(
      'after',
      '\nExit: 0 all SYNCED, 1 a proxy is STALE, NACKED or not connected, 3 weftd unreachable.',
    )
    .action(async (proxy: string | undefined) => {
      const mesh = ctx.mesh();
      const syncz = await mesh.weftdJson<Syncz>('/debug/syncz');
      const expected = mesh.proxies();
      let rows = proxyStatusRows(syncz, expected);
      if (proxy !== undefined) {
        const id = rows.some((r) => r.proxy === proxy) ? proxy : mesh.proxy(proxy).id;
        rows = rows.filter((r) => r.proxy === id);
      }
      ctx.print({ proxies: rows }, () => proxyStatusTable(rows));
      if (rows.some((r) => r.state !== 'SYNCED' && r.state !== 'NOT SENT')) ctx.fail(EXIT.failed);
    });
}
