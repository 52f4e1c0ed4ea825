#!/usr/bin/env node
// The sidecar binary: parses flags and calls createSidecar. Nothing else lives here.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { normalizeIp, parseWorkloadId } from '@weft/policy/runtime';
import type { OutboundTarget } from '@weft/proxy-core';
import {
  availableCores,
  type ListenAddress,
  parseConcurrency,
  parseListenAddress,
  runWorkers,
  workerIdentity,
} from '@weft/proxy-core/process';
import { createAccessLogger, createLogger, parseLogLevel, streamSink } from '@weft/telemetry';

const USAGE = `usage: sidecar --pod <namespace/name> --pod-ip <ip> --service-account <sa> (--xds-address <h:p> | --config-file <path>) [options]
  --pod <ns/name>           the pod this proxy serves (ADS node id sidecar~<ns>/<name>)
  --pod-ip <ip>             the pod's address; listeners bind it unless told otherwise
  --service-account <sa>    the pod's service account (its identity, certificate)
  --trust-domain <td>       default cluster.local
  --xds-address <h:p>       weftd ADS address (also the CA unless --ca-address)
  --ca-address <h:p>        CA address
  --token-file <path>       the pod's service-account token, for the CA and xDS
  --config-file <path>      static YAML/JSON manifests instead of xDS (debugging)
  --hbone <h:p>             HBONE inbound, default <pod ip>:15008
  --inbound <h:p>           plaintext inbound (PERMISSIVE only), default <pod ip>:15006
  --outbound <h:p>          outbound listener, default <pod ip>:15001
  --outbound-target <h:p>   where the outbound listener sends (local mode: no original destination)
  --capture                 capture mode: run inside the pod netns as uid 1337 behind REDIRECT rules;
                            outbound 15001 and inbound 15006 listen on 0.0.0.0 and :: and read
                            SO_ORIGINAL_DST (needs @weft/linux-net)
  --socks5 <h:p>            SOCKS5 outbound, default <pod ip>:15080
  --admin <h:p>             admin, default <pod ip>:15000
  --metrics <h:p>           Prometheus metrics, default <pod ip>:15020
  --readiness <h:p>         readiness, default <pod ip>:15021
  --upstream-hbone-port <n> HBONE port of peers, default 15008
  --concurrency <n>         worker processes sharing the listeners (default: 2, or 1 on a
                            one-core machine: one per pod, so a node's cores are not multiplied)
  --log-level <debug|info|warn|error|silent>
  --access-log <off|kv|json>  access log on stdout, default off
`;

function fail(message: string): never {
  process.stderr.write(`sidecar: ${message}\n`);
  process.exit(2);
}

function hostPort(flag: string, v: string): { host: string; port: number } {
  const r = parseListenAddress(v);
  if (!r.ok) fail(`--${flag} ${r.error}`);
  return r.value;
}

function address(flag: string, v: string | undefined): ListenAddress | undefined {
  return v === undefined ? undefined : hostPort(flag, v);
}

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string' },
    pod: { type: 'string' },
    'pod-ip': { type: 'string' },
    'service-account': { type: 'string' },
    'trust-domain': { type: 'string' },
    'xds-address': { type: 'string' },
    'ca-address': { type: 'string' },
    'token-file': { type: 'string' },
    'config-file': { type: 'string' },
    hbone: { type: 'string' },
    inbound: { type: 'string' },
    outbound: { type: 'string' },
    'outbound-target': { type: 'string' },
    socks5: { type: 'string' },
    admin: { type: 'string' },
    metrics: { type: 'string' },
    readiness: { type: 'string' },
    'upstream-hbone-port': { type: 'string' },
    'log-level': { type: 'string' },
    'access-log': { type: 'string' },
    capture: { type: 'boolean' },
    help: { type: 'boolean' },
  },
  strict: true,
});

