// The agent binary as a process: flags, the CNI socket, /metrics, a clean stop on SIGTERM.
// Node runs the built dist/agent/main.js (`pnpm build` first); Bun runs src/agent/main.ts. No
// root needed: the pod here is outside the mesh, so no rule is installed.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpAgentTransport } from '../api/client.ts';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
const PKG = fileURLToPath(new URL('../../', import.meta.url));

function agentArgv(): string[] {
  if (isBun) return ['--conditions=weft-source', join(PKG, 'src', 'agent', 'main.ts')];
  const file = join(PKG, 'dist', 'agent', 'main.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm --filter @weft/cni build\` first`);
  return [file];
}

let dir: string;
let child: ChildProcess;
let stderr = '';
let metricsPort = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-cni-proc-'));
  mkdirSync(join(dir, 'manifests'));
  child = spawn(
    process.execPath,
    [
      ...agentArgv(),
      '--node=node-a',
      `--manifests=${join(dir, 'manifests')}`,
      `--cni-socket=${join(dir, 'run', 'cni.sock')}`,
      `--ztunnel-socket=${join(dir, 'run', 'ztunnel.sock')}`,
      `--state-dir=${join(dir, 'state')}`,
      '--metrics-address=127.0.0.1:0',
      '--log-level=info',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /msg="?node agent ready"?.*metrics=127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) {
        metricsPort = Number(m[1]);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited ${code}:\n${stderr}`)));
  });
}, 30_000);

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('weft-cni-agent process', () => {
  it('answers the plugin, serves metrics, stops cleanly on SIGTERM', async () => {
    const r = await httpAgentTransport.post(
      join(dir, 'run', 'cni.sock'),
      '/v1/cni/add',
      {
        namespace: 'demo',
        name: 'plain',
        containerId: 'ctr-1',
        netns: `/proc/${process.pid}/ns/net`,
        ifname: 'eth0',
        ips: [],
      },
      5000,
    );
    expect(r).toEqual({
      ok: true,
      status: 200,
      body: '{"result":"not-in-mesh","reason":"pod not in the manifests"}\n',
    });
    const metrics = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    expect(metrics).toContain('weft_cniagent_requests_total{command="add",result="not-in-mesh"} 1');
    expect(metrics).toContain('weft_cniagent_pods{mode="none"} 1');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(join(dir, 'run', 'cni.sock'))).toBe(false);
  });

  it('refuses bad flags with the usage and exit code 2', async () => {
    const r = await execa(process.execPath, [...agentArgv(), '--node=x'], { reject: false, timeout: 15_000 });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('--manifests is required');
    const r2 = await execa(
      process.execPath,
      [...agentArgv(), '--node=x', '--manifests=/tmp', '--metrics-address=nope'],
      {
        reject: false,
        timeout: 15_000,
      },
    );
    expect(r2.exitCode).toBe(2);
    expect(String(r2.stderr)).toContain('--metrics-address nope is not host:port');
  });
});
