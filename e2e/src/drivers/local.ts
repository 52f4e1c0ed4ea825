// The local driver: a whole mesh on loopback, no root. weftd reads a folder of YAML, two ztunnel
// "nodes" each own a loopback address, and every workload is a process on its own 127.0.x.y
// address (its pod IP). Clients enter the mesh through their node's SOCKS5 port, sending from their
// pod IP so the ztunnel knows who is calling. A waypoint pod (labelled with its Gateway's name) is
// a waypoint process on its pod IP (HBONE 15008, admin 15000, metrics 15020, readiness 15021),
// authenticated to weftd with a token of its service account. A sidecar pod (labelled
// weft.dev/dataplane-mode: sidecar) gets a sidecar process on its pod IP (HBONE 15008, plaintext
// inbound 15006, SOCKS5 15080, admin 15000, metrics 15020, readiness 15021), authenticated with a
// token of the pod's service account; its app sits behind it on the pod's container port, and its
// outbound calls enter the mesh through the sidecar's SOCKS5 port instead of the node's.
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dial, meshRequest } from '@weft/examples';
import { parseAllDocuments } from 'yaml';
import type {
  CallResult,
  GrpcCallOptions,
  GrpcTally,
  MeshConnection,
  MeshDriver,
  RequestOptions,
} from '../driver.ts';
import { echoOverSocket, type GrpcWireResult } from '../grpc-wire.ts';
import { keptAlive } from '../keepalive.ts';
import { type ManagedProcess, runGrpcClient, startProcess, waitForLine, waitReady } from '../processes.ts';
import { bunExecutable } from '../runtime.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What runs a waypoint pod: @weft/waypoint's binary (xDS + CA from weftd). */
const WAYPOINT_ENTRY = { pkg: 'packages/waypoint', main: 'main' } as const;
/** What runs beside a sidecar pod's app: @weft/sidecar's binary (xDS + CA from weftd). */
const SIDECAR_ENTRY = { pkg: 'packages/sidecar', main: 'main' } as const;

export interface LocalNode {
  readonly name: string;
  readonly ip: string;
}

export interface LocalPod {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly node: string;
  readonly serviceAccount: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly ports: readonly number[];
  /** The pod's data-plane mode: its dataplane-mode label, else its namespace's, else none. */
  readonly mode: 'ambient' | 'sidecar' | 'proxyless' | 'none';
}

/** The Gateway API label naming the Gateway a pod runs (a waypoint pod carries it). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Pod annotation: which example app the pod runs (default the HTTP echo; `grpc-echo-plain`). */
export const EXAMPLE_APP_ANNOTATION = 'weft.dev/example-app';
/** Pod annotation: start this echo with `--fail-every <n>` (the flaky backend of the demo). */
export const FAIL_EVERY_ANNOTATION = 'weft.dev/echo-fail-every';
/** The label (on a pod, else its namespace) choosing how a pod joins the mesh. */
export const DATAPLANE_MODE_LABEL = 'weft.dev/dataplane-mode';
/** The process running a sidecar pod's proxy (the pod's name is its app's). */
export const sidecarProcessName = (pod: string): string => `${pod}-proxy`;

export interface LocalDriverOptions {
  /** Where config, tokens, CA files, logs and endpoints.json go. Default: <repo>/.weft/local. */
  readonly workDir?: string;
  /** Manifests copied into the config folder at start. Default: apps/examples/manifests. */
  readonly manifestsDir?: string;
  readonly nodes?: readonly LocalNode[];
  /** Runtime for every component: Node on built dist/ (default) or Bun on TypeScript source. */
  readonly runtime?: 'node' | 'bun';
  readonly xdsAddress?: string;
  readonly adminAddress?: string;
  /** Start an echo process for every pod with a container port (default true). */
  readonly startWorkloads?: boolean;
  /** Extra command-line flags for a node's ztunnel (e.g. --forward listeners). */
  readonly ztunnelArgs?: (node: LocalNode) => readonly string[];
}

