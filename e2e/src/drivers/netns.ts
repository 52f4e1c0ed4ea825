// The netns driver: the same mesh as the local driver, on real network namespaces with real
// interception. Needs root. Nodes and pods are network namespaces (see netns-topology.ts); pod
// networking comes from Debian's containernetworking-plugins (`bridge` + `host-local`), invoked as
// a container runtime invokes a plugin list, with `weft-cni` chained after them. Each node runs a
// node agent and a ztunnel in its netns; the ztunnel opens its 15001/15006/15008 listeners inside
// each enrolled ambient pod. Sidecar pods run their sidecar inside the pod netns as uid 1337,
// behind the REDIRECT rules the agent installed. Apps know nothing of the mesh: they listen on
// their port and are called at plain pod IPs and service VIPs. The driver calls as a pod by opening
// its socket inside the pod's netns (@weft/linux-net), so the pod's own rules capture the call.
//
// Everything the driver creates (namespaces, links, routes, rules, processes, IPAM state) is
// removed by stop(), also after a failed start, and a start first removes what an interrupted
// earlier run left behind.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { meshRequest } from '@weft/examples';
import { execa } from 'execa';
import { parseAllDocuments, stringify } from 'yaml';
import type { CallResult, GrpcCallOptions, GrpcTally, MeshConnection, RequestOptions } from '../driver.ts';
import { echoOverSocket, type GrpcWireResult } from '../grpc-wire.ts';
import { keptAlive } from '../keepalive.ts';
import { type ManagedProcess, runGrpcClient, startProcess, waitForLine, waitReady } from '../processes.ts';
import { bunExecutable } from '../runtime.ts';
import type { InterceptionDriver } from '../scenarios/interception.ts';
import {
  DATAPLANE_MODE_LABEL,
  EXAMPLE_APP_ANNOTATION,
  GATEWAY_NAME_LABEL,
  type LocalPod,
  REPO_ROOT,
  readPods,
} from './local.ts';
import {
  type CniConflist,
  type NetnsNode,
  nodeConflist,
  planNodes,
  pluginConfig,
  podNetns,
  resultIps,
  rewriteDocument,
  serviceVips,
  type Underlay,
  underlay,
  underlayBridge,
} from './netns-topology.ts';

export { DATAPLANE_MODE_LABEL };

const CNI_PLUGIN_DIR = '/usr/lib/cni';
/** The uid sidecars run as (excluded from their pod's outbound capture). */
const PROXY_UID = 1337;

export interface NetnsDriverOptions {
  readonly workDir?: string;
  readonly manifestsDir?: string;
  readonly nodes?: readonly string[];
  /** Names every netns, link and file of this cluster; a second cluster needs another. */
  readonly prefix?: string;
  /**
   * Which address ranges (0-9, default 0): two clusters alive at once need different prefixes
   * and networks (see netns-topology.ts).
   */
  readonly network?: number;
  readonly runtime?: 'node' | 'bun';
}

export interface NetnsPod extends LocalPod {
  readonly netns: string;
  readonly ip4: string;
  readonly ip6: string | undefined;
  readonly containerId: string;
}

interface Recipe {
  readonly netns: string | undefined;
  readonly entry: { pkg: string; main: string };
  readonly args: string[];
  readonly ready: string | undefined;
  readonly uid?: number;
}

