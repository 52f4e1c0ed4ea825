// The upstream plan, pure: logical (the matched rule, or the destination as addressed) ->
// concrete (a weighted backend, its cluster), the request deadline and per-try timeout, and how
// many retries the request may get. The router executes it: pool limits, endpoint choice,
// attempts, backoff.

import type { RetryPolicy, WeightedBackend } from '@weft/policy';
import { chooseWeighted, DEFAULT_RETRY_POLICY } from '@weft/policy/runtime';
import type { Target } from '@weft/proxy-core';
import type { ResponseFlag } from '@weft/telemetry';
import type { RouteDecision } from '../../http/message.ts';
import type { ClusterRef } from '../../upstream/upstreams.ts';

export interface UpstreamPlanInput {
  /** The route filter's decision; undefined when no route table applies. */
  readonly route: RouteDecision | undefined;
  readonly target: Target;
  /** Clock milliseconds when the request started. */
  readonly startMono: number;
  /** The caller's deadline (grpc-timeout) in clock milliseconds. */
  readonly callerDeadline: number | undefined;
  /** An upgrade (WebSocket) is never retried. */
  readonly upgrade: boolean;
  /** The request body: a stream (with its length, when known), or bytes already here. */
  readonly body: { readonly streaming: boolean; readonly length: number | undefined };
  /** How much of a streaming body may be kept for replay. */
  readonly retryBufferBytes: number;
  /** Uniform [0, 1): the weighted backend choice. */
  readonly random: () => number;
}

export type UpstreamPlan =
  | {
      readonly kind: 'forward';
      /** The rule's backends with their weights (none without a route). */
      readonly backends: readonly WeightedBackend[];
      /** The one chosen (its header modifiers apply); undefined without a route. */
      readonly backend: WeightedBackend | undefined;
      readonly cluster: ClusterRef;
      /** Reply when the cluster does not resolve (the backend or the service port is gone). */
      readonly clusterMissing: { readonly status: number; readonly prefix: string };
      /** The request deadline in clock milliseconds: the route's timeout, capped by the caller's. */
      readonly deadline: number | undefined;
      readonly perTryMs: number | undefined;
      readonly retry: {
        readonly policy: RetryPolicy;
        /** Retries allowed after the first attempt. */
        readonly attempts: number;
        /** Whether the streaming body is copied (up to retryBufferBytes) to be sent again. */
        readonly replay: boolean;
      };
    }
  | {
      readonly kind: 'reply';
      readonly status: number;
      readonly message: string;
      readonly flags: readonly ResponseFlag[];
    };

/** Plans how one request reaches its upstream. */
export function planUpstream(input: UpstreamPlanInput): UpstreamPlan {
  const route = input.route;
  let backend: WeightedBackend | undefined;
  let cluster: ClusterRef;
  if (route !== undefined) {
    if (route.rule.backends.length === 0)
      return { kind: 'reply', status: 500, message: 'route has no backend', flags: [] };
    backend = chooseWeighted(route.rule.backends, input.random);
    if (backend === undefined || backend.unresolved !== undefined)
      return {
        kind: 'reply',
        status: 500,
        message: `backend not found: ${backend?.unresolved ?? 'no backend with weight'}`,
        flags: ['NC'],
      };
    cluster = {
      kind: 'service',
      host: backend.host,
      port: backend.port ?? route.servicePort,
      ...(backend.subset !== undefined ? { subset: backend.subset } : {}),
    };
  } else {
    const t = input.target;
    if (t.kind === 'service') cluster = { kind: 'service', host: t.service.hostname, port: t.port.port };
    else if (t.kind === 'workload') cluster = { kind: 'workload', workload: t.workload, port: t.port };
    else return { kind: 'reply', status: 503, message: 'unknown destination', flags: ['NC'] };
  }

  // request timeout from the start of the request, capped by grpc-timeout
  const rule = route?.rule;
  const requestTimeout = rule?.timeouts?.requestMs;
  let deadline =
    requestTimeout !== undefined && requestTimeout > 0 ? input.startMono + requestTimeout : undefined;
  if (input.callerDeadline !== undefined)
    deadline = deadline === undefined ? input.callerDeadline : Math.min(deadline, input.callerDeadline);
  const policy: RetryPolicy = rule?.retries ?? DEFAULT_RETRY_POLICY;
  const perTryMs = policy.perTryTimeoutMs ?? rule?.timeouts?.perTryMs;
  let attempts = input.upgrade ? 0 : Math.max(0, policy.attempts);
  // a streaming body longer than the replay buffer cannot be sent twice
  const { streaming, length } = input.body;
  if (attempts > 0 && streaming && length !== undefined && length > input.retryBufferBytes) attempts = 0;

  return {
    kind: 'forward',
    backends: route?.rule.backends ?? [],
    backend,
    cluster,
    clusterMissing:
      route !== undefined ? { status: 500, prefix: 'backend not found: ' } : { status: 503, prefix: '' },
    deadline,
    perTryMs,
    retry: { policy, attempts, replay: attempts > 0 && streaming },
  };
}
