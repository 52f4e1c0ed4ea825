// The whole chain on real network namespaces (root only): Debian's bridge + host-local plugins
// give two pods their addresses exactly as a runtime invokes them, the weft-cni binary is chained
// after them, the agent (nsenter + iptables-restore) installs the rules, and real TCP shows where
// connections land: outbound captured to 15001, inbound to 15006, node probes and loopback not
// captured, the sidecar's uid not captured; then mode changes and removal without restart.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, functionSink } from '@weft/telemetry';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpAgentTransport } from '../api/client.ts';
import { nsenterApplier } from '../apply/applier.ts';
import { connectNodeAgent, type NodeAgentClient } from '../protocol/index.ts';
import { inNetns, isRoot, NOT_ROOT_MESSAGE, ThrowawayNetns } from '../testing/netns.ts';
import { createNodeAgent, type NodeAgent } from './agent.ts';

const root = isRoot() && existsSync('/usr/lib/cni/bridge') && existsSync('/usr/lib/cni/host-local');
if (!root) console.log(`@weft/cni agent chain: ${NOT_ROOT_MESSAGE} (or no /usr/lib/cni plugins)`);

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
const PKG = fileURLToPath(new URL('../../', import.meta.url));
const NODE = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim() || 'node';
  } catch {
    return 'node';
  }
})();