export interface LocalEndpoints {
  readonly weftd: { readonly xds: string; readonly admin: string };
  readonly nodes: readonly {
    readonly name: string;
    readonly ip: string;
    readonly socks5: string;
    readonly admin: string;
    readonly metrics: string;
    readonly readiness: string;
  }[];
  readonly pods: readonly LocalPod[];
  readonly waypoints: readonly {
    readonly pod: string;
    readonly gateway: string;
    readonly hbone: string;
    readonly admin: string;
    readonly metrics: string;
  }[];
  readonly sidecars: readonly {
    readonly pod: string;
    readonly hbone: string;
    readonly socks5: string;
    readonly admin: string;
    readonly metrics: string;
  }[];
  readonly configDir: string;
  readonly logsDir: string;
}

const DEFAULT_NODES: readonly LocalNode[] = [
  { name: 'node-a', ip: '127.0.1.1' },
  { name: 'node-b', ip: '127.0.2.1' },
];

/** Pods declared by the manifests in `dir` (the ones with a pod IP). */
export function readPods(dir: string): LocalPod[] {
  const pods: (Omit<LocalPod, 'mode'> & { ownMode: string | undefined })[] = [];
  const namespaceModes = new Map<string, string>();
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const o = doc.toJSON() as {
        kind?: string;
        metadata?: {
          name?: string;
          namespace?: string;
          labels?: Record<string, string>;
          annotations?: Record<string, string>;
        };
        spec?: {
          nodeName?: string;
          serviceAccountName?: string;
          containers?: { ports?: { containerPort?: number }[] }[];
        };
        status?: { podIP?: string };
      } | null;
      const nsMode = o?.metadata?.labels?.[DATAPLANE_MODE_LABEL];
      if (o?.kind === 'Namespace' && o.metadata?.name && nsMode !== undefined)
        namespaceModes.set(o.metadata.name, nsMode);
      if (o?.kind !== 'Pod' || !o.status?.podIP || !o.metadata?.name) continue;
      pods.push({
        name: o.metadata.name,
        namespace: o.metadata.namespace ?? 'default',
        ip: o.status.podIP,
        node: o.spec?.nodeName ?? '',
        serviceAccount: o.spec?.serviceAccountName ?? 'default',
        labels: o.metadata.labels ?? {},
        annotations: o.metadata.annotations ?? {},
        ports: (o.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort ?? 0)),
        ownMode: o.metadata.labels?.[DATAPLANE_MODE_LABEL],
      });
    }
  }
  return pods.map(({ ownMode, ...pod }) => {
    const mode = ownMode ?? namespaceModes.get(pod.namespace);
    return {
      ...pod,
      mode: mode === 'ambient' || mode === 'sidecar' || mode === 'proxyless' ? mode : 'none',
    };
  });
}

export class LocalDriver implements MeshDriver {
  readonly name = 'local' as const;
  readonly workDir: string;
  readonly nodes: readonly LocalNode[];
  private readonly manifestsDir: string;
  private readonly runtime: 'node' | 'bun';
  private readonly xdsAddress: string;
  private readonly adminAddress: string;
  private readonly startWorkloads: boolean;
  private readonly ztunnelArgs: (node: LocalNode) => readonly string[];
  private readonly procs = new Map<string, ManagedProcess>();
  /** How each component was started, to start it again after stopComponent. */
  private readonly recipes = new Map<
    string,
    { entry: { pkg: string; main: string }; args: string[]; ready: string }
  >();
  private pods: LocalPod[] = [];

  constructor(opts: LocalDriverOptions = {}) {
    this.workDir = opts.workDir ?? join(REPO_ROOT, '.weft', 'local');
    this.manifestsDir = opts.manifestsDir ?? join(REPO_ROOT, 'apps', 'examples', 'manifests');
    this.nodes = opts.nodes ?? DEFAULT_NODES;
    this.runtime = opts.runtime ?? 'node';
    this.xdsAddress = opts.xdsAddress ?? '127.0.0.1:15010';
    this.adminAddress = opts.adminAddress ?? '127.0.0.1:15014';
    this.startWorkloads = opts.startWorkloads ?? true;
    this.ztunnelArgs = opts.ztunnelArgs ?? (() => []);
  }

  /** The OS process id of a component ("weftd", "ztunnel-node-a", a pod name). */
  pid(name: string): number | undefined {
    return this.procs.get(name)?.pid;
  }

