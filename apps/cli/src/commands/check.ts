// weft check / weft status: pass/fail marks for the mesh's health, each failure with what to do.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { CliError, EXIT, type ExitCode, oneLine } from '../errors.ts';
import { ago } from '../format.ts';
import type { Mesh, ProxyEndpoint } from '../mesh.ts';
import { proxyStatusRows, type Syncz } from './proxy-status.ts';

export type CheckState = 'pass' | 'fail' | 'warn';
export interface CheckResult {
  readonly name: string;
  readonly state: CheckState;
  readonly detail: string;
  /** What to do about a failure or warning. */
  readonly hint?: string;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

interface ConfigStatus {
  readonly snapshotVersion?: string;
  readonly objects?: number;
  readonly rejected?: readonly { key: string; kind?: string; field?: string; message: string }[];
  readonly sourceErrors?: readonly unknown[];
}
export interface CertInfo {
  readonly identity: string;
  readonly state: string;
  readonly notAfter?: string;
  readonly lastError?: string;
}

/** Runs every check; a weftd that does not answer ends the run with exit 3. */
export async function runChecks(
  mesh: Mesh,
  now = Date.now(),
): Promise<{ results: CheckResult[]; exit: ExitCode }> {
  const results: CheckResult[] = [];
  try {
    await mesh.weftdText('/healthz/ready');
    results.push({ name: 'weftd reachable and ready', state: 'pass', detail: mesh.weftd });
  } catch (err) {
    results.push({
      name: 'weftd reachable and ready',
      state: 'fail',
      detail: oneLine(err),
      hint: 'start weftd (pnpm demo) or point --weftd / WEFT_ADMIN at its admin address',
    });
    return { results, exit: EXIT.unreachable };
  }

  results.push(caCheck(mesh, now));

  try {
    const status = await mesh.weftdJson<ConfigStatus>('/debug/config_status');
    const rejected = status.rejected ?? [];
    const sourceErrors = status.sourceErrors ?? [];
    results.push(
      rejected.length === 0 && sourceErrors.length === 0
        ? {
            name: 'config objects accepted',
            state: 'pass',
            detail: `${status.objects ?? 0} objects, snapshot ${status.snapshotVersion ?? '?'}`,
          }
        : {
            name: 'config objects accepted',
            state: 'fail',
            detail: [
              ...rejected.map((r) => `${r.key}${r.field ? ` ${r.field}` : ''}: ${r.message}`),
              ...sourceErrors.map((e) => `source: ${oneLine(typeof e === 'string' ? e : JSON.stringify(e))}`),
            ].join('; '),
            hint: 'fix the objects named (weft analyze -f <config dir> shows field and fix); weftd serves their last valid version',
          },
    );
  } catch (err) {
    results.push(failFrom('config objects accepted', err));
  }

  try {
    const syncz = await mesh.weftdJson<Syncz>('/debug/syncz');
    const rows = proxyStatusRows(syncz, mesh.proxies());
    const bad = rows.filter((r) => r.state !== 'SYNCED' && r.state !== 'NOT SENT');
    results.push(
      bad.length === 0
        ? { name: 'proxies connected and in sync', state: 'pass', detail: `${rows.length} proxies SYNCED` }
        : {
            name: 'proxies connected and in sync',
            state: 'fail',
            detail: bad.map((r) => `${r.proxy} ${r.state}`).join(', '),
            hint: 'weft proxy-status shows the NACK errors; restart a proxy that is not connected',
          },
    );
  } catch (err) {
    results.push(failFrom('proxies connected and in sync', err));
  }

  results.push(await certCheck(mesh, now));
  const exit = results.some((r) => r.state === 'fail') ? EXIT.failed : EXIT.ok;
  return { results, exit };
}

function failFrom(name: string, err: unknown): CheckResult {
  return {
    name,
    state: 'fail',
    detail: oneLine(err),
    hint:
      err instanceof CliError && err.exitCode === EXIT.usage
        ? 'pass a weft-system token (--token-file .weft/local/tokens.txt holds them)'
        : 'check that weftd is running',
  };
}

/** The root's expiry from the CA folder next to the endpoints file (the local demo's `ca/`). */
function caCheck(mesh: Mesh, now: number): CheckResult {
  const name = 'CA root certificate valid';
  const file = join(dirname(mesh.endpointsPath), 'ca', 'root-cert.pem');
  if (!existsSync(file))
    return {
      name,
      state: 'warn',
      detail: 'root certificate not found next to the endpoints file; expiry not checked',
    };
  try {
    const cert = new X509Certificate(readFileSync(file));
    const notAfter = Date.parse(cert.validTo);
    const left = notAfter - now;
    if (left <= 0)
      return {
        name,
        state: 'fail',
        detail: `root expired ${cert.validTo}`,
        hint: 'rotate the root: replace ca/root-cert.pem and root-key.pem and restart weftd',
      };
    if (left < 30 * DAY)
      return {
        name,
        state: 'warn',
        detail: `root expires in ${ago(left)} (${cert.validTo})`,
        hint: 'plan a root rotation',
      };
    return {
      name,
      state: 'pass',
      detail: `root expires in ${ago(left)} (${new Date(notAfter).toISOString()})`,
    };
  } catch (err) {
    return {
      name,
      state: 'fail',
      detail: `${file}: ${oneLine(err)}`,
      hint: 'the CA folder holds a broken root certificate',
    };
  }
}

async function certCheck(mesh: Mesh, now: number): Promise<CheckResult> {
  const name = 'workload certificates fresh';
  const problems: string[] = [];
  let count = 0;
  for (const p of mesh.proxies().filter((x) => x.kind !== 'waypoint')) {
    try {
      for (const c of await proxyCerts(mesh, p)) {
        count++;
        const left = c.notAfter !== undefined ? Date.parse(c.notAfter) - now : Number.NaN;
        if (c.state !== 'ready')
          problems.push(`${p.name} ${c.identity} ${c.state}${c.lastError ? ` (${c.lastError})` : ''}`);
        else if (!(left > HOUR)) problems.push(`${p.name} ${c.identity} expires in ${ago(left)}`);
      }
    } catch (err) {
      problems.push(`${p.name}: ${oneLine(err)}`);
    }
  }
  return problems.length === 0
    ? { name, state: 'pass', detail: `${count} certificates, none within 1h of expiry` }
    : {
        name,
        state: 'fail',
        detail: problems.join('; '),
        hint: 'a proxy that cannot renew: check its log (weft logs <proxy>) and the CA',
      };
}

/** A proxy's certificates: ztunnel answers `{ certificates }`, a sidecar the bare list. */
export async function proxyCerts(mesh: Mesh, p: ProxyEndpoint): Promise<CertInfo[]> {
  const body = await mesh.getJson<unknown>(`${p.admin}/certs`, `${p.name} admin`);
  if (Array.isArray(body)) return body as CertInfo[];
  const list = (body as { certificates?: unknown }).certificates;
  return Array.isArray(list) ? (list as CertInfo[]) : [];
}

export function checkTable(ctx: CommandContext, results: readonly CheckResult[]): string {
  const c = ctx.colors;
  const mark = (s: CheckState): string =>
    s === 'pass' ? c.green('√') : s === 'warn' ? c.yellow('‼') : c.red('×');
  const lines = results.flatMap((r) => [
    `${mark(r.state)} ${r.name}: ${r.detail}`,
    ...(r.hint !== undefined && r.state !== 'pass' ? [`    ${c.dim('fix:')} ${r.hint}`] : []),
  ]);
  const failed = results.filter((r) => r.state === 'fail').length;
  lines.push('', failed === 0 ? c.green('Status check results are √') : c.red(`${failed} check(s) failed`));
  return `${lines.join('\n')}\n`;
}

export function registerCheck(program: Command, ctx: CommandContext): void {
  for (const [name, description] of [
    ['check', 'pass/fail checks: weftd ready, CA root, config accepted, proxies in sync, certificates fresh'],
    ['status', 'the same checks as `weft check`, a summary of the mesh'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .addHelpText('after', '\nExit: 0 every check passed, 1 a check failed, 3 weftd unreachable.')
      .action(async () => {
        const { results, exit } = await runChecks(ctx.mesh());
        ctx.print({ checks: results, ok: exit === EXIT.ok }, () => checkTable(ctx, results));
        ctx.fail(exit);
      });
  }
}
