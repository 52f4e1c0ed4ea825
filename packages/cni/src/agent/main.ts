#!/usr/bin/env node
// weft-cni-agent: the node agent binary. Parses flags and calls createNodeAgent; nothing else.
import { parseArgs } from 'node:util';
import { isIp } from '@weft/policy';
import { createLogger, parseLogLevel, streamSink } from '@weft/telemetry';
import { DEFAULT_AGENT_SOCKET } from '../api/messages.ts';
import { nsenterApplier } from '../apply/applier.ts';
import { DEFAULT_ZTUNNEL_SOCKET } from '../protocol/messages.ts';
import type { Family } from '../rules/index.ts';
import { createNodeAgent } from './agent.ts';

const USAGE = `usage: weft-cni-agent --node <name> --manifests <dir> [options]
  --node <name>              this node's name (logs and metrics)
  --manifests <dir>          the folder of YAML the control plane watches; pods' data-plane mode
                             (weft.dev/dataplane-mode on the pod or its namespace) is read from it
  --cni-socket <path>        where the CNI plugin asks (default ${DEFAULT_AGENT_SOCKET})
  --ztunnel-socket <path>    where ztunnel connects (default ${DEFAULT_ZTUNNEL_SOCKET})
  --state-dir <dir>          pod records survive restarts here (default /var/lib/weft/cni)
  --metrics-address <h:p>    serve /metrics (default none)
  --probe-source <ip>        a node address whose traffic to pods is not captured, besides each
                             pod's gateway (repeatable)
  --ipv4-only                do not install IPv6 rules
  --rescan-interval-ms <n>   full rescan of the manifests folder (default 1000)
  --log-level <debug|info|warn|error|silent>
`;

function fail(msg: string): never {
  process.stderr.write(`weft-cni-agent: ${msg}\n${USAGE}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      node: { type: 'string' },
      manifests: { type: 'string' },
      'cni-socket': { type: 'string' },
      'ztunnel-socket': { type: 'string' },
      'state-dir': { type: 'string' },
      'metrics-address': { type: 'string' },
      'probe-source': { type: 'string', multiple: true },
      'ipv4-only': { type: 'boolean' },
      'rescan-interval-ms': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  parsed = parse();
} catch (err) {
  fail((err as Error).message);
}
const v = parsed.values;
if (v.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!v.node) fail('--node is required');
if (!v.manifests) fail('--manifests is required');
const level = parseLogLevel(v['log-level'] ?? 'info');
if (level === undefined) fail(`--log-level ${v['log-level']} is not a level`);
let metricsAddress: { host: string; port: number } | undefined;
if (v['metrics-address'] !== undefined) {
  const text = v['metrics-address'];
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(at + 1));
  if (
    at <= 0 ||
    !(host === 'localhost' || isIp(host)) ||
    !Number.isInteger(port) ||
    port < 0 ||
    port > 65535
  ) {
    fail(`--metrics-address ${text} is not host:port`);
  }
  metricsAddress = { host, port };
}
for (const ip of v['probe-source'] ?? []) if (!isIp(ip)) fail(`--probe-source ${ip} is not an IP address`);
const rescan = Number(v['rescan-interval-ms'] ?? 1000);
if (!Number.isInteger(rescan) || rescan < 50) fail('--rescan-interval-ms must be an integer >= 50');

const logger = createLogger({ sink: streamSink(process.stderr), level });
const families: Family[] = v['ipv4-only'] ? [4] : [4, 6];
try {
  const agent = await createNodeAgent(
    {
      node: v.node,
      manifestsDir: v.manifests,
      cniSocket: v['cni-socket'] ?? DEFAULT_AGENT_SOCKET,
      ztunnelSocket: v['ztunnel-socket'] ?? DEFAULT_ZTUNNEL_SOCKET,
      stateDir: v['state-dir'] ?? '/var/lib/weft/cni',
      ...(metricsAddress ? { metricsAddress } : {}),
      probeSources: v['probe-source'] ?? [],
      families,
      rescanIntervalMs: rescan,
    },
    { applier: nsenterApplier(), logger },
  );
  const stop = () => {
    agent.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (err) {
  logger.error('node agent failed to start', { error: (err as Error).message });
  process.exit(1);
}