  get configDir(): string {
    return join(this.workDir, 'config');
  }
  get logsDir(): string {
    return join(this.workDir, 'logs');
  }
  get endpointsFile(): string {
    return join(this.workDir, 'endpoints.json');
  }

  /** The command line that runs a component: built JS on Node, or TypeScript source on Bun. */
  private command(entry: { pkg: string; main: string }): { cmd: string; args: string[] } {
    if (this.runtime === 'bun') {
      return {
        cmd: bunExecutable(),
        args: ['--conditions=weft-source', join(REPO_ROOT, entry.pkg, 'src', `${entry.main}.ts`)],
      };
    }
    const file = join(REPO_ROOT, entry.pkg, 'dist', `${entry.main}.js`);
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` first`);
    return { cmd: process.execPath, args: [file] };
  }

  private spawn(
    name: string,
    entry: { pkg: string; main: string },
    args: string[],
    ready?: string,
  ): ManagedProcess {
    if (ready !== undefined) this.recipes.set(name, { entry, args, ready });
    const { cmd, args: base } = this.command(entry);
    const proc = startProcess(name, cmd, [...base, ...args], join(this.logsDir, `${name}.log`));
    this.procs.set(name, proc);
    return proc;
  }

  async start(): Promise<void> {
    rmSync(this.workDir, { recursive: true, force: true });
    for (const dir of [this.configDir, this.logsDir, join(this.workDir, 'ca')])
      mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(this.manifestsDir).filter((f) => /\.ya?ml$/.test(f))) {
      copyFileSync(join(this.manifestsDir, file), join(this.configDir, file));
    }
    this.pods = readPods(this.configDir);

    // One token per node: ztunnels authenticate to the CA as weft-system/ztunnel bound to their node.
    // One per waypoint pod: its service account (weftd admits it as that Gateway's waypoint, and
    // its CA issues it that identity). One per sidecar pod: its service account, with no node
    // (weftd admits sidecar~<ns>/<pod> only with the token of the account that pod runs as).
    const tokens = new Map(this.nodes.map((n) => [n.name, randomBytes(16).toString('hex')]));
    const waypointTokens = new Map(this.waypointPods().map((p) => [p.name, randomBytes(16).toString('hex')]));
    const sidecarTokens = new Map(
      [...this.sidecarPods(), ...this.proxylessPods()].map((p) => [p.name, randomBytes(16).toString('hex')]),
    );
    const tokenFile = join(this.workDir, 'tokens.txt');
    writeFileSync(
      tokenFile,
      [
        '# token namespace service-account node',
        ...[...tokens].map(([node, t]) => `${t} weft-system ztunnel ${node}`),
        ...this.waypointPods().map((p) => `${waypointTokens.get(p.name)} ${p.namespace} ${p.serviceAccount}`),
        ...[...this.sidecarPods(), ...this.proxylessPods()].map(
          (p) => `${sidecarTokens.get(p.name)} ${p.namespace} ${p.serviceAccount}`,
        ),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );

    const weftd = this.spawn(
      'weftd',
      { pkg: 'apps/control-plane', main: 'main' },
      [
        '--config-dir',
        this.configDir,
        '--xds-address',
        this.xdsAddress,
        '--admin-address',
        this.adminAddress,
        // Local mode streams plaintext xDS; the TLS port and the injection webhook stay off so
        // two meshes (the demo and a test) never meet on weftd's default 15012 / 15017.
        '--xds-tls-address',
        'off',
        '--injection-address',
        'off',
        '--token-file',
        tokenFile,
        '--ca-dir',
        join(this.workDir, 'ca'),
      ],
      `http://${this.adminAddress}/healthz/ready`,
    );
    await waitReady(weftd, `http://${this.adminAddress}/healthz/ready`);

    const ztunnels: Promise<void>[] = [];
    for (const node of this.nodes) {
      const tokenPath = join(this.workDir, `${node.name}.token`);
      writeFileSync(tokenPath, `${tokens.get(node.name)}\n`, { mode: 0o600 });
      const z = this.spawn(
        `ztunnel-${node.name}`,
        { pkg: 'packages/ztunnel', main: 'main' },
        [
          '--node',
          node.name,
          '--node-ip',
          node.ip,
          '--xds-address',
          this.xdsAddress,
          '--token-file',
          tokenPath,
          ...this.ztunnelArgs(node),
        ],
        `http://${node.ip}:15021/healthz/ready`,
      );
      ztunnels.push(waitReady(z, `http://${node.ip}:15021/healthz/ready`));
    }
    await Promise.all(ztunnels);

    // Waypoints: one process per waypoint pod, on the pod's address.
    const waypoints: Promise<void>[] = [];
    for (const pod of this.waypointPods()) {
      const tokenPath = join(this.workDir, `${pod.name}.token`);
      writeFileSync(tokenPath, `${waypointTokens.get(pod.name)}\n`, { mode: 0o600 });
      const ready = `http://${pod.ip}:15021/healthz/ready`;
      const w = this.spawn(
        pod.name,
        WAYPOINT_ENTRY,
        [
          '--name',
          `${pod.namespace}/${pod.labels[GATEWAY_NAME_LABEL]}`,
          '--xds-address',
          this.xdsAddress,
          '--token-file',
          tokenPath,
          // Local mode: the waypoint's listeners on its pod address, as in its own netns.
          '--hbone',
          `${pod.ip}:15008`,
          '--admin',
          `${pod.ip}:15000`,
          '--metrics',
          `${pod.ip}:15020`,
          '--readiness',
          `${pod.ip}:15021`,
          '--access-log',
          'kv',
        ],
        ready,
      );
      waypoints.push(waitReady(w, ready));
    }
    await Promise.all(waypoints);

    // Sidecars: one proxy process per sidecar pod, on the pod's address, before its app starts.
    const sidecars: Promise<void>[] = [];
    for (const pod of this.sidecarPods()) {
      const tokenPath = join(this.workDir, `${pod.name}.token`);
      writeFileSync(tokenPath, `${sidecarTokens.get(pod.name)}\n`, { mode: 0o600 });
      const ready = `http://${pod.ip}:15021/healthz/ready`;
      const proc = this.spawn(
        sidecarProcessName(pod.name),
        SIDECAR_ENTRY,
        [
          '--pod',
          `${pod.namespace}/${pod.name}`,
          '--pod-ip',
          pod.ip,
          '--service-account',
          pod.serviceAccount,
          '--xds-address',
          this.xdsAddress,
          '--token-file',
          tokenPath,
          '--access-log',
          'kv',
        ],
        ready,
      );
      sidecars.push(waitReady(proc, ready));
    }
    await Promise.all(sidecars);

    // Proxyless gRPC servers: the example gRPC echo on the SDK, with its pod's token; xDS and
    // certificates from weftd, no proxy.
    for (const pod of this.proxylessPods()) {
      const tokenPath = join(this.workDir, `${pod.name}.token`);
      writeFileSync(tokenPath, `${sidecarTokens.get(pod.name)}\n`, { mode: 0o600 });
    }
    await Promise.all(
      (this.startWorkloads ? this.proxylessPods() : [])
        .filter((p) => (p.ports[0] ?? 0) !== 0)
        .map((pod) => {
          const proc = this.spawn(pod.name, { pkg: 'apps/examples', main: 'grpc-echo-server-main' }, [
            ...this.proxylessFlags(pod),
            '--listen',
            String(pod.ports[0]),
            '--version',
            pod.labels.version ?? 'v1',
          ]);
          return waitForLine(proc, 'serving on', 30_000);
        }),
    );

    // The example workloads: every other pod with a container port is an echo server.
    const servers: Promise<void>[] = [];
    for (const pod of this.startWorkloads ? this.pods : []) {
      const port = pod.ports[0];
      if (port === undefined || port === 0 || pod.labels[GATEWAY_NAME_LABEL] !== undefined) continue;
      if (pod.mode === 'proxyless') continue;
      if (pod.annotations[EXAMPLE_APP_ANNOTATION] === 'grpc-echo-plain') {
        const app = this.spawn(pod.name, { pkg: 'apps/examples', main: 'grpc-echo-plain-main' }, [
          '--listen',
          `${pod.ip}:${port}`,
          '--pod',
          pod.name,
          '--version',
          pod.labels.version ?? 'v1',
        ]);
        servers.push(waitForLine(app, 'serving on', 30_000));
        continue;
      }
      const failEvery = pod.annotations[FAIL_EVERY_ANNOTATION];
      const echo = this.spawn(pod.name, { pkg: 'apps/examples', main: 'echo-main' }, [
        '--listen',
        `${pod.ip}:${port}`,
        '--service',
        pod.labels.app ?? pod.name,
        '--version',
        pod.labels.version ?? 'v1',
        '--pod',
        pod.name,
        ...(failEvery !== undefined ? ['--fail-every', failEvery] : []),
      ]);
      servers.push(waitReady(echo, `http://${pod.ip}:${port}/healthz`));
    }
    await Promise.all(servers);
    writeFileSync(this.endpointsFile, `${JSON.stringify(this.endpoints(), null, 2)}\n`);
  }

  endpoints(): LocalEndpoints {
    return {
      weftd: { xds: this.xdsAddress, admin: `http://${this.adminAddress}` },
      nodes: this.nodes.map((n) => ({
        name: n.name,
        ip: n.ip,
        socks5: `${n.ip}:15080`,
        admin: `http://${n.ip}:15000`,
        metrics: `http://${n.ip}:15020/metrics`,
        readiness: `http://${n.ip}:15021/healthz/ready`,
      })),
      pods: this.pods,
      waypoints: this.waypointPods().map((p) => ({
        pod: p.name,
        gateway: `${p.namespace}/${p.labels[GATEWAY_NAME_LABEL]}`,
        hbone: `${p.ip}:15008`,
        admin: `http://${p.ip}:15000`,
        metrics: `http://${p.ip}:15020/metrics`,
      })),
      sidecars: this.sidecarPods().map((p) => ({
        pod: p.name,
        hbone: `${p.ip}:15008`,
        socks5: `${p.ip}:15080`,
        admin: `http://${p.ip}:15000`,
        metrics: `http://${p.ip}:15020/metrics`,
      })),
      configDir: this.configDir,
      logsDir: this.logsDir,
    };
  }

  async stop(): Promise<void> {
    const all = [...this.procs.values()].reverse();
    this.procs.clear();
    await Promise.all(all.map((p) => p.stop()));
  }

  private componentName(name: string): string {
    // A sidecar pod's name stands for its proxy (its app is not a mesh component).
    if (this.sidecarPods().some((p) => p.name === name)) return sidecarProcessName(name);
    return name === 'weftd' || this.procs.has(name) || this.recipes.has(name) ? name : `ztunnel-${name}`;
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
    const proc = this.spawn(key, recipe.entry, recipe.args, recipe.ready);
    // Polled often: restart scenarios compare request times with the moment it is ready again.
    await waitReady(proc, recipe.ready, 30_000, 20);
  }

  async openConnection(fromPod: string, url: string): Promise<MeshConnection> {
    const target = new URL(url);
    const socket = await dial(this.outboundOf(this.pod(fromPod)), target.hostname, Number(target.port || 80));
    return keptAlive(socket, target.host);
  }

  async apply(name: string, yaml: string): Promise<void> {
    writeFileSync(join(this.configDir, name), yaml);
  }

  async remove(name: string): Promise<void> {
    rmSync(join(this.configDir, name), { force: true });
  }

  /** Pods that run their own proxy (dataplane-mode sidecar). */
  sidecarPods(): LocalPod[] {
    return this.pods.filter((p) => p.mode === 'sidecar' && (p.labels[GATEWAY_NAME_LABEL] ?? '') === '');
  }

  /**
   * How a pod's app reaches the mesh: an ambient pod through its node's SOCKS5 port, a sidecar pod
   * through its own sidecar's, both sending from the pod IP; a pod out of the mesh dials directly.
   */
  private outboundOf(pod: LocalPod): { socks?: { host: string; port: number }; source: string } {
    switch (pod.mode) {
      case 'ambient':
        return { socks: { host: this.node(pod.node).ip, port: 15080 }, source: pod.ip };
      case 'sidecar':
        return { socks: { host: pod.ip, port: 15080 }, source: pod.ip };
      case 'proxyless':
      case 'none':
        return { source: pod.ip };
    }
  }

  /** Pods whose app is a proxyless gRPC app (dataplane-mode proxyless). */
  proxylessPods(): LocalPod[] {
    return this.pods.filter((p) => p.mode === 'proxyless');
  }

  /** The SDK's flags for a proxyless pod's app. */
  private proxylessFlags(pod: LocalPod): string[] {
    return [
      '--pod',
      `${pod.namespace}/${pod.name}`,
      '--service-account',
      pod.serviceAccount,
      '--xds-address',
      this.xdsAddress,
      '--token-file',
      join(this.workDir, `${pod.name}.token`),
    ];
  }

  async grpcPlainCall(
    fromPod: string,
    target: string,
    method: 'Echo' | 'Admin' = 'Echo',
  ): Promise<GrpcWireResult> {
    const cut = target.lastIndexOf(':');
    const pod = this.pod(fromPod);
    try {
      const socket = await dial(this.outboundOf(pod), target.slice(0, cut), Number(target.slice(cut + 1)));
      return await echoOverSocket(socket, target, method);
    } catch (err) {
      return { ok: false, status: undefined, error: (err as Error).message };
    }
  }

  async grpcCalls(fromPod: string, target: string, opts: GrpcCallOptions = {}): Promise<GrpcTally> {
    const pod = this.pod(fromPod);
    if (pod.mode !== 'proxyless') throw new Error(`${fromPod} is not a proxyless pod`);
    const { cmd, args } = this.command({ pkg: 'apps/examples', main: 'grpc-echo-client-main' });
    return await runGrpcClient(cmd, [
      ...args,
      ...this.proxylessFlags(pod),
      '--target',
      target,
      '--calls',
      String(opts.calls ?? 10),
      '--method',
      opts.method ?? 'Echo',
    ]);
  }

  /** Pods that run a waypoint (labelled with their Gateway's name). */
  waypointPods(): LocalPod[] {
    return this.pods.filter((p) => (p.labels[GATEWAY_NAME_LABEL] ?? '') !== '');
  }

  podIp(name: string): string {
    return this.pod(name).ip;
  }

  nodeOf(name: string): string {
    return this.pod(name).node;
  }

  private pod(name: string): LocalPod {
    const pod = this.pods.find((p) => p.name === name);
    if (pod === undefined) throw new Error(`no pod named ${name} in the local manifests`);
    return pod;
  }

  private node(name: string): LocalNode {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no local node named ${name}`);
    return node;
  }

  async request(fromPod: string, url: string, opts: RequestOptions = {}): Promise<CallResult> {
    try {
      const response = await meshRequest({ url, ...this.outboundOf(this.pod(fromPod)), ...opts });
      return { ok: true, response };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async plaintextRequest(toPod: string, port: number, path: string): Promise<CallResult> {
    // Local mode has no interception: the workload's plaintext inbound listener (podIP:15006, its
    // node's ztunnel or its sidecar) stands for the captured port, and forwards to the workload's
    // first container port. A pod out of the mesh is reached on its own port.
    const pod = this.pod(toPod);
    const url =
      pod.mode === 'none' || pod.mode === 'proxyless'
        ? `http://${pod.ip}:${port}${path}`
        : `http://${pod.ip}:15006${path}`;
    try {
      const response = await meshRequest({ url, timeoutMs: 3000 });
      return { ok: true, response };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async metrics(component: string): Promise<string> {
    const proxyPod = [...this.waypointPods(), ...this.sidecarPods()].find((p) => p.name === component);
    const url =
      component === 'weftd'
        ? `http://${this.adminAddress}/metrics`
        : proxyPod !== undefined
          ? `http://${proxyPod.ip}:15020/metrics`
          : `http://${this.node(component).ip}:15020/metrics`;
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return await res.text();
  }

  async accessLog(node: string): Promise<string[]> {
    const proc = this.procs.get(
      this.waypointPods().some((p) => p.name === node)
        ? node
        : this.sidecarPods().some((p) => p.name === node)
          ? sidecarProcessName(node)
          : `ztunnel-${node}`,
    );
    return (proc?.lines() ?? []).filter(
      (l) => l.includes('src.identity=') || l.includes('src_identity') || l.includes('spiffe://'),
    );
  }
}
