// The TCP passthrough decision, pure: L4 authorization with the policies the engine's role
// applies (the same evaluator in L4 mode), then the backend from the TCPRoute the role applies
// (or the destination as addressed). `tcp.ts` executes it: cluster, endpoint, connect, bytes.

import type { WeightedBackend } from '@weft/policy';
import { authorize, chooseWeighted } from '@weft/policy/runtime';
import type { Target } from '@weft/proxy-core';
import type { Downstream } from '../http/message.ts';
import type { Applied } from '../role.ts';
import type { ClusterRef } from '../upstream/upstreams.ts';

export type TcpPlan =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'deny'; readonly policy: string | undefined }
  | {
      readonly kind: 'connect';
      readonly cluster: ClusterRef;
      /** The TCPRoute backend chosen, if a TCPRoute applies. */
      readonly backend: WeightedBackend | undefined;
    };

export function planTcp(target: Target, applied: Applied, down: Downstream, random: () => number): TcpPlan {
  if (target.kind === 'unknown') return { kind: 'unknown' };
  if (applied.policies !== undefined) {
    const decision = authorize(
      applied.policies,
      {
        ...(down.principal !== undefined ? { sourcePrincipal: down.principal } : {}),
        sourceIp: down.forwardedFor ?? down.remoteIp,
        destinationIp: down.destinationIp,
        destinationPort: down.destinationPort,
      },
      { mode: 'L4' },
    );
    if (decision.action === 'DENY') return { kind: 'deny', policy: decision.policy };
  }
  if (target.kind === 'workload')
    return {
      kind: 'connect',
      cluster: { kind: 'workload', workload: target.workload, port: target.port },
      backend: undefined,
    };
  const rule = applied.routes?.protocol === 'tcp' ? applied.routes.rules[0] : undefined;
  const backend = rule ? chooseWeighted(rule.backends, random) : undefined;
  return {
    kind: 'connect',
    cluster: {
      kind: 'service',
      host: backend?.host ?? target.service.hostname,
      port: backend?.port ?? target.port.port,
      ...(backend?.subset !== undefined ? { subset: backend.subset } : {}),
    },
    backend,
  };
}
