// `weft dashboard`: serves the live mesh graph until Ctrl-C.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { oneLine, unreachable, usageError } from '../errors.ts';
import { firstSystemToken } from '../mesh.ts';
import { type DashboardInputs, readDashboardInputs } from './inputs.ts';
import { type DashboardEndpoints, DEFAULT_LISTEN, splitHostPort, startDashboard } from './server.ts';

export interface DashboardCommandDeps {
  /** weftd's address, a token and the endpoints (default: the demo's .weft/local files). */
  readonly inputs?: () => Promise<DashboardInputs>;
  /** Opens a URL in the user's browser (default xdg-open / open). */
  readonly openBrowser?: (url: string) => void;
  readonly out?: (line: string) => void;
  /** Resolves when the dashboard should stop (default SIGINT or SIGTERM). */
  readonly stopped?: () => Promise<void>;
}

/** The `dashboard` command, for `program.addCommand(dashboardCommand())`. */
export function dashboardCommand(
  CommandClass: typeof Command = Command,
  deps: DashboardCommandDeps = {},
): Command {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cmd = new CommandClass('dashboard')
    .description(
      'serve a live graph of the mesh: workloads coloured by data-plane mode, rate, success, mTLS and DENY on each edge',
    )
    .option('--listen <host:port>', 'address to serve the page on', DEFAULT_LISTEN)
    .option('--open-browser <yes|no>', 'open the page in a browser', 'yes')
    .option('--poll-ms <ms>', 'how often to poll weftd and the proxies', '2000')
    .addHelpText('after', '\nExit: 0 on Ctrl-C, 2 bad flags or address in use, 3 weftd unreachable.');
  cmd.action(async (flags: { listen: string; openBrowser: string; pollMs: string }) => {
    if (flags.openBrowser !== 'yes' && flags.openBrowser !== 'no')
      throw usageError(`--open-browser ${flags.openBrowser}: expected yes or no`);
    const listen = splitHostPort(flags.listen);
    if ('error' in listen) throw usageError(listen.error);
    const pollMs = Number(flags.pollMs);
    if (!Number.isInteger(pollMs) || pollMs < 100)
      throw usageError(`--poll-ms ${flags.pollMs}: expected a whole number of milliseconds, at least 100`);
    const inputs = await (deps.inputs ?? defaultInputs)();
    const dashboard = await startDashboard({ ...inputs, listen: flags.listen, pollMs }).catch(
      (err: unknown) => {
        throw usageError(`cannot serve on ${flags.listen}: ${oneLine(err)}`);
      },
    );
    out(`weft dashboard: ${dashboard.url} (Ctrl-C to stop)`);
    if (flags.openBrowser === 'yes') (deps.openBrowser ?? openInBrowser)(dashboard.url);
    await (deps.stopped ?? signalled)();
    await dashboard.close();
  });
  return cmd;
}

/** Registers `weft dashboard` with the CLI's global flags (--weftd, --token, --token-file, --endpoints). */
export function registerDashboard(program: Command, ctx: CommandContext): void {
  program.addCommand(
    dashboardCommand(Command, { out: (line) => ctx.io.out(`${line}\n`), inputs: () => inputsFrom(ctx) }),
  );
}

async function inputsFrom(ctx: CommandContext): Promise<DashboardInputs> {
  const mesh = ctx.mesh();
  const endpoints: DashboardEndpoints | undefined = mesh.endpoints();
  if (endpoints === undefined)
    throw unreachable(`no endpoints file at ${mesh.endpointsPath}; is the mesh running? (pnpm demo)`);
  const g = ctx.globals();
  let token = g.token;
  if (token === undefined && g.tokenFile !== undefined) {
    try {
      token = readFileSync(resolve(ctx.io.cwd, g.tokenFile), 'utf8').trim();
    } catch (err) {
      throw usageError(`--token-file ${g.tokenFile}: ${oneLine(err)}`);
    }
  }
  if (token === undefined && (ctx.io.env.WEFT_TOKEN ?? '') !== '') token = ctx.io.env.WEFT_TOKEN;
  const tokens = join(dirname(mesh.endpointsPath), 'tokens.txt');
  if (token === undefined && existsSync(tokens)) token = firstSystemToken(readFileSync(tokens, 'utf8'));
  if (token === undefined)
    throw usageError(
      'weftd /debug/config_dump needs a weft-system token: --token, --token-file or WEFT_TOKEN',
    );
  // One read up front: weftd down or the token refused is one clear line, not an empty page.
  await mesh.weftdJson('/debug/config_dump');
  return { weftdAdmin: mesh.weftd, token, endpoints };
}

async function defaultInputs(): Promise<DashboardInputs> {
  const inputs = await readDashboardInputs(resolve('.weft', 'local'));
  if (!inputs.ok) throw unreachable(inputs.error);
  return inputs.value;
}

function signalled(): Promise<void> {
  return new Promise((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
}

function openInBrowser(url: string): void {
  const opener =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => {}); // no opener here: the address is printed above
  child.unref();
}
