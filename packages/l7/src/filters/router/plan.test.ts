import { DEFAULT_RETRY_POLICY, type RetryPolicy, type RouteRule, type WeightedBackend } from '@weft/policy';
import { describe, expect, it } from 'vitest';
import type { RouteDecision } from '../../http/message.ts';
import { SHOP, serviceWith, WEB_HOST, WEB_VIP } from '../../test-support/mesh.ts';
import { stateOf } from '../../test-support/requests.ts';
import { planUpstream, type UpstreamPlan, type UpstreamPlanInput } from './plan.ts';

const state = stateOf([...SHOP, ...serviceWith([{ name: 'web-1', ip: '127.0.0.41', port: 8080 }])]);
const service = state.target(WEB_VIP, 80);
const workload = state.target('127.0.0.41', 8080);
const unknown = state.target('10.9.9.9', 80);
if (workload.kind !== 'workload') throw new Error('fixture');

const API = 'api.shop.svc.cluster.local';
const b = (host: string, weight: number, extra: Partial<WeightedBackend> = {}): WeightedBackend => ({
  host,
  weight,
  ...extra,
});
const FIVE_XX: RetryPolicy = { attempts: 3, retryOn: ['5xx'], retryOnStatus: [], perTryTimeoutMs: 100 };

function route(rule: Partial<RouteRule>): RouteDecision {
  return {
    name: 'HTTPRoute/shop/web/0',
    rule: {
      source: { kind: 'HTTPRoute', namespace: 'shop', name: 'web', rule: 0 },
      matches: [],
      backends: [],
      filters: {},
      ...rule,
    } as RouteRule,
    match: undefined,
    path: '/',
    query: undefined,
    servicePort: 80,
  };
}

const base: UpstreamPlanInput = {
  route: undefined,
  target: service,
  startMono: 1000,
  callerDeadline: undefined,
  upgrade: false,
  body: { streaming: false, length: undefined },
  retryBufferBytes: 64,
  random: () => 0,
};

type Row = readonly [
  string,
  Partial<UpstreamPlanInput>,
  Partial<Extract<UpstreamPlan, { kind: 'forward' }>> | Extract<UpstreamPlan, { kind: 'reply' }>,
];

const table: readonly Row[] = [
  [
    'no route, a service: the service port, default retries',
    {},
    {
      backend: undefined,
      cluster: { kind: 'service', host: WEB_HOST, port: 80 },
      clusterMissing: { status: 503, prefix: '' },
      deadline: undefined,
      perTryMs: undefined,
      retry: { policy: DEFAULT_RETRY_POLICY, attempts: 2, replay: false },
    },
  ],
  [
    'no route, a workload: its own cluster',
    { target: workload },
    { cluster: { kind: 'workload', workload: workload.workload, port: 8080 } },
  ],
  [
    'no route, unknown destination: 503 NC',
    { target: unknown },
    { kind: 'reply', status: 503, message: 'unknown destination', flags: ['NC'] },
  ],
  [
    'a rule without backends: 500',
    { route: route({}) },
    { kind: 'reply', status: 500, message: 'route has no backend', flags: [] },
  ],
  [
    'weights 1:3, random 0.2 -> the first',
    { route: route({ backends: [b(WEB_HOST, 1), b(API, 3)] }), random: () => 0.2 },
    { backend: b(WEB_HOST, 1), cluster: { kind: 'service', host: WEB_HOST, port: 80 } },
  ],
  [
    'weights 1:3, random 0.3 -> the second, its port and subset',
    {
      route: route({ backends: [b(WEB_HOST, 1), b(API, 3, { port: 8080, subset: 'v2' })] }),
      random: () => 0.3,
    },
    {
      backends: [b(WEB_HOST, 1), b(API, 3, { port: 8080, subset: 'v2' })],
      cluster: { kind: 'service', host: API, port: 8080, subset: 'v2' },
      clusterMissing: { status: 500, prefix: 'backend not found: ' },
    },
  ],
  [
    'all weights 0: 500 NC',
    { route: route({ backends: [b(WEB_HOST, 0)] }) },
    { kind: 'reply', status: 500, message: 'backend not found: no backend with weight', flags: ['NC'] },
  ],
  [
    'an unresolved backend: 500 NC naming it',
    { route: route({ backends: [b('nope', 1, { unresolved: 'Service shop/nope' })] }) },
    { kind: 'reply', status: 500, message: 'backend not found: Service shop/nope', flags: ['NC'] },
  ],
  [
    'the route timeout from the start of the request',
    { route: route({ backends: [b(WEB_HOST, 1)], timeouts: { requestMs: 200, perTryMs: 50 } }) },
    { deadline: 1200, perTryMs: 50 },
  ],
  [
    'a caller deadline earlier than the route timeout wins',
    { route: route({ backends: [b(WEB_HOST, 1)], timeouts: { requestMs: 200 } }), callerDeadline: 1100 },
    { deadline: 1100 },
  ],
  ['a caller deadline alone', { callerDeadline: 1500 }, { deadline: 1500 }],
  [
    'the retry policy per-try timeout wins over the route one',
    { route: route({ backends: [b(WEB_HOST, 1)], retries: FIVE_XX, timeouts: { perTryMs: 50 } }) },
    { perTryMs: 100, retry: { policy: FIVE_XX, attempts: 3, replay: false } },
  ],
  [
    'an upgrade is never retried',
    { upgrade: true },
    { retry: { policy: DEFAULT_RETRY_POLICY, attempts: 0, replay: false } },
  ],
  [
    'a streaming body within the buffer is replayed',
    { body: { streaming: true, length: 64 } },
    { retry: { policy: DEFAULT_RETRY_POLICY, attempts: 2, replay: true } },
  ],
  [
    'a streaming body of unknown length is replayed while it fits',
    { body: { streaming: true, length: undefined } },
    { retry: { policy: DEFAULT_RETRY_POLICY, attempts: 2, replay: true } },
  ],
  [
    'a streaming body larger than the buffer is not retried',
    { body: { streaming: true, length: 65 } },
    { retry: { policy: DEFAULT_RETRY_POLICY, attempts: 0, replay: false } },
  ],
  [
    'retries off: nothing to replay',
    {
      route: route({ backends: [b(WEB_HOST, 1)], retries: { ...FIVE_XX, attempts: 0 } }),
      body: { streaming: true, length: 1 },
    },
    { retry: { policy: { ...FIVE_XX, attempts: 0 }, attempts: 0, replay: false } },
  ],
];

describe('planUpstream', () => {
  it.each(table)('%s', (_name, input, want) => {
    const plan = planUpstream({ ...base, ...input });
    if (want.kind === 'reply') expect(plan).toEqual(want);
    else expect(plan).toMatchObject({ kind: 'forward', ...want });
  });
});
