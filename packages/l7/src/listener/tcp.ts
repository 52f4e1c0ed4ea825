// TCP passthrough for ports that are not HTTP: L4 authorization (the same evaluator in L4
// mode), a backend from the TCPRoute (or the service itself), an endpoint from the cluster's
// load balancer, then bytes both ways with half-close. TCP metrics per connection.
import type { Duplex } from 'node:stream';
import { authorize, chooseWeighted } from '@weft/policy';
import type { Target } from '@weft/proxy-core';
import { peerLabels } from '@weft/telemetry';
import type { Engine } from '../engine/engine.ts';
import type { Downstream } from '../http/message.ts';
import type { Cluster } from '../upstream/upstreams.ts';

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
      if (target.kind === 'unknown') {
        engine.reject('unknown_destination');
        socket.destroy();
        return;
      }
      const state = engine.state();
      const decision = authorize(
        target.policies,
        {
          ...(down.principal !== undefined ? { sourcePrincipal: down.principal } : {}),
          sourceIp: down.forwardedFor ?? down.remoteIp,
          destinationIp: down.destinationIp,
          destinationPort: down.destinationPort,
        },
        { mode: 'L4' },
      );
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
      if (decision.action === 'DENY') {
        m.opened('RBAC');
        m.closed('RBAC');
        socket.destroy();
        return;
      }
      let cluster: Cluster | undefined;
      if (target.kind === 'service') {
        const rule = target.routes?.protocol === 'tcp' ? target.routes.rules[0] : undefined;
        const backend = rule ? chooseWeighted(rule.backends, random) : undefined;
        const cr = engine.upstreams.cluster(
          state,
          backend?.host ?? target.service.hostname,
          backend?.port ?? target.port.port,
          backend?.subset,
        );
        cluster = cr.ok ? cr.cluster : undefined;
      } else {
        cluster = engine.upstreams.workloadCluster(state, target.workload, target.port);
      }
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