function pluginArgv(): string[] {
  if (isBun) return [process.execPath, '--conditions=weft-source', join(PKG, 'src', 'plugin', 'main.ts')];
  const file = join(PKG, 'dist', 'plugin', 'main.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm --filter @weft/cni build\` first`);
  return [process.execPath, file];
}

const LISTEN = `const net=require('net');const ports=process.argv.slice(1).map(Number);let n=0;
for(const p of ports){net.createServer(s=>{s.on('error',()=>{});s.end(String(s.localPort))}).listen(p,'::',()=>{if(++n===ports.length)console.log('ready')})}`;
const DIAL = `const s=require('net').connect(+process.argv[2],process.argv[1]);let d='';
s.on('data',c=>d+=c);s.on('end',()=>console.log(d));s.on('error',e=>console.log('ERR '+e.code));
s.setTimeout(3000,()=>{console.log('TIMEOUT');s.destroy()})`;

describe.skipIf(!root)('chained plugin + agent on real netns', () => {
  let dir: string;
  let node: ThrowawayNetns;
  let p1: ThrowawayNetns;
  let p2: ThrowawayNetns;
  let agent: NodeAgent;
  let ztunnel: NodeAgentClient;
  const servers: ChildProcess[] = [];
  const ips: Record<string, string> = {};
  const logs: string[] = [];
  let bridgeConf: Record<string, unknown>;

  const manifests = (modeA: string) =>
    writeFileSync(
      join(dir, 'manifests', 'pods.yaml'),
      ['a', 'b']
        .map(
          (n) =>
            `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${n}\n  namespace: demo\n  labels:\n    weft.dev/dataplane-mode: ${n === 'a' ? modeA : 'none'}\nspec:\n  containers:\n  - name: app\n    image: app\n`,
        )
        .join('---\n'),
    );

  const cni = async (argv: string[], env: Record<string, string>, input: string) => {
    const [file, ...args] = argv;
    const r = await execa(file ?? '', args, { env, extendEnv: false, input, reject: false, timeout: 20_000 });
    return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
  };
  const envFor = (pod: string, ns: ThrowawayNetns, command = 'ADD') => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `ctr-${pod}`,
    CNI_NETNS: ns.path,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/usr/lib/cni',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=${pod}`,
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  });

  /** bridge (in the node netns) then weft-cni, as a runtime runs a chained conflist. */
  const addPod = async (pod: string, ns: ThrowawayNetns) => {
    const bridge = inNetns(node.name, '/usr/lib/cni/bridge', []);
    const b = await cni([bridge.file, ...bridge.args], envFor(pod, ns), JSON.stringify(bridgeConf));
    expect(b.code, b.err + b.out).toBe(0);
    const prevResult = JSON.parse(b.out) as { ips: Array<{ address: string }> };
    const ip = prevResult.ips.find((i) => !i.address.includes(':'))?.address.split('/')[0];
    const ip6 = prevResult.ips.find((i) => i.address.includes(':'))?.address.split('/')[0];
    if (!ip || !ip6) throw new Error(`no IPv4 and IPv6 address in ${b.out}`);
    ips[pod] = ip;
    ips[`${pod}6`] = ip6;
    const conf = {
      cniVersion: '1.0.0',
      name: 'weftt',
      type: 'weft-cni',
      agent_socket: join(dir, 'cni.sock'),
      prevResult,
    };
    const w = await cni(pluginArgv(), envFor(pod, ns), JSON.stringify(conf));
    expect(w.code, w.err + w.out).toBe(0);
    expect(JSON.parse(w.out)).toEqual(prevResult);
  };

  const dial = async (from: ThrowawayNetns, host: string, port: number, asUid?: number) => {
    const base = [NODE, '-e', DIAL, host, String(port)];
    const argv =
      asUid === undefined
        ? base
        : ['setpriv', `--reuid=${asUid}`, `--regid=${asUid}`, '--clear-groups', ...base];
    const c = inNetns(from.name, argv[0] ?? '', argv.slice(1));
    const r = await execa(c.file, c.args, { reject: false, timeout: 10_000 });
    return String(r.stdout).trim();
  };

  const listen = async (ns: ThrowawayNetns, ports: number[]) => {
    const c = inNetns(ns.name, NODE, ['-e', LISTEN, ...ports.map(String)]);
    const child = spawn(c.file, c.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
  };

  const weftRules = (ns: ThrowawayNetns) =>
    ns
      .exec('iptables-save', ['-t', 'nat'])
      .split('\n')
      .filter((l) => l.includes('WEFT_'));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cni-chain-'));
    mkdirSync(join(dir, 'manifests'));
    manifests('ambient');
    node = new ThrowawayNetns('node');
    p1 = new ThrowawayNetns('p1');
    p2 = new ThrowawayNetns('p2');
    // No duplicate address detection: IPv6 addresses are usable at once.
    for (const ns of [node, p1, p2]) {
      for (const k of ['all', 'default']) ns.exec('sysctl', ['-qw', `net.ipv6.conf.${k}.accept_dad=0`]);
    }
    bridgeConf = {
      cniVersion: '1.0.0',
      name: 'weftt',
      type: 'bridge',
      bridge: 'weftbr0',
      isGateway: true,
      ipMasq: false,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.199.0.0/24' }], [{ subnet: 'fd00:199::/64' }]],
        dataDir: join(dir, 'ipam'),
      },
    };
    agent = await createNodeAgent(
      {
        node: 'node-a',
        manifestsDir: join(dir, 'manifests'),
        cniSocket: join(dir, 'cni.sock'),
        ztunnelSocket: join(dir, 'ztunnel.sock'),
        stateDir: join(dir, 'state'),
        rescanIntervalMs: 60_000,
      },
      {
        applier: nsenterApplier(),
        logger: createLogger({ sink: functionSink((l) => logs.push(l)), level: 'debug' }),
      },
    );
    ztunnel = connectNodeAgent(join(dir, 'ztunnel.sock'), async () => {}, { backoff: { initialMs: 10 } });
    const end = Date.now() + 5000;
    while (!ztunnel.connected && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await addPod('a', p1);
    await addPod('b', p2);
    await listen(p1, [15001, 15006, 8080]);
    await listen(p2, [9000]);
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await ztunnel?.close();
    await agent?.close();
    for (const ns of [p1, p2, node]) ns?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ambient: outbound to 15001, inbound to 15006; node probes and loopback reach the app', async () => {
    expect(weftRules(p1).length).toBeGreaterThan(0);
    expect(weftRules(p2)).toEqual([]);
    const a = ips.a ?? '';
    const b = ips.b ?? '';
    expect(await dial(p2, a, 8080)).toBe('15006'); // another pod -> captured inbound
    expect(await dial(node, a, 8080)).toBe('8080'); // the node (gateway): probes pass
    expect(await dial(p1, b, 9000)).toBe('15001'); // outbound captured
    expect(await dial(p1, '127.0.0.1', 8080)).toBe('8080'); // loopback
    expect(await dial(p1, a, 8080)).toBe('8080'); // own pod IP via lo
    expect(await dial(p1, a, 15008)).toBe('ERR ECONNREFUSED'); // HBONE port not redirected
  });

  it('ambient over IPv6: the same, with the IPv6 gateway of the node exempt', async () => {
    const a6 = ips.a6 ?? '';
    const b6 = ips.b6 ?? '';
    expect(await dial(p2, a6, 8080)).toBe('15006');
    expect(await dial(node, a6, 8080)).toBe('8080');
    expect(await dial(p1, b6, 9000)).toBe('15001');
    expect(await dial(p1, '::1', 8080)).toBe('8080');
    expect(await dial(p1, a6, 8080)).toBe('8080');
  });

  it('sidecar without restart: uid 1337 goes out directly, everyone else to 15001', async () => {
    manifests('sidecar');
    await agent.resync();
    expect(weftRules(p1).join('\n')).toContain('--uid-owner 1337');
    expect(await dial(p1, ips.b ?? '', 9000)).toBe('15001');
    expect(await dial(p1, ips.b ?? '', 9000, 1337)).toBe('9000');
    expect(await dial(p2, ips.a ?? '', 8080)).toBe('15006');
  });

  it('unenrolled without restart: pods talk directly again, no rule left', async () => {
    manifests('none');
    await agent.resync();
    expect(weftRules(p1)).toEqual([]);
    expect(p1.exec('ip6tables-save', ['-t', 'nat'])).not.toContain('WEFT_');
    expect(await dial(p2, ips.a ?? '', 8080)).toBe('8080');
    expect(await dial(p1, ips.b ?? '', 9000)).toBe('9000');
  });

  it('DEL through the chain: agent forgets the pod, bridge releases the address', async () => {
    const conf = {
      cniVersion: '1.0.0',
      name: 'weftt',
      type: 'weft-cni',
      agent_socket: join(dir, 'cni.sock'),
    };
    const w = await cni(pluginArgv(), envFor('a', p1, 'DEL'), JSON.stringify(conf));
    expect([w.code, w.out]).toEqual([0, '']);
    expect(agent.pods().map((p) => p.name)).toEqual(['b']);
    const bridge = inNetns(node.name, '/usr/lib/cni/bridge', []);
    const b = await cni([bridge.file, ...bridge.args], envFor('a', p1, 'DEL'), JSON.stringify(bridgeConf));
    expect(b.code, b.err).toBe(0);
  });
});

