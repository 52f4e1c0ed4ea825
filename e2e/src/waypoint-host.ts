#!/usr/bin/env node
// Runs one waypoint for the local driver, from @weft/waypoint's public createWaypoint, until
// @weft/waypoint ships its own main with xDS: config from weftd's delta ADS (the scoped view of
// `waypoint~<namespace>/<gateway>`), its own certificate from weftd's CA (the token is the
// waypoint's service account), listeners on the waypoint pod's loopback address.
//
//   waypoint-host --name demo/waypoint --ip 127.0.10.5 --xds-address 127.0.0.1:15010 --token-file t
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { createCaClient, createCertManager } from '@weft/ca/client';
import { createCertStore } from '@weft/hbone';
import type {
  AuthzPolicy,
  BackendPolicy,
  RouteTable,
  Service,
  Workload,
  WorkloadPeerAuthentication,
} from '@weft/policy';
import { createAccessLogger, createLogger, streamSink } from '@weft/telemetry';
import { applyUpdate as applyWaypointUpdate, type ConfigSource, createWaypoint } from '@weft/waypoint';
import { createDeltaAdsClient, type UpdateBatch, WEFT_TYPE_URL } from '@weft/xds-protocol';
import { domainResourceType } from '@weft/xds-protocol/convert';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    ip: { type: 'string' },
    'xds-address': { type: 'string', default: '127.0.0.1:15010' },
    'token-file': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const name = values.name ?? '';
const ip = values.ip ?? '';
if (!/^[a-z0-9-]+\/[a-z0-9-]+$/.test(name) || ip === '') {
  console.error(
    'usage: waypoint-host --name <namespace>/<gateway> --ip <pod ip> [--xds-address h:p] [--token-file f]',
  );
  process.exit(2);
}
const tokenFile = values['token-file'];
const token = () => (tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8').trim());
const logger = createLogger({
  sink: streamSink(process.stderr),
  level: values['log-level'] as 'info',
  fields: { component: 'waypoint', waypoint: name },
});
const accessLog = createAccessLogger({ sink: streamSink(process.stdout) });

// Certificates: our own identity (the CA answers for the token's service account).
const ca = createCaClient({ address: values['xds-address'] ?? '', token: () => token() ?? '' });
const certs = createCertStore();
const manager = createCertManager({ source: ca });
manager.on('rotated', (cert) => {
  certs.set(cert);
  logger.info('certificate installed', { identity: cert.spiffeId, notAfter: cert.notAfter.toISOString() });
});
manager.on('error', (e) =>
  logger.warn('certificate fetch failed', { error: e.message, retryInMs: e.retryInMs }),
);
manager.start();

// Config: weft.v1 -> domain values (NACK on a malformed one) -> the waypoint's store.
const keyOf = (resourceName: string): string => resourceName.slice(resourceName.indexOf('/') + 1);
const source: ConfigSource = {
  name: 'xds',
  start(store) {
    const client = createDeltaAdsClient({
      target: values['xds-address'] ?? '',
      node: { id: `waypoint~${name}` },
      types: [
        domainResourceType('workload'),
        domainResourceType('service'),
        domainResourceType('authorization'),
        domainResourceType('httpRoutes'),
        domainResourceType('backendPolicy'),
      ],
      handler: {
        applyUpdate(batch: UpdateBatch) {
          const removed = batch.removals;
          switch (batch.typeUrl) {
            case WEFT_TYPE_URL.workload: {
              const upserted = batch.upserts.map(
                (u) =>
                  (u.value as { workload: Workload; peerAuthentication?: WorkloadPeerAuthentication })
                    .workload,
              );
              applyWaypointUpdate(store, { workloads: { upserted, removed } });
              break;
            }
            case WEFT_TYPE_URL.service:
              applyWaypointUpdate(store, {
                services: {
                  upserted: batch.upserts.map((u) => u.value as Service),
                  removed: removed.map(keyOf),
                },
              });
              break;
            case WEFT_TYPE_URL.authorization:
              applyWaypointUpdate(store, {
                authorizationPolicies: {
                  upserted: batch.upserts.map((u) => u.value as AuthzPolicy),
                  removed,
                },
              });
              break;
            case WEFT_TYPE_URL.httpRoutes:
              applyWaypointUpdate(store, {
                routes: { upserted: batch.upserts.map((u) => u.value as RouteTable), removed },
              });
              break;
            case WEFT_TYPE_URL.backendPolicy:
              applyWaypointUpdate(store, {
                backendPolicies: {
                  upserted: batch.upserts.map((u) => u.value as BackendPolicy),
                  removed: removed.map(keyOf),
                },
              });
              break;
            default:
              break;
          }
        },
        onConnectionState(state, detail) {
          logger.info('xds connection', { state, ...(detail !== undefined ? { detail } : {}) });
        },
      },
      metadata: () => {
        const md = new grpc.Metadata();
        const t = token();
        if (t !== undefined) md.set('authorization', `Bearer ${t}`);
        return md;
      },
      backoff: { initialMs: 100, maxMs: 2000 },
    });
    stopXds = () => client.close();
  },
  stop() {
    stopXds();
  },
};
let stopXds = (): void => {};

const waypoint = await createWaypoint(
  {
    name,
    hbone: { host: ip, port: 15008 },
    admin: { host: ip, port: 15000 },
    metrics: { host: ip, port: 15020 },
    readiness: { host: ip, port: 15021 },
  },
  { certs, configSource: source, logger, accessLog },
);
const stop = (): void => {
  manager.close();
  ca.close();
  void waypoint.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
