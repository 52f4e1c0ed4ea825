// The `weft` CLI against the running local mesh: every command, its output and exit code, and
// one bad input per command (one line on stderr, a non-zero exit, no stack trace).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshDriver } from '../driver.ts';
import { REPO_ROOT } from '../drivers/local.ts';
import { eventually } from '../wait.ts';
import { check, ECHO_URL, type Scenario } from './l4.ts';

const CLI = join(REPO_ROOT, 'apps', 'cli', 'dist', 'main.js');

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function weft(workDir: string, args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--endpoints', join(workDir, 'endpoints.json'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (args: readonly string[], r: CliRun): string =>
  `weft ${args.join(' ')} exited ${r.code}; stdout: ${r.stdout.slice(0, 400)}; stderr: ${r.stderr.slice(0, 400)}`;

/** Runs a command that must exit `code`, returning its output. */
async function expectExit(workDir: string, args: readonly string[], code: number): Promise<CliRun> {
  const r = await weft(workDir, args);
  check(r.code === code, `expected exit ${code}: ${show(args, r)}`);
  return r;
}

/** A bad input: the exit code, exactly one line on stderr that contains `says`, no stack trace. */
async function expectBad(
  workDir: string,
  args: readonly string[],
  code: number,
  says: string,
): Promise<void> {
  const r = await expectExit(workDir, args, code);
  const lines = r.stderr.trimEnd().split('\n');
  check(
    lines.length === 1 && (lines[0] ?? '').includes(says),
    `expected one line with "${says}": ${show(args, r)}`,
  );
  check(!/\n\s+at /.test(r.stderr), `a stack trace: ${show(args, r)}`);
}

const json = <T>(r: CliRun): T => JSON.parse(r.stdout) as T;

const DENY_ADMIN = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: cli-deny-admin, namespace: demo }
spec:
  targetRefs: [{ kind: Service, group: "", name: echo }]
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/cli-admin"] } }] }]
`;

const BAD_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: cli-bad, namespace: demo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 8080 }]
  rules: [{ backendRefs: [{ name: echo-v9, port: 8080 }] }]
`;

const POD = `apiVersion: v1
kind: Pod
metadata: { name: app, namespace: demo }
spec: { containers: [{ name: app, image: example/app }] }
`;

