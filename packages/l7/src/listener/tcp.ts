// TCP passthrough for ports that are not HTTP: executes the TCP plan (`tcp-plan.ts`: L4
// authorization, a backend from the TCPRoute or the destination itself), then an endpoint from
// the cluster's load balancer and bytes both ways with half-close. TCP metrics per connection.
import type { Duplex } from 'node:stream';
import type { Target } from '@weft/proxy-core';
import { peerLabels } from '@weft/telemetry';
import type { Engine } from '../engine/engine.ts';
import type { Downstream } from '../http/message.ts';
import { clusterFor } from '../upstream/upstreams.ts';
import { planTcp } from './tcp-plan.ts';

export interface TcpProxy {
  handle(socket: Duplex, downstream: Downstream, target: Target): void;
  readonly active: number;
}

export function createTcpProxy(engine: Engine, random: () => number = Math.random): TcpProxy {
  let active = 0;
  const metrics = engine.telemetry.metrics.tcp;
  return {
    get active() {
      return active;
    },
    handle(socket, down, target) {
      socket.on('error', () => {});
      const plan = planTcp(target, engine.applied(target), down, random);
      if (plan.kind === 'unknown') {
        engine.reject('unknown_destination');
        socket.destroy();
        return;
      }
      const service = target.kind === 'service' ? target.service : undefined;
      const labels = peerLabels({
        reporter: engine.telemetry.reporter,
        source: { principal: down.principal },
        service: service
          ? { hostname: service.hostname, name: service.name, namespace: service.namespace }
          : undefined,
        protocol: 'tcp',
        security: down.security,
      });
      const m = metrics.bind(labels);
      if (plan.kind === 'deny') {
        m.opened('RBAC');
        m.closed('RBAC');
        socket.destroy();
        return;
      }
      const cr = clusterFor(engine.upstreams, engine.state(), plan.cluster);
      const cluster = cr.ok ? cr.cluster : undefined;
      const ep = cluster?.pick({});
      if (cluster === undefined || ep === undefined) {
        m.opened('UH');
        m.closed('UH');
        socket.destroy();
        return;
      }
      active++;
      m.opened();
      const ac = new AbortController();
      socket.once('close', () => ac.abort());
      // (connections are rare next to requests: a real AbortSignal is fine here)
      engine.upstreams
        .connect(ep, {
          signal: ac.signal,
          timeoutMs: cluster.connectTimeoutMs,
          forwardedFor: down.forwardedFor ?? down.remoteIp,
        })
        .then(
          (up) => {
            up.on('error', () => {});
            let sent = 0;
            let received = 0;
            socket.on('data', (c: Buffer) => {
              received += c.length;
            });
            up.on('data', (c: Buffer) => {
              sent += c.length;
            });
            socket.pipe(up);
            up.pipe(socket);
            let done = false;
            const close = () => {
              if (done) return;
              done = true;
              active--;
              m.bytes(sent, received);
              m.closed();
              socket.destroy();
              up.destroy();
            };
            // half-close travels through pipe(); a full close of either side ends both
            socket.once('close', close);
            up.once('close', close);
          },
          () => {
            active--;
            m.closed('UF');
            socket.destroy();
          },
        );
    },
  };
}
