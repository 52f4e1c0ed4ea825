// The plugin binary as a container runtime runs it: CNI_* environment, config on stdin, result
// on stdout, exit code. Node runs the built dist/plugin/main.js (`pnpm build` first); Bun runs
// src/plugin/main.ts. The agent is a fake HTTP server on a unix socket.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
const PKG = fileURLToPath(new URL('../../', import.meta.url));

function pluginCommand(): { cmd: string; args: string[] } {
  if (isBun)
    return {
      cmd: process.execPath,
      args: ['--conditions=weft-source', join(PKG, 'src', 'plugin', 'main.ts')],
    };
  const file = join(PKG, 'dist', 'plugin', 'main.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm --filter @weft/cni build\` first`);
  return { cmd: process.execPath, args: [file] };
}

let dir: string;
let socket: string;
let server: Server;
const requests: Array<{ url: string; body: Record<string, unknown> }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-cni-bin-'));
  socket = join(dir, 'cni.sock');
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const parsed = JSON.parse(body) as Record<string, unknown>;
      requests.push({ url: req.url ?? '', body: parsed });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/cni/del') res.end('{"result":"removed"}');
      else if (parsed.name === 'plain') res.end('{"result":"not-in-mesh","reason":"mode none"}');
      else if (parsed.name === 'broken') {
        res.statusCode = 500;
        res.end('{"error":"iptables-restore failed in the pod netns"}');
      } else res.end('{"result":"enrolled","mode":"ambient"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const NETNS = `/proc/${process.pid}/ns/net`;
const PREV = { cniVersion: '1.0.0', ips: [{ address: '10.22.0.5/16', gateway: '10.22.0.1' }] };
const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'net',
    type: 'weft-cni',
    agent_socket: socket,
    prevResult: PREV,
    ...extra,
  });
const env = (pod: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: `ctr-${pod}`,
  CNI_IFNAME: 'eth0',
  CNI_NETNS: NETNS,
  CNI_PATH: '/usr/lib/cni',
  CNI_ARGS: `K8S_POD_NAMESPACE=demo;K8S_POD_NAME=${pod}`,
  ...extra,
});

async function plugin(environment: Record<string, string>, input: string) {
  const { cmd, args } = pluginCommand();
  const r = await execa(cmd, args, {
    env: environment,
    extendEnv: false,
    input,
    reject: false,
    timeout: 15_000,
  });
  return {
    code: r.exitCode,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    json: r.stdout ? JSON.parse(String(r.stdout)) : undefined,
  };
}

describe('weft-cni binary', () => {
  it('VERSION', async () => {
    const r = await plugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] });
  });

  it('ADD enrolls and passes prevResult through; not-in-mesh passes through', async () => {
    const a = await plugin(env('echo'), conf());
    expect([a.code, a.json]).toEqual([0, PREV]);
    expect(requests.at(-1)).toEqual({
      url: '/v1/cni/add',
      body: {
        namespace: 'demo',
        name: 'echo',
        containerId: 'ctr-echo',
        netns: NETNS,
        ifname: 'eth0',
        ips: [{ address: '10.22.0.5/16', gateway: '10.22.0.1' }],
      },
    });
    const b = await plugin(env('plain'), conf());
    expect([b.code, b.json]).toEqual([0, PREV]);
  });

  it('ADD fails closed: 100 when enrollment failed, 11 when the agent is unreachable', async () => {
    const a = await plugin(env('broken'), conf());
    expect(a.code).toBe(1);
    expect(a.json).toEqual({
      cniVersion: '1.0.0',
      code: 100,
      msg: 'node agent: iptables-restore failed in the pod netns',
    });
    const b = await plugin(env('echo'), conf({ agent_socket: join(dir, 'absent.sock') }));
    expect(b.code).toBe(1);
    expect(b.json.code).toBe(11);
    expect(b.json.msg).toContain('node agent unreachable');
  });

  it('DEL succeeds with the agent gone', async () => {
    const r = await plugin(
      env('echo', { CNI_COMMAND: 'DEL' }),
      conf({ agent_socket: join(dir, 'absent.sock') }),
    );
    expect([r.code, r.stdout]).toEqual([0, '']);
  });

  it('refuses hostile stdin and environment without asking the agent', async () => {
    const before = requests.length;
    const cases: Array<[Record<string, string>, string, number]> = [
      [env('echo'), '{not json', 6],
      [env('echo'), `{"cniVersion":"1.0.0","pad":"${'x'.repeat(1024 * 1024)}"}`, 6],
      [env('echo'), conf({ cniVersion: '0.1.0' }), 1],
      [env('echo'), conf({ prevResult: undefined }), 7],
      [env('echo', { CNI_NETNS: '/tmp/x' }), conf(), 4],
      [env('echo', { CNI_NETNS: '/var/run/netns/weft-cni-no-such-netns' }), conf(), 3],
      [{ CNI_COMMAND: 'ADD' }, conf(), 4],
      [{}, conf(), 4],
    ];
    for (const [environment, input, code] of cases) {
      const r = await plugin(environment, input);
      expect(r.code, r.stderr).toBe(1);
      expect(r.json.code, r.stdout).toBe(code);
      expect(typeof r.json.msg).toBe('string');
    }
    expect(requests.length).toBe(before);
  });
});