export const cliScenario: Scenario = {
  name: 'cli',
  title: 'weft: every command against the running mesh, with exit codes and one bad input each',
  async run(driver: MeshDriver, log) {
    const workDir = (driver as { workDir?: string }).workDir;
    if (workDir === undefined || driver.name !== 'local') {
      // The CLI finds a mesh through the local demo's endpoints file and tokens; the netns
      // tier's cluster is reached the same way only once it writes that format too.
      log(
        `skipped on the ${driver.name} driver: the CLI reads the local demo's endpoints.json and tokens.txt`,
      );
      return;
    }
    check(existsSync(CLI), `${CLI} is missing: build the CLI first (pnpm --filter @weft/cli build)`);
    const configDir = join(workDir, 'config');
    const scratch = mkdtempSync(join(tmpdir(), 'weft-cli-e2e-'));
    try {
      // check / status
      const checked = await eventually(
        'weft check to pass',
        () => weft(workDir, ['check']),
        (r) => r.code === 0,
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      check(checked.stdout.includes('√ weftd reachable and ready'), show(['check'], checked));
      const status = json<{ ok: boolean; checks: { name: string }[] }>(
        await expectExit(workDir, ['status', '-o', 'json'], 0),
      );
      check(status.ok && status.checks.length === 5, `status: ${JSON.stringify(status)}`);
      await expectExit(workDir, ['--weftd', 'http://127.0.0.1:1', 'check'], 3);
      await expectBad(workDir, ['--weftd', 'http://127.0.0.1:1', 'proxy-status'], 3, 'cannot reach weftd');
      log('check / status: 5 checks pass; weftd down exits 3');

      // proxy-status
      const ps = json<{ proxies: { proxy: string; state: string }[] }>(
        await expectExit(workDir, ['proxy-status', '-o', 'json'], 0),
      );
      for (const id of [
        'ztunnel~node-a',
        'ztunnel~node-b',
        'waypoint~demo/waypoint',
        'sidecar~hybrid/sidecar-echo',
      ])
        check(
          ps.proxies.some((p) => p.proxy === id && p.state === 'SYNCED'),
          `proxy-status: ${id} not SYNCED`,
        );
      const one = await expectExit(workDir, ['proxy-status', 'waypoint-0'], 0);
      check(
        one.stdout.includes('waypoint~demo/waypoint') && !one.stdout.includes('ztunnel'),
        show(['proxy-status'], one),
      );
      await expectBad(workDir, ['proxy-status', 'no-such-proxy'], 2, 'unknown proxy no-such-proxy');
      log(`proxy-status: ${ps.proxies.length} proxies SYNCED; an unknown proxy exits 2`);

      // config
      const cfg = json<{ workloads: { name: string }[]; differences: string[] }>(
        await expectExit(workDir, ['config', 'node-a', 'workloads', '-o', 'json'], 0),
      );
      check(
        cfg.workloads.some((w) => w.name === 'echo-v1'),
        'config node-a: echo-v1 missing',
      );
      check(
        Array.isArray(cfg.differences) && cfg.differences.length === 0,
        `config: ${JSON.stringify(cfg.differences)}`,
      );
      await expectExit(workDir, ['config', 'sidecar-echo', 'all'], 0);
      await expectBad(workDir, ['config', 'node-a', 'bogus'], 2, 'unknown section bogus');
      log('config: node-a holds what weftd sent; a bad section exits 2');

      // analyze
      await expectExit(workDir, ['analyze', '-f', configDir], 0);
      writeFileSync(join(scratch, 'bad-route.yaml'), BAD_ROUTE);
      const bad = await expectExit(
        workDir,
        ['analyze', '-f', configDir, '-f', join(scratch, 'bad-route.yaml')],
        1,
      );
      check(
        bad.stdout.includes('Service demo/echo-v9 does not exist; create it or fix the name'),
        show(['analyze'], bad),
      );
      await expectBad(workDir, ['analyze', '-f', join(scratch, 'missing.yaml')], 2, 'no such file or folder');
      log('analyze: the demo config is clean, a route to a missing service exits 1');

      // authz check, live: ALLOW, then a DENY applied to the mesh shows in the decision and in traffic
      await expectExit(workDir, ['authz', 'check', 'demo/client', 'demo/echo', '--path', '/cli-admin'], 0);
      await driver.apply('cli-deny.yaml', DENY_ADMIN);
      try {
        const denied = await eventually(
          'weft authz check to see the DENY',
          () =>
            weft(workDir, [
              'authz',
              'check',
              'demo/client',
              'demo/echo',
              '--path',
              '/cli-admin',
              '-o',
              'json',
            ]),
          (r) => r.code === 1,
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        const d = json<{ decision: string; policy: string; enforcedBy: string }>(denied);
        check(
          d.decision === 'DENY' && d.policy === 'demo/cli-deny-admin' && d.enforcedBy === 'waypoint',
          denied.stdout,
        );
        const call = await eventually(
          'the mesh to deny /cli-admin',
          () => driver.request('client', `${ECHO_URL}cli-admin`),
          (c) => c.ok && c.response.status === 403,
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        check(call.ok, 'the request failed');
        await expectExit(workDir, ['authz', 'check', 'demo/client', 'demo/echo', '--path', '/other'], 0);
      } finally {
        await driver.remove('cli-deny.yaml');
      }
      await expectBad(
        workDir,
        ['authz', 'check', 'demo/nobody', 'demo/echo'],
        2,
        'unknown source demo/nobody',
      );
      log('authz check: DENY by demo/cli-deny-admin at the waypoint, as the mesh answered 403');

      // waypoint
      const wps = json<{ waypoints: { waypoint: string }[] }>(
        await expectExit(workDir, ['waypoint', 'list', '-o', 'json'], 0),
      );
      check(
        wps.waypoints.some((w) => w.waypoint === 'demo/waypoint'),
        'waypoint list: demo/waypoint missing',
      );
      const gen = await expectExit(workDir, ['waypoint', 'generate', '-n', 'demo', '--name', 'wp2'], 0);
      check(gen.stdout.includes('gatewayClassName: weft-waypoint'), show(['waypoint', 'generate'], gen));
      const copy = join(scratch, 'config');
      cpSync(configDir, copy, { recursive: true });
      await expectExit(
        workDir,
        ['waypoint', 'apply', '-n', 'demo', '--name', 'wp2', '--enroll-namespace', '--config-dir', copy],
        0,
      );
      check(existsSync(join(copy, 'waypoint-demo-wp2.yaml')), 'waypoint apply wrote no file');
      await expectExit(workDir, ['analyze', '-f', copy], 0);
      await expectBad(
        workDir,
        ['waypoint', 'apply', '--config-dir', join(scratch, 'nope')],
        2,
        'not a folder',
      );
      log('waypoint: list, generate, apply into a copy of the file source');

      // dataplane-mode
      await expectExit(workDir, ['dataplane-mode', 'demo/echo-v1', 'sidecar', '--config-dir', copy], 0);
      check(
        readFileSync(join(copy, '10-echo.yaml'), 'utf8').includes('weft.dev/dataplane-mode: sidecar'),
        'dataplane-mode: label not written',
      );
      await expectBad(
        workDir,
        ['dataplane-mode', 'demo', 'bogus', '--config-dir', copy],
        2,
        'unknown mode bogus',
      );
      log('dataplane-mode: the pod label written in the copy');

      // inject
      writeFileSync(join(scratch, 'pod.yaml'), POD);
      const inj = await expectExit(workDir, ['inject', '-f', join(scratch, 'pod.yaml')], 0);
      check(
        inj.stdout.includes('weft-proxy') || inj.stdout.includes('initContainers'),
        show(['inject'], inj),
      );
      await expectBad(workDir, ['inject', '-f', join(scratch, 'missing.yaml')], 2, 'missing.yaml');
      log('inject: the sidecar added offline');

      // top: traffic first, then one frame
      for (let i = 0; i < 5; i++) await driver.request('client', ECHO_URL);
      const top = json<{ workloads: { workload: string; requests: number }[] }>(
        await expectExit(workDir, ['top', '--once', '--interval', '1', '-o', 'json'], 0),
      );
      check(
        top.workloads.some((w) => w.workload.startsWith('demo/echo-') && w.requests > 0),
        `top: ${JSON.stringify(top.workloads)}`,
      );
      await expectBad(
        workDir,
        ['--endpoints', join(scratch, 'none.json'), 'top', '--once'],
        3,
        'no proxies known',
      );
      log(`top: ${top.workloads.length} workloads with traffic`);

      // logs
      const logs = await expectExit(workDir, ['logs', 'waypoint-0', '--access', '--tail', '3'], 0);
      check(
        logs.stdout.includes('kind=http') && logs.stderr.includes('no log endpoint'),
        show(['logs'], logs),
      );
      await expectBad(workDir, ['logs', 'no-such-proxy'], 2, 'unknown proxy no-such-proxy');
      log('logs: the waypoint access log, from the demo log file');

      // completion and help
      const comp = await expectExit(workDir, ['completion', 'bash'], 0);
      check(comp.stdout.includes('complete -F _weft weft'), 'completion bash');
      await expectBad(workDir, ['completion', 'fish'], 2, 'bash or zsh');
      const help = await expectExit(workDir, ['help', 'modes'], 0);
      check(help.stdout.startsWith('WEFT-MODES(7)'), 'help modes');
      await expectBad(workDir, ['help', 'nope'], 2, 'no help topic or command nope');
      await expectBad(workDir, ['no-such-command'], 2, "unknown command 'no-such-command'");
      log('completion, help: ok; unknown command exits 2');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export const CLI_SCENARIOS: readonly Scenario[] = [cliScenario];
