#!/usr/bin/env node
// The waypoint binary: parses flags and calls createWaypoint. Nothing else lives here.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type ListenAddress,
  parseConcurrency,
  parseListenAddress,
  runWorkers,
  workerIdentity,
} from '@weft/proxy-core/process';
import { createAccessLogger, createLogger, parseLogLevel, streamSink } from '@weft/telemetry';

const USAGE = `usage: waypoint --name <namespace/name> (--xds-address <h:p> | --config-file <path>) [options]
  --name <ns/name>          the waypoint Gateway this proxy serves
  --xds-address <h:p>       weftd ADS address (also the CA unless --ca-address)
  --ca-address <h:p>        CA address
  --token-file <path>       bearer token for the CA and xDS
  --config-file <path>      static YAML/JSON manifests instead of xDS (debugging)
  --hbone <h:p>             HBONE inbound, default 0.0.0.0:15008
  --proxyless <h:p>         proxyless gRPC inbound (mesh mTLS + HTTP/2), default <--hbone host>:15009
  --admin <h:p>             admin (config dump), default 127.0.0.1:15000
  --metrics <h:p>           Prometheus metrics, default 0.0.0.0:15020
  --readiness <h:p>         readiness, default 0.0.0.0:15021
  --upstream-hbone-port <n> HBONE port of endpoints (their ztunnel or sidecar), default 15008
  --concurrency <n>         worker processes sharing the listeners (default: the cores available)
  --log-level <debug|info|warn|error|silent>
  --access-log <off|kv|json>  access log on stdout, default off
`;

function workerField(): { worker?: number } {
  const w = workerIdentity();
  return w === undefined ? {} : { worker: w.id };
}

function address(flag: string, v: string | undefined): ListenAddress | undefined {
  if (v === undefined) return undefined;
  const r = parseListenAddress(v);
  if (!r.ok) {
    process.stderr.write(`waypoint: --${flag} ${r.error}\n`);
    process.exit(2);
  }
  return r.value;
}

function portFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const port = Number(v);
  if (!/^[0-9]+$/.test(v) || port < 1 || port > 65535) {
    process.stderr.write(`waypoint: --${flag} ${JSON.stringify(v)} is not a port\n`);
    process.exit(2);
  }
  return port;
}

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    'xds-address': { type: 'string' },
    'ca-address': { type: 'string' },
    'token-file': { type: 'string' },
    'config-file': { type: 'string' },
    hbone: { type: 'string' },
    proxyless: { type: 'string' },
    admin: { type: 'string' },
    metrics: { type: 'string' },
    readiness: { type: 'string' },
    'upstream-hbone-port': { type: 'string' },
    'log-level': { type: 'string' },
    'access-log': { type: 'string' },
    concurrency: { type: 'string' },
    help: { type: 'boolean' },
  },
  strict: true,
});

const name = values.name;
if (values.help || name === undefined || !/^[^/]+\/[^/]+$/.test(name)) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
const caAddress = values['ca-address'] ?? values['xds-address'];
if (caAddress === undefined) {
  process.stderr.write('waypoint: a certificate is needed: give --ca-address or --xds-address\n');
  process.exit(2);
}
const tokenFile = values['token-file'];
const token = tokenFile === undefined ? undefined : () => readFileSync(tokenFile, 'utf8').trim();
const logger = createLogger({
  sink: streamSink(process.stderr),
  level: parseLogLevel(values['log-level']) ?? 'info',
  fields: { component: 'waypoint', ...workerField() },
});
const accessFormat = values['access-log'] ?? 'off';
const hbone = address('hbone', values.hbone);
const proxyless = address('proxyless', values.proxyless);
const admin = address('admin', values.admin);
const metrics = address('metrics', values.metrics);
const readiness = address('readiness', values.readiness);
const upstreamHbonePort = portFlag('upstream-hbone-port', values['upstream-hbone-port']);

const concurrency = parseConcurrency(values.concurrency);
if (!concurrency.ok) {
  process.stderr.write(`waypoint: ${concurrency.error}\n`);
  process.exit(2);
}

const serve = async (): Promise<void> => {
  // The proxy is loaded here, in the process that serves, not in a supervisor of workers.
  const { createWaypoint } = await import('./server/waypoint.ts');
  const waypoint = await createWaypoint(
    {
      name,
      ...(hbone !== undefined ? { hbone } : {}),
      ...(proxyless !== undefined ? { proxyless } : {}),
      ...(admin !== undefined ? { admin } : {}),
      ...(metrics !== undefined ? { metrics } : {}),
      ...(readiness !== undefined ? { readiness } : {}),
      ...(upstreamHbonePort !== undefined ? { upstreamHbonePort } : {}),
      ca: { address: caAddress, ...(token !== undefined ? { token } : {}) },
      ...(values['xds-address'] !== undefined
        ? { xds: { address: values['xds-address'], ...(token !== undefined ? { token } : {}) } }
        : {}),
      ...(values['config-file'] !== undefined ? { configFile: values['config-file'] } : {}),
    },
    {
      logger,
      ...(accessFormat === 'kv' || accessFormat === 'json'
        ? { accessLog: createAccessLogger({ sink: streamSink(process.stdout), format: accessFormat }) }
        : {}),
    },
  );
  const stop = () => {
    waypoint.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
};

await runWorkers({ component: 'waypoint', concurrency: concurrency.value, logger, serve });