describe.skipIf(!root)('agent restart on real netns', () => {
  it('repairs tampered rules (checked with iptables-save), forgets a pod whose netns is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-cni-restart-'));
    const keep = new ThrowawayNetns('keep');
    const gone = new ThrowawayNetns('gone');
    const applier = nsenterApplier();
    try {
      mkdirSync(join(dir, 'manifests'));
      writeFileSync(
        join(dir, 'manifests', 'ns.yaml'),
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels:\n    weft.dev/dataplane-mode: sidecar\n',
      );
      const config = {
        node: 'node-a',
        manifestsDir: join(dir, 'manifests'),
        cniSocket: join(dir, 'cni.sock'),
        ztunnelSocket: join(dir, 'ztunnel.sock'),
        stateDir: join(dir, 'state'),
        rescanIntervalMs: 60_000,
      };
      const logger = createLogger({ sink: functionSink(() => {}), level: 'silent' });
      const first = await createNodeAgent(config, { applier, logger });
      for (const [name, ns] of [
        ['keep', keep],
        ['gone', gone],
      ] as const) {
        const r = await httpAgentTransport.post(
          config.cniSocket,
          '/v1/cni/add',
          {
            namespace: 'demo',
            name,
            containerId: `ctr-${name}`,
            netns: ns.path,
            ifname: 'eth0',
            ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }],
          },
          10_000,
        );
        expect(r.ok && r.status).toBe(200);
      }
      const good4 = keep
        .exec('iptables-save', ['-t', 'nat'])
        .split('\n')
        .filter((l) => l.startsWith('-A') && l.includes('WEFT_'));
      await first.close();

      keep.exec('iptables', ['-t', 'nat', '-D', 'OUTPUT', '-p', 'tcp', '-j', 'WEFT_OUTBOUND']);
      keep.exec('iptables', ['-t', 'nat', '-A', 'WEFT_INBOUND', '-p', 'tcp', '--dport', '1', '-j', 'RETURN']);
      keep.exec('ip6tables', ['-t', 'nat', '-F', 'WEFT_REDIRECT']);
      gone.close();

      const second = await createNodeAgent(config, { applier, logger });
      try {
        expect(second.pods().map((p) => p.name)).toEqual(['keep']);
        const now4 = keep
          .exec('iptables-save', ['-t', 'nat'])
          .split('\n')
          .filter((l) => l.startsWith('-A') && l.includes('WEFT_'));
        expect(now4.sort()).toEqual([...good4].sort());
        expect(keep.exec('ip6tables-save', ['-t', 'nat'])).toContain(
          '-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
        );
      } finally {
        await second.close();
      }
    } finally {
      keep.close();
      gone.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