const pod = values.pod;
const podIp = values['pod-ip'];
const sa = values['service-account'];
if (values.help || pod === undefined || podIp === undefined || sa === undefined) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
const [namespace = ''] = pod.split('/');
if (!/^[^/]+\/[^/]+$/.test(pod)) fail(`--pod ${JSON.stringify(pod)} is not namespace/name`);
if (normalizeIp(podIp) === undefined) fail(`--pod-ip ${JSON.stringify(podIp)} is not an IP address`);
const identity = `spiffe://${values['trust-domain'] ?? 'cluster.local'}/ns/${namespace}/sa/${sa}`;
const parsed = parseWorkloadId(identity);
if (!parsed.ok) fail(`identity ${identity}: ${parsed.message}`);
const caAddress = values['ca-address'] ?? values['xds-address'];
if (caAddress === undefined) fail('a certificate is needed: give --ca-address or --xds-address');
const tokenFile = values['token-file'];
const token = tokenFile === undefined ? undefined : () => readFileSync(tokenFile, 'utf8').trim();
let outboundTarget: OutboundTarget | undefined;
if (values['outbound-target'] !== undefined) {
  const t = hostPort('outbound-target', values['outbound-target']);
  const ip = normalizeIp(t.host);
  outboundTarget =
    ip !== undefined
      ? { kind: 'address', ip, port: t.port }
      : { kind: 'hostname', hostname: t.host, port: t.port };
}
const port = values['upstream-hbone-port'];
const upstreamHbonePort = port === undefined ? undefined : Number(port);
if (
  upstreamHbonePort !== undefined &&
  (!/^[0-9]+$/.test(port ?? '') || upstreamHbonePort < 1 || upstreamHbonePort > 65535)
)
  fail(`--upstream-hbone-port ${JSON.stringify(port)} is not a port`);
const logger = createLogger({
  sink: streamSink(process.stderr),
  level: parseLogLevel(values['log-level']) ?? 'info',
  fields: {
    component: 'sidecar',
    ...(workerIdentity() !== undefined ? { worker: workerIdentity()?.id } : {}),
  },
});
const accessFormat = values['access-log'] ?? 'off';
const listeners = {
  hbone: address('hbone', values.hbone),
  inbound: address('inbound', values.inbound),
  outbound: address('outbound', values.outbound),
  socks5: address('socks5', values.socks5),
  admin: address('admin', values.admin),
  metrics: address('metrics', values.metrics),
  readiness: address('readiness', values.readiness),
};
const concurrency = parseConcurrency(values.concurrency, Math.min(2, availableCores()));
if (!concurrency.ok) fail(concurrency.error);

const serve = async (): Promise<void> => {
  // The proxy is loaded here, in the process that serves, not in a supervisor of workers.
  const { createSidecar } = await import('./sidecar.ts');
  const sidecar = await createSidecar(
    {
      pod,
      podIp,
      identity,
      ...Object.fromEntries(Object.entries(listeners).filter(([, v]) => v !== undefined)),
      ...(outboundTarget !== undefined ? { outboundTarget } : {}),
      ...(upstreamHbonePort !== undefined ? { upstreamHbonePort } : {}),
      ca: { address: caAddress, ...(token !== undefined ? { token } : {}) },
      ...(values['xds-address'] !== undefined
        ? { xds: { address: values['xds-address'], ...(token !== undefined ? { token } : {}) } }
        : {}),
      ...(values['config-file'] !== undefined ? { configFile: values['config-file'] } : {}),
      ...(values.capture === true ? { capture: true } : {}),
    },
    {
      logger,
      ...(accessFormat === 'kv' || accessFormat === 'json'
        ? { accessLog: createAccessLogger({ sink: streamSink(process.stdout), format: accessFormat }) }
        : {}),
    },
  ).catch((err: unknown) => {
    // A start the process cannot make (capture mode without @weft/linux-net, a taken port): one
    // clear line, no stack.
    process.stderr.write(`sidecar: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  const stop = () => {
    sidecar.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
};

await runWorkers({ component: 'sidecar', concurrency: concurrency.value, logger, serve });
