#!/usr/bin/env node
// The ztunnel binary: parses flags and calls createZtunnel. Nothing else lives here.
import { parseArgs } from 'node:util';
import { parseConcurrency, runWorkers, workerIdentity } from '@weft/proxy-core/process';
import { createLogger, parseLogLevel, streamSink } from '@weft/telemetry';
import { parseForward } from './outbound/forward-flag.ts';
import type { ForwardConfig } from './ztunnel.ts';

const USAGE = `usage: ztunnel --node <name> --node-ip <ip> [options]
  --node <name>            Kubernetes node name (which workloads are local)
  --node-ip <ip>           the node's address for SOCKS5/admin/metrics/readiness listeners
                           (loopback unless --allow-non-loopback or --node-agent-socket)
  --allow-non-loopback     let the node-level listeners bind a non-loopback --node-ip
  --node-agent-socket <path>
                           in-pod mode: enroll pods from the node agent on this unix socket and
                           open their 15001/15006/15008 listeners inside each pod netns
                           (needs root and @weft/linux-net)
  --inpod-mark <n>         SO_MARK of ztunnel's sockets in pod netns (default 1337 = 0x539)
  --xds-address <h:p>      weftd ADS address (also the CA unless --ca-address)
  --ca-address <h:p>       CA address
  --token-file <path>      bearer token for the CA and xDS
  --config-file <path>     static YAML/JSON manifests instead of xDS (debugging)
  --trust-domain <td>      default cluster.local
  --lb <round-robin|random>
  --log-level <debug|info|warn|error|silent>
  --access-log <kv|json>   access-log format on stdout (default kv)
  --concurrency <n>        worker processes sharing the listeners (default: the cores
                           available; 1 in in-pod mode, whose pod netns listeners are
                           per process)
  --forward <port>=<source ip>><host:port>
                           local mode: a fixed listener on the node address forwarding into the
                           mesh as workload <source ip> calling <host:port> (repeatable), e.g.
                           --forward 18080=127.0.10.2>echo.demo.svc.cluster.local:8080
`;

function workerField(): { worker?: number } {
  const w = workerIdentity();
  return w === undefined ? {} : { worker: w.id };
}

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    'node-ip': { type: 'string' },
    'xds-address': { type: 'string' },
    'ca-address': { type: 'string' },
    'token-file': { type: 'string' },
    'config-file': { type: 'string' },
    'trust-domain': { type: 'string' },
    lb: { type: 'string' },
    'log-level': { type: 'string' },
    'access-log': { type: 'string' },
    forward: { type: 'string', multiple: true },
    'allow-non-loopback': { type: 'boolean' },
    'node-agent-socket': { type: 'string' },
    'inpod-mark': { type: 'string' },
    concurrency: { type: 'string' },
    help: { type: 'boolean' },
  },
  strict: true,
});

if (values.help || values.node === undefined || values['node-ip'] === undefined) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
const logger = createLogger({
  sink: streamSink(process.stderr),
  level: parseLogLevel(values['log-level']) ?? 'info',
  fields: { component: 'ztunnel', node: values.node, ...workerField() },
});
const forwards: ForwardConfig[] = [];
for (const spec of values.forward ?? []) {
  const parsed = parseForward(spec);
  if (!parsed.ok) {
    process.stderr.write(`ztunnel: --forward ${JSON.stringify(spec)}: ${parsed.error}\n`);
    process.exit(2);
  }
  forwards.push(parsed.value);
}
let mark: number | undefined;
if (values['inpod-mark'] !== undefined) {
  const text = values['inpod-mark'];
  mark = /^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) {
    process.stderr.write(`ztunnel: --inpod-mark ${JSON.stringify(text)}: not a packet mark (1..2^32-1)\n`);
    process.exit(2);
  }
}
if (mark !== undefined && values['node-agent-socket'] === undefined) {
  process.stderr.write('ztunnel: --inpod-mark needs --node-agent-socket\n');
  process.exit(2);
}
const lb = values.lb === 'random' ? 'random' : 'round-robin';
const nodeName: string = values.node;
const nodeIp: string = values['node-ip'];
const inPod = values['node-agent-socket'] !== undefined;
const concurrency = parseConcurrency(values.concurrency, inPod ? 1 : undefined);
if (!concurrency.ok) {
  process.stderr.write(`ztunnel: ${concurrency.error}\n`);
  process.exit(2);
}
if (inPod && concurrency.value > 1) {
  // Each pod's 15001/15006/15008 are opened inside its netns by this process (linux-net), not
  // through a port the workers could share.
  process.stderr.write('ztunnel: --concurrency above 1 is not supported with --node-agent-socket\n');
  process.exit(2);
}

const serve = async (): Promise<void> => {
  // The proxy is loaded here, in the process that serves, not in a supervisor of workers.
  const { createZtunnel } = await import('./ztunnel.ts');
  const { defaultXdsTypes } = await import('@weft/proxy-core');
  const ztunnel = await createZtunnel(
    {
      nodeName,
      nodeIp,
      loadBalancing: lb,
      ...(values['xds-address'] !== undefined ? { xdsAddress: values['xds-address'] } : {}),
      ...(values['ca-address'] !== undefined ? { caAddress: values['ca-address'] } : {}),
      ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
      ...(values['config-file'] !== undefined ? { configFile: values['config-file'] } : {}),
      ...(values['trust-domain'] !== undefined ? { trustDomain: values['trust-domain'] } : {}),
      accessLogFormat: values['access-log'] === 'json' ? 'json' : 'kv',
      forwards,
      ...(values['allow-non-loopback'] === true ? { allowNonLoopback: true } : {}),
      ...(values['node-agent-socket'] !== undefined
        ? {
            inPod: {
              nodeAgentSocket: values['node-agent-socket'],
              ...(mark !== undefined ? { mark } : {}),
            },
          }
        : {}),
    },
    {
      logger,
      accessLog: streamSink(process.stdout),
      xdsTypes: defaultXdsTypes(),
    },
  ).catch((err: unknown) => {
    // A config the process cannot start with (in-pod mode without @weft/linux-net, a bad address):
    // one clear line, no stack.
    process.stderr.write(`ztunnel: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  logger.info('ztunnel started', {
    admin: `${ztunnel.addresses.admin.ip}:${ztunnel.addresses.admin.port}`,
    socks5: `${ztunnel.addresses.socks5.ip}:${ztunnel.addresses.socks5.port}`,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    ztunnel.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
};

await runWorkers({ component: 'ztunnel', concurrency: concurrency.value, logger, serve });