async function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await execa(cmd, args, { reject: false, ...(input !== undefined ? { input } : {}) });
  if (r.exitCode !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.exitCode}: ${String(r.stderr || r.stdout).trim()}`);
  return String(r.stdout);
}

/** Runs a command and ignores failure (cleanup of what may not exist). */
async function tryRun(cmd: string, args: readonly string[]): Promise<void> {
  await execa(cmd, args, { reject: false });
}

/** Whether this machine can run the netns tier; the reason when it cannot. */
export async function netnsSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: 'the netns tier needs Linux' };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'the netns tier needs root (network namespaces, iptables)' };
  for (const bin of ['ip', 'iptables-restore', 'ip6tables-restore', 'nsenter', 'setpriv'])
    if ((await execa('sh', ['-c', `command -v ${bin}`], { reject: false })).exitCode !== 0)
      return { ok: false, reason: `${bin} is missing: run scripts/setup.sh --system` };
  for (const p of ['bridge', 'host-local'])
    if (!existsSync(join(CNI_PLUGIN_DIR, p)))
      return { ok: false, reason: `${CNI_PLUGIN_DIR}/${p} is missing: run scripts/setup.sh --system` };
  const net = await import('@weft/linux-net');
  if (!net.available())
    return { ok: false, reason: `@weft/linux-net is not built: ${net.unavailableReason()}` };
  return { ok: true };
}

/** A plain TCP connection from the driver's own (root) netns. */
function connectPlain(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`connect ${host}:${port} timed out`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class NetnsDriver implements InterceptionDriver {
  readonly name = 'netns' as const;
  readonly workDir: string;
  readonly nodes: readonly NetnsNode[];
  private readonly prefix: string;
  private readonly manifestsDir: string;
  private readonly runtime: 'node' | 'bun';
  private readonly procs = new Map<string, ManagedProcess>();
  private readonly recipes = new Map<string, Recipe>();
  private pods: NetnsPod[] = [];
  private logicalPods: LocalPod[] = [];
  /** Manifest file name -> its documents as parsed (local-mode addresses). */
  private readonly sources = new Map<string, unknown[]>();
  private readonly conflists = new Map<string, CniConflist>();
  /** The result of a pod's network plugins, passed to the plugins chained after them. */
  private readonly prevResults = new Map<string, unknown>();
  private readonly underlay: Underlay;
  private readonly xdsAddress: string;
  /** The address family apps dial (cluster DNS answers and pod addresses); see useFamily. */
  private family: 4 | 6 = 4;
  private readonly adminAddress: string;

  constructor(opts: NetnsDriverOptions = {}) {
    this.prefix = opts.prefix ?? 'wn';
    this.workDir = opts.workDir ?? join(REPO_ROOT, '.weft', 'netns');
    this.manifestsDir = opts.manifestsDir ?? join(REPO_ROOT, 'apps', 'examples', 'manifests');
    this.nodes = planNodes(this.prefix, opts.nodes ?? ['node-a', 'node-b'], opts.network ?? 0);
    this.underlay = underlay(opts.network ?? 0);
    this.xdsAddress = `${this.underlay.host4}:15010`;
    this.adminAddress = `${this.underlay.host4}:15014`;
    this.runtime = opts.runtime ?? 'node';
  }

  get configDir(): string {
    return join(this.workDir, 'config');
  }
  get logsDir(): string {
    return join(this.workDir, 'logs');
  }
  private nodeDir(node: string): string {
    return join(this.workDir, 'nodes', node);
  }
  private agentSocket(node: string): string {
    return join(this.nodeDir(node), 'cni.sock');
  }
  private ztunnelSocket(node: string): string {
    return join(this.nodeDir(node), 'ztunnel.sock');
  }
  private get cniBinDir(): string {
    return join(this.workDir, 'cni-bin');
  }

  // ---- processes

  private command(entry: { pkg: string; main: string }): string[] {
    if (this.runtime === 'bun')
      return [
        bunExecutable(),
        '--conditions=weft-source',
        join(REPO_ROOT, entry.pkg, 'src', `${entry.main}.ts`),
      ];
    const file = join(REPO_ROOT, entry.pkg, 'dist', `${entry.main}.js`);
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` first`);
    return [process.execPath, file];
  }

  private spawn(name: string, recipe: Recipe): ManagedProcess {
    this.recipes.set(name, recipe);
    const argv = [...this.command(recipe.entry), ...recipe.args];
    const asUid =
      recipe.uid !== undefined
        ? ['setpriv', `--reuid=${recipe.uid}`, `--regid=${recipe.uid}`, '--clear-groups', '--']
        : [];
    const full =
      recipe.netns !== undefined
        ? ['ip', 'netns', 'exec', recipe.netns, ...asUid, ...argv]
        : [...asUid, ...argv];
    const [cmd, ...args] = full as [string, ...string[]];
    const proc = startProcess(name, cmd, args, join(this.logsDir, `${name}.log`));
    this.procs.set(name, proc);
    return proc;
  }

  // ---- lifecycle

  async start(): Promise<void> {
    const support = await netnsSupport();
    if (!support.ok) throw new Error(support.reason);
    await this.cleanup();
    try {
      await this.startCluster();
    } catch (err) {
      await this.stop().catch(() => {});
      throw err;
    }
  }

  private async startCluster(): Promise<void> {
    rmSync(this.workDir, { recursive: true, force: true });
    for (const dir of [this.configDir, this.logsDir, join(this.workDir, 'ca'), this.cniBinDir])
      mkdirSync(dir, { recursive: true });
    chmodSync(this.workDir, 0o755);
    for (const file of readdirSync(this.manifestsDir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()) {
      const text = readFileSync(join(this.manifestsDir, file), 'utf8');
      this.sources.set(
        file,
        parseAllDocuments(text).map((d) => d.toJSON() as unknown),
      );
      copyFileSync(join(this.manifestsDir, file), join(this.workDir, `source-${file}`));
    }
    this.logicalPods = readPods(this.manifestsDir);
    // The manifests weftd and the agents read start with no pod addresses: CNI hands them out.
    this.writeManifests();
    this.installCniPlugin();

    await this.createUnderlay();
    for (const node of this.nodes) await this.createNode(node);

    const tokens = this.writeTokens();
    const weftd = this.spawn('weftd', {
      netns: undefined,
      entry: { pkg: 'apps/control-plane', main: 'main' },
      args: [
        '--config-dir',
        this.configDir,
        '--xds-address',
        this.xdsAddress,
        '--admin-address',
        this.adminAddress,
        '--xds-tls-address',
        'off',
        '--injection-address',
        'off',
        '--token-file',
        tokens,
        '--ca-dir',
        join(this.workDir, 'ca'),
      ],
      ready: `http://${this.adminAddress}/healthz/ready`,
    });
    await waitReady(weftd, `http://${this.adminAddress}/healthz/ready`);

    await Promise.all(this.nodes.map((node) => this.startNodeComponents(node)));

    // Pods: the plugin list runs as the runtime runs it; between IPAM and Weft's plugin the pod's
    // addresses are published (the kubelet reports them), so the agent knows the pod it enrolls.
    for (const pod of this.logicalPods) await this.addPodNetwork(pod);
    this.writeManifests();
    for (const pod of this.pods) await this.enrollPod(pod);

    await Promise.all(this.waypointPods().map((p) => this.startWaypoint(p)));
    await Promise.all(this.sidecarPods().map((p) => this.startSidecar(p)));
    await Promise.all(this.pods.map((p) => this.startApp(p)));
    await Promise.all(this.proxylessPods().map((p) => this.startProxylessServer(p)));
    writeFileSync(join(this.workDir, 'endpoints.json'), `${JSON.stringify(this.endpoints(), null, 2)}\n`);
  }

  endpoints(): unknown {
    return {
      weftd: { xds: this.xdsAddress, admin: `http://${this.adminAddress}` },
      nodes: this.nodes.map((n) => ({
        name: n.name,
        netns: n.netns,
        ip: n.ip4,
        metrics: `http://${n.ip4}:15020/metrics`,
      })),
      pods: this.pods.map((p) => ({
        name: p.name,
        namespace: p.namespace,
        mode: p.mode,
        netns: p.netns,
        ip4: p.ip4,
        ip6: p.ip6,
      })),
    };
  }

  /** Removes everything of this prefix: processes of an earlier run, netns, links, routes. */
  async cleanup(): Promise<void> {
    const pidFile = join(this.workDir, 'pids');
    if (existsSync(pidFile))
      for (const pid of readFileSync(pidFile, 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    const list = await execa('ip', ['netns', 'list'], { reject: false });
    for (const line of String(list.stdout).split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (name.startsWith(`${this.prefix}-`)) {
        // Processes still inside a netns keep it alive: end them first.
        const pids = await execa('ip', ['netns', 'pids', name], { reject: false });
        for (const pid of String(pids.stdout).split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
        await tryRun('ip', ['netns', 'del', name]);
      }
    }
    await tryRun('ip', ['link', 'del', underlayBridge(this.prefix)]);
    for (const node of this.nodes) {
      await tryRun('ip', ['link', 'del', node.hostVeth]);
      await tryRun('ip', ['route', 'del', node.podCidr4]);
      await tryRun('ip', ['-6', 'route', 'del', node.podCidr6]);
    }
  }

  async stop(): Promise<void> {
    // Pods first (apps and their proxies), then CNI DEL while the node agents still run, so each
    // pod leaves the mesh as it would in a cluster; then the nodes and the control plane.
    const isNode = (name: string) =>
      name === 'weftd' || name.startsWith('ztunnel-') || name.startsWith('node-agent-');
    const podProcs = [...this.procs.entries()].filter(([n]) => !isNode(n));
    for (const [n] of podProcs) this.procs.delete(n);
    await Promise.all(podProcs.map(([, p]) => p.stop()));
    for (const pod of [...this.pods].reverse()) await this.delPodNetwork(pod).catch(() => {});
    this.pods = [];
    const rest = [...this.procs.values()].reverse();
    this.procs.clear();
    await Promise.all(rest.map((p) => p.stop()));
    await this.cleanup();
  }

  private recordPids(): void {
    const pids = [...this.procs.values()].map((p) => p.pid).filter((p) => p !== undefined);
    writeFileSync(join(this.workDir, 'pids'), `${pids.join('\n')}\n`);
  }

  // ---- network

  private async createUnderlay(): Promise<void> {
    const br = underlayBridge(this.prefix);
    await run('ip', ['link', 'add', br, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${this.underlay.host4}/${this.underlay.prefix4}`, 'dev', br]);
    await run('ip', [
      '-6',
      'addr',
      'add',
      `${this.underlay.host6}/${this.underlay.prefix6}`,
      'dev',
      br,
      'nodad',
    ]);
    await run('ip', ['link', 'set', br, 'up']);
  }

  private async createNode(node: NetnsNode): Promise<void> {
    const ns = node.netns;
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
    await run('ip', ['netns', 'add', ns]);
    await inNs('ip', 'link', 'set', 'lo', 'up');
    for (const s of [
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
    ])
      await inNs('sysctl', '-qw', s);
    await run('ip', ['link', 'add', node.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run('ip', ['link', 'set', node.hostVeth, 'master', underlayBridge(this.prefix), 'up']);
    await inNs('ip', 'addr', 'add', `${node.ip4}/${this.underlay.prefix4}`, 'dev', 'eth0');
    await inNs('ip', '-6', 'addr', 'add', `${node.ip6}/${this.underlay.prefix6}`, 'dev', 'eth0', 'nodad');
    await inNs('ip', 'link', 'set', 'eth0', 'up');
    // The other nodes' pods over the underlay; the root netns reaches every pod through its node.
    for (const other of this.nodes) {
      if (other.name === node.name) continue;
      await inNs('ip', 'route', 'add', other.podCidr4, 'via', other.ip4);
      await inNs('ip', '-6', 'route', 'add', other.podCidr6, 'via', other.ip6);
    }
    await run('ip', ['route', 'add', node.podCidr4, 'via', node.ip4]);
    await run('ip', ['-6', 'route', 'add', node.podCidr6, 'via', node.ip6]);
    mkdirSync(join(this.nodeDir(node.name), 'ipam'), { recursive: true });
    mkdirSync(join(this.nodeDir(node.name), 'agent'), { recursive: true });
    this.conflists.set(
      node.name,
      nodeConflist(node, {
        ipamDir: join(this.nodeDir(node.name), 'ipam'),
        agentSocket: this.agentSocket(node.name),
      }),
    );
    writeFileSync(
      join(this.nodeDir(node.name), '10-weft.conflist'),
      `${JSON.stringify(this.conflists.get(node.name), null, 2)}\n`,
    );
  }

  /** `weft-cni` in the CNI path: the plugin's entry point, run by the machine's Node. */
  private installCniPlugin(): void {
    const main = this.command({ pkg: 'packages/cni', main: 'plugin/main' });
    const path = join(this.cniBinDir, 'weft-cni');
    writeFileSync(path, `#!/bin/sh\nexec ${main.map((a) => `'${a}'`).join(' ')}\n`, { mode: 0o755 });
  }

  private async invokePlugin(
    node: NetnsNode,
    list: CniConflist,
    index: number,
    command: 'ADD' | 'DEL',
    pod: { namespace: string; name: string; netns: string; containerId: string },
    prevResult: unknown,
  ): Promise<unknown> {
    const plugin = list.plugins[index] as { type: string };
    const bin =
      plugin.type === 'weft-cni' ? join(this.cniBinDir, 'weft-cni') : join(CNI_PLUGIN_DIR, plugin.type);
    const r = await execa('ip', ['netns', 'exec', node.netns, bin], {
      reject: false,
      input: JSON.stringify(pluginConfig(list, index, prevResult)),
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: pod.containerId,
        CNI_NETNS: `/var/run/netns/${pod.netns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: `${CNI_PLUGIN_DIR}:${this.cniBinDir}`,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name}`,
      },
    });
    if (r.exitCode !== 0)
      throw new Error(
        `CNI ${command} ${plugin.type} for ${pod.namespace}/${pod.name} failed (${r.exitCode}): ${String(r.stdout || r.stderr).trim()}`,
      );
    const out = String(r.stdout).trim();
    return out === '' ? prevResult : (JSON.parse(out) as unknown);
  }

  private async addPodNetwork(pod: LocalPod): Promise<void> {
    const node = this.node(pod.node);
    const list = this.conflist(node.name);
    const netns = podNetns(this.prefix, pod.namespace, pod.name);
    await run('ip', ['netns', 'add', netns]);
    for (const s of ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
      await run('ip', ['netns', 'exec', netns, 'sysctl', '-qw', s]);
    await run('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    const containerId = `${this.prefix}${randomBytes(8).toString('hex')}`;
    const ref = { namespace: pod.namespace, name: pod.name, netns, containerId };
    // The node's own network plugins (bridge with host-local IPAM); Weft's plugin comes later.
    const result = await this.invokePlugin(node, list, 0, 'ADD', ref, undefined);
    const { ip4, ip6 } = resultIps(result);
    if (ip4 === undefined) throw new Error(`CNI gave ${pod.namespace}/${pod.name} no IPv4 address`);
    this.pods.push({ ...pod, ip: ip4, netns, ip4, ip6, containerId });
    this.prevResults.set(netns, result);
    this.recordPids();
  }

  private async enrollPod(pod: NetnsPod): Promise<void> {
    const node = this.node(pod.node);
    const list = this.conflist(node.name);
    const prev = this.prevResults.get(pod.netns);
    for (let i = 1; i < list.plugins.length; i++) await this.invokePlugin(node, list, i, 'ADD', pod, prev);
  }

  private async delPodNetwork(pod: NetnsPod): Promise<void> {
    const node = this.node(pod.node);
    const list = this.conflist(node.name);
    for (let i = list.plugins.length - 1; i >= 0; i--)
      await this.invokePlugin(node, list, i, 'DEL', pod, undefined).catch(() => undefined);
    await tryRun('ip', ['netns', 'del', pod.netns]);
  }

  private writeManifests(): void {
    const plan = {
      pods: new Map(this.pods.map((p) => [`${p.namespace}/${p.name}`, { ip4: p.ip4, ip6: p.ip6 }])),
    };
    for (const [file, docs] of this.sources) {
      const out = docs
        .filter((d) => d !== null)
        .map((d) => stringify(rewriteDocument(d, plan)))
        .join('---\n');
      writeFileSync(join(this.configDir, file), out);
    }
  }

  private writeTokens(): string {
    const lines = ['# token namespace service-account node'];
    for (const node of this.nodes) {
      const t = randomBytes(16).toString('hex');
      writeFileSync(join(this.nodeDir(node.name), 'ztunnel.token'), `${t}\n`, { mode: 0o600 });
      lines.push(`${t} weft-system ztunnel ${node.name}`);
    }
    for (const pod of [
      ...this.waypointLogical(),
      ...this.sidecarLogical(),
      ...this.logicalPods.filter((p) => p.mode === 'proxyless'),
    ]) {
      const t = randomBytes(16).toString('hex');
      // 0644: a sidecar reads it as uid 1337.
      writeFileSync(join(this.workDir, `${pod.namespace}-${pod.name}.token`), `${t}\n`, { mode: 0o644 });
      lines.push(`${t} ${pod.namespace} ${pod.serviceAccount}`);
    }
    const file = join(this.workDir, 'tokens.txt');
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
    return file;
  }

  // ---- components

  private async startNodeComponents(node: NetnsNode): Promise<void> {
    const agentName = `node-agent-${node.name}`;
    this.spawn(agentName, {
      netns: node.netns,
      entry: { pkg: 'packages/cni', main: 'agent/main' },
      args: [
        '--node',
        node.name,
        '--manifests',
        this.configDir,
        '--cni-socket',
        this.agentSocket(node.name),
        '--ztunnel-socket',
        this.ztunnelSocket(node.name),
        '--state-dir',
        join(this.nodeDir(node.name), 'agent'),
        '--metrics-address',
        `${node.ip4}:15030`,
      ],
      ready: undefined,
    });
    await this.waitFor(() => existsSync(this.agentSocket(node.name)), `${agentName}'s socket`);
    const zname = `ztunnel-${node.name}`;
    const ready = `http://${node.ip4}:15021/healthz/ready`;
    const z = this.spawn(zname, {
      netns: node.netns,
      entry: { pkg: 'packages/ztunnel', main: 'main' },
      args: [
        '--node',
        node.name,
        '--node-ip',
        node.ip4,
        '--xds-address',
        this.xdsAddress,
        '--token-file',
        join(this.nodeDir(node.name), 'ztunnel.token'),
        '--node-agent-socket',
        this.ztunnelSocket(node.name),
        '--access-log',
        'kv',
      ],
      ready,
    });
    this.recordPids();
    await waitReady(z, ready);
  }

  private async startWaypoint(pod: NetnsPod): Promise<void> {
    const ready = `http://${pod.ip4}:15021/healthz/ready`;
    const w = this.spawn(pod.name, {
      netns: pod.netns,
      entry: { pkg: 'packages/waypoint', main: 'main' },
      args: [
        '--name',
        `${pod.namespace}/${pod.labels[GATEWAY_NAME_LABEL]}`,
        '--xds-address',
        this.xdsAddress,
        '--token-file',
        join(this.workDir, `${pod.namespace}-${pod.name}.token`),
        '--hbone',
        `${pod.ip4}:15008`,
        '--admin',
        `${pod.ip4}:15000`,
        '--metrics',
        `${pod.ip4}:15020`,
        '--readiness',
        `${pod.ip4}:15021`,
        '--access-log',
        'kv',
      ],
      ready,
    });
    this.recordPids();
    await waitReady(w, ready);
  }

  private async startSidecar(pod: NetnsPod): Promise<void> {
    const ready = `http://${pod.ip4}:15021/healthz/ready`;
    const s = this.spawn(`${pod.name}-proxy`, {
      netns: pod.netns,
      uid: PROXY_UID,
      entry: { pkg: 'packages/sidecar', main: 'main' },
      args: [
        '--pod',
        `${pod.namespace}/${pod.name}`,
        '--pod-ip',
        pod.ip4,
        '--service-account',
        pod.serviceAccount,
        '--xds-address',
        this.xdsAddress,
        '--token-file',
        join(this.workDir, `${pod.namespace}-${pod.name}.token`),
        '--capture',
        '--access-log',
        'kv',
      ],
      ready,
    });
    this.recordPids();
    await waitReady(s, ready);
  }

  /** The SDK's flags for a proxyless pod's app. */
  private proxylessFlags(pod: NetnsPod): string[] {
    return [
      '--pod',
      `${pod.namespace}/${pod.name}`,
      '--service-account',
      pod.serviceAccount,
      '--xds-address',
      this.xdsAddress,
      '--token-file',
      join(this.workDir, `${pod.namespace}-${pod.name}.token`),
    ];
  }

  /** A proxyless pod's gRPC server (the SDK, no proxy): uncaptured, in its own netns. */
  private async startProxylessServer(pod: NetnsPod): Promise<void> {
    const port = pod.ports[0];
    if (port === undefined || port === 0) return;
    const proc = this.spawn(pod.name, {
      netns: pod.netns,
      entry: { pkg: 'apps/examples', main: 'grpc-echo-server-main' },
      args: [...this.proxylessFlags(pod), '--listen', String(port), '--version', pod.labels.version ?? 'v1'],
      ready: undefined,
    });
    this.recordPids();
    await waitForLine(proc, 'serving on', 30_000);
  }

  async grpcPlainCall(
    fromPod: string,
    target: string,
    method: 'Echo' | 'Admin' = 'Echo',
  ): Promise<GrpcWireResult> {
    const cut = target.lastIndexOf(':');
    const pod = this.pod(fromPod);
    try {
      const socket = await this.connectAs(pod, target.slice(0, cut), Number(target.slice(cut + 1)), 5000);
      return await echoOverSocket(socket, target, method);
    } catch (err) {
      return { ok: false, status: undefined, error: (err as Error).message };
    }
  }

  async grpcCalls(fromPod: string, target: string, opts: GrpcCallOptions = {}): Promise<GrpcTally> {
    const pod = this.pod(fromPod);
    if (pod.mode !== 'proxyless') throw new Error(`${fromPod} is not a proxyless pod`);
    const argv = this.command({ pkg: 'apps/examples', main: 'grpc-echo-client-main' });
    return await runGrpcClient('ip', [
      'netns',
      'exec',
      pod.netns,
      ...argv,
      ...this.proxylessFlags(pod),
      '--target',
      target,
      '--calls',
      String(opts.calls ?? 10),
      '--method',
      opts.method ?? 'Echo',
    ]);
  }

  proxylessPods(): NetnsPod[] {
    return this.pods.filter((p) => p.mode === 'proxyless');
  }

  private async startApp(pod: NetnsPod): Promise<void> {
    const port = pod.ports[0];
    if (port === undefined || port === 0 || pod.labels[GATEWAY_NAME_LABEL] !== undefined) return;
    if (pod.mode === 'proxyless') return;
    if (pod.annotations[EXAMPLE_APP_ANNOTATION] === 'grpc-echo-plain') {
      const app = this.spawn(pod.name, {
        netns: pod.netns,
        entry: { pkg: 'apps/examples', main: 'grpc-echo-plain-main' },
        args: ['--listen', `[::]:${port}`, '--pod', pod.name, '--version', pod.labels.version ?? 'v1'],
        ready: undefined,
      });
      this.recordPids();
      await waitForLine(app, 'serving on', 30_000);
      return;
    }
    const failEvery = pod.annotations['weft.dev/echo-fail-every'];
    // The app listens on every address of its pod (both families) and knows nothing of the mesh.
    const app = this.spawn(pod.name, {
      netns: pod.netns,
      entry: { pkg: 'apps/examples', main: 'echo-main' },
      args: [
        '--listen',
        `[::]:${port}`,
        '--service',
        pod.labels.app ?? pod.name,
        '--version',
        pod.labels.version ?? 'v1',
        '--pod',
        pod.name,
        ...(failEvery !== undefined ? ['--fail-every', failEvery] : []),
      ],
      ready: undefined,
    });
    this.recordPids();
    // Readiness from the node, as a kubelet probes: the node's traffic is not captured.
    const node = this.node(pod.node);
    await this.waitFor(
      async () => (await this.nodeProbe(node, pod.ip4, port, '/healthz')) === 200,
      `${pod.name} to answer its probe`,
      app,
    );
  }

  /** An HTTP GET sent from a node's netns (as a kubelet probe): the status, 0 when it failed. */
  async nodeProbe(node: NetnsNode, ip: string, port: number, path: string): Promise<number> {
    const net = await import('@weft/linux-net');
    try {
      const response = await meshRequest({
        url: `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}${path}`,
        timeoutMs: 2000,
        connect: (host, p, timeoutMs) =>
          net
            .createNetnsSocketFactory(`/var/run/netns/${node.netns}`)
            .connect({ ip: host, port: p }, { timeoutMs }),
      });
      return response.status;
    } catch {
      return 0;
    }
  }

  private async waitFor(
    check: () => boolean | Promise<boolean>,
    what: string,
    proc?: ManagedProcess,
    timeoutMs = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const tail = proc !== undefined ? `\n${proc.lines().slice(-20).join('\n')}` : '';
    throw new Error(`timed out waiting for ${what}${tail}`);
  }

  // ---- MeshDriver

  private componentName(name: string): string {
    if (this.sidecarPods().some((p) => p.name === name)) return `${name}-proxy`;
    if (name === 'weftd' || this.recipes.has(name)) return name;
    return `ztunnel-${name}`;
  }

  async stopComponent(name: string): Promise<void> {
    const key = this.componentName(name);
    await this.procs.get(key)?.stop();
    this.procs.delete(key);
  }

  async killComponent(name: string): Promise<void> {
    const key = this.componentName(name);
    const proc = this.procs.get(key);
    if (proc === undefined) throw new Error(`no running component named ${name} to kill`);
    await proc.kill();
    this.procs.delete(key);
  }

  async startComponent(name: string): Promise<void> {
    const key = this.componentName(name);
    const recipe = this.recipes.get(key);
    if (recipe === undefined) throw new Error(`no component named ${name} to start`);
    if (this.procs.has(key)) throw new Error(`${name} is already running`);
    const proc = this.spawn(key, recipe);
    this.recordPids();
    if (recipe.ready !== undefined) await waitReady(proc, recipe.ready, 30_000, 20);
  }

  async apply(name: string, yaml: string): Promise<void> {
    const plan = {
      pods: new Map(this.pods.map((p) => [`${p.namespace}/${p.name}`, { ip4: p.ip4, ip6: p.ip6 }])),
    };
    const docs = parseAllDocuments(yaml).map((d) => d.toJSON() as unknown);
    writeFileSync(
      join(this.configDir, name),
      docs
        .filter((d) => d !== null)
        .map((d) => stringify(rewriteDocument(d, plan)))
        .join('---\n'),
    );
  }

  async remove(name: string): Promise<void> {
    rmSync(join(this.configDir, name), { force: true });
  }

  /**
   * From now on apps dial IPv6 (6) or IPv4 (4): cluster DNS answers a service's VIP of that
   * family, podIp() gives that family's pod address, outside callers use it too.
   */
  useFamily(family: 4 | 6): void {
    this.family = family;
  }

  podIp(name: string): string {
    const pod = this.pod(name);
    if (this.family === 6) {
      if (pod.ip6 === undefined) throw new Error(`pod ${name} has no IPv6 address`);
      return pod.ip6;
    }
    return pod.ip4;
  }

  /** A pod's IPv6 address. */
  nodeOf(name: string): string {
    return this.pod(name).node;
  }

  podIp6(name: string): string | undefined {
    return this.pod(name).ip6;
  }

  serviceIp6(host: string): string {
    return this.resolve(host, 6);
  }

  appPid(name: string): number | undefined {
    return this.procs.get(name)?.pid;
  }

  async probe(name: string, port: number, path: string): Promise<number> {
    const pod = this.pod(name);
    return await this.nodeProbe(this.node(pod.node), pod.ip4, port, path);
  }

  async podRules(name: string): Promise<string> {
    const pod = this.pod(name);
    const save = async (bin: string) =>
      (await run('ip', ['netns', 'exec', pod.netns, bin, '-t', 'nat']))
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
        .join('\n');
    return `${await save('iptables-save')}\n${await save('ip6tables-save')}`;
  }

  /** Changes a running pod's data-plane mode label in the manifests (undefined removes it). */
  async setPodMode(name: string, mode: 'ambient' | 'sidecar' | 'none' | undefined): Promise<void> {
    const pod = this.pod(name);
    for (const docs of this.sources.values())
      for (const d of docs) {
        const o = d as {
          kind?: string;
          metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
        };
        if (
          o?.kind !== 'Pod' ||
          o.metadata?.name !== pod.name ||
          (o.metadata.namespace ?? 'default') !== pod.namespace
        )
          continue;
        const labels = { ...(o.metadata.labels ?? {}) };
        if (mode === undefined) delete labels[DATAPLANE_MODE_LABEL];
        else labels[DATAPLANE_MODE_LABEL] = mode;
        o.metadata.labels = labels;
      }
    this.writeManifests();
  }

  /**
   * The address an app would dial for a URL host: cluster DNS for `<svc>.<ns>.svc.cluster.local`
   * (the service's VIP, IPv4 unless `family` is 6), an IP as it is.
   */
  resolve(host: string, family: 4 | 6 = this.family): string {
    const bare = host.replace(/^\[|\]$/g, '');
    const m = /^([a-z0-9-]+)\.([a-z0-9-]+)(\.svc(\.cluster\.local)?)?$/.exec(bare);
    if (m === null) return bare;
    for (const docs of this.sources.values())
      for (const d of docs) {
        const o = d as {
          kind?: string;
          metadata?: { name?: string; namespace?: string };
          spec?: { clusterIP?: string };
        };
        if (
          o?.kind === 'Service' &&
          o.metadata?.name === m[1] &&
          (o.metadata?.namespace ?? 'default') === m[2]
        ) {
          const ip = o.spec?.clusterIP;
          if (ip === undefined) break;
          const v = serviceVips(ip);
          return family === 6 ? v.ip6 : v.ip4;
        }
      }
    throw new Error(`no Service ${bare} in the manifests (the driver's cluster DNS)`);
  }

  /** Opens a TCP connection as `pod` would: a socket inside its netns, captured by its rules. */
  async connectAs(pod: NetnsPod, host: string, port: number, timeoutMs: number): Promise<Socket> {
    const net = await import('@weft/linux-net');
    return await net
      .createNetnsSocketFactory(`/var/run/netns/${pod.netns}`)
      .connect({ ip: this.resolve(host), port }, { timeoutMs });
  }

  async request(fromPod: string, url: string, opts: RequestOptions = {}): Promise<CallResult> {
    try {
      const pod = this.pod(fromPod);
      const response = await meshRequest({
        url,
        ...opts,
        connect: (host, port, timeoutMs) => this.connectAs(pod, host, port, timeoutMs),
      });
      return { ok: true, response };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async plaintextRequest(toPod: string, port: number, path: string): Promise<CallResult> {
    // From the root netns: a caller outside the mesh, routed to the pod through its node and
    // captured by the pod's inbound rules (or reaching the app of a pod out of the mesh).
    const ip = this.podIp(toPod);
    try {
      const response = await meshRequest({
        url: `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}${path}`,
        timeoutMs: 3000,
        connect: (host, p, timeoutMs) => connectPlain(host.replace(/^\[|\]$/g, ''), p, timeoutMs),
      });
      return { ok: true, response };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async openConnection(fromPod: string, url: string): Promise<MeshConnection> {
    const target = new URL(url);
    const socket = await this.connectAs(this.pod(fromPod), target.hostname, Number(target.port || 80), 5000);
    return keptAlive(socket, target.host);
  }

  async metrics(component: string): Promise<string> {
    const proxyPod = [...this.waypointPods(), ...this.sidecarPods()].find((p) => p.name === component);
    const url =
      component === 'weftd'
        ? `http://${this.adminAddress}/metrics`
        : proxyPod !== undefined
          ? `http://${proxyPod.ip4}:15020/metrics`
          : `http://${this.node(component).ip4}:15020/metrics`;
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return await res.text();
  }

  async accessLog(component: string): Promise<string[]> {
    const proc = this.procs.get(
      this.waypointPods().some((p) => p.name === component)
        ? component
        : this.sidecarPods().some((p) => p.name === component)
          ? `${component}-proxy`
          : `ztunnel-${component}`,
    );
    return (proc?.lines() ?? []).filter(
      (l) => l.includes('src.identity=') || l.includes('src_identity') || l.includes('spiffe://'),
    );
  }

  // ---- lookups

  pod(name: string): NetnsPod {
    const pod = this.pods.find((p) => p.name === name);
    if (pod === undefined) throw new Error(`no pod named ${name} in the netns cluster`);
    return pod;
  }

  node(name: string): NetnsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no node named ${name} in the netns cluster`);
    return node;
  }

  private conflist(node: string): CniConflist {
    const list = this.conflists.get(node);
    if (list === undefined) throw new Error(`node ${node} has no CNI configuration`);
    return list;
  }

  sidecarPods(): NetnsPod[] {
    return this.pods.filter((p) => p.mode === 'sidecar' && (p.labels[GATEWAY_NAME_LABEL] ?? '') === '');
  }

  waypointPods(): NetnsPod[] {
    return this.pods.filter((p) => (p.labels[GATEWAY_NAME_LABEL] ?? '') !== '');
  }

  private sidecarLogical(): LocalPod[] {
    return this.logicalPods.filter(
      (p) => p.mode === 'sidecar' && (p.labels[GATEWAY_NAME_LABEL] ?? '') === '',
    );
  }

  private waypointLogical(): LocalPod[] {
    return this.logicalPods.filter((p) => (p.labels[GATEWAY_NAME_LABEL] ?? '') !== '');
  }
}
