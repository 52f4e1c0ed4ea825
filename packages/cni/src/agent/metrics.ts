// The node agent's metrics: requests by command and result, refusals (weft_rejected_total),
// errors by operation, pods by capture mode, and whether ztunnel is connected.

import {
  type CounterFamily,
  type GaugeFamily,
  type MetricsRegistry,
  type RejectCounter,
  rejectCounter,
  weftCounter,
  weftGauge,
} from '@weft/telemetry';

export type RefusalReason =
  | 'bad_request'
  | 'body_too_large'
  | 'not_found'
  | 'method_not_allowed'
  | 'invalid_annotation'
  | 'bad_ztunnel_message';

export interface AgentMetrics {
  readonly requests: CounterFamily<'command' | 'result'>;
  readonly refused: RejectCounter<RefusalReason>;
  readonly errors: CounterFamily<'operation'>;
  readonly pods: GaugeFamily<'mode'>;
  readonly ztunnelConnected: GaugeFamily<never>;
}

const COMPONENT = 'cniagent';

export function agentMetrics(registry: MetricsRegistry): AgentMetrics {
  return {
    requests: weftCounter(registry, {
      component: COMPONENT,
      name: 'requests',
      help: 'CNI plugin requests served by the node agent, by command and result.',
      labelNames: ['command', 'result'],
    }),
    refused: rejectCounter<RefusalReason>(COMPONENT, registry),
    errors: weftCounter(registry, {
      component: COMPONENT,
      name: 'errors',
      help: 'Node agent operations that failed (rules, ztunnel, state, manifests), by operation.',
      labelNames: ['operation'],
    }),
    pods: weftGauge(registry, {
      component: COMPONENT,
      name: 'pods',
      help: 'Pods known to the node agent, by the capture installed in their netns.',
      labelNames: ['mode'],
    }),
    ztunnelConnected: weftGauge(registry, {
      component: COMPONENT,
      name: 'ztunnel_connected',
      help: '1 while a ztunnel is connected to the node agent.',
    }),
  };
}
