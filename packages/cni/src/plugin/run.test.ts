import { noopLogger } from '@weft/telemetry';
import { describe, expect, it } from 'vitest';
import type { AgentTransport, PostResult } from '../api/client.ts';
import { API_PATHS } from '../api/messages.ts';
import { MAX_STDIN_BYTES } from './config.ts';
import { type PluginInput, runPlugin } from './run.ts';

const NETNS = '/var/run/netns/cni-1';
const PREV = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: NETNS }],
  ips: [
    { address: '10.22.0.5/16', gateway: '10.22.0.1', interface: 0 },
    { address: 'fd00:22::5/64', gateway: 'fd00:22::1', interface: 0 },
  ],
  dns: {},
};
const config = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'kindnet',
    type: 'weft-cni',
    agent_socket: '/run/weft/cni.sock',
    prevResult: PREV,
    ...extra,
  });
const ENV = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee',
  CNI_IFNAME: 'eth0',
  CNI_NETNS: NETNS,
  CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=echo-1;K8S_POD_UID=1234-abcd',
};

interface Call {
  socket: string;
  path: string;
  body: unknown;
}

function fakeAgent(answer: PostResult | ((path: string) => PostResult)): AgentTransport & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async post(socket, path, body) {
      calls.push({ socket, path, body });
      return typeof answer === 'function' ? answer(path) : answer;
    },
  };
}

const ok = (body: unknown): PostResult => ({ ok: true, status: 200, body: JSON.stringify(body) });
const enrolled = ok({ result: 'enrolled', mode: 'ambient' });

async function run(
  input: Partial<PluginInput> & { env?: Record<string, string | undefined> },
  agent = fakeAgent(enrolled),
) {
  const out = await runPlugin(
    {
      env: input.env ?? ENV,
      stdin: input.stdin ?? config(),
      ...(input.stdinTooLarge ? { stdinTooLarge: true } : {}),
    },
    {
      transport: agent,
      netnsExists: (p) => p === NETNS || p === '/proc/42/ns/net',
      logger: () => noopLogger,
    },
  );
  const parsed = out.stdout === '' ? undefined : (JSON.parse(out.stdout) as Record<string, unknown>);
  return { ...out, parsed, calls: agent.calls };
}

describe('VERSION', () => {
  it.each([
    ['{"cniVersion":"0.4.0"}', '0.4.0'],
    ['', '1.0.0'],
    ['garbage', '1.0.0'],
    ['{"cniVersion":"9.9.9"}', '1.0.0'],
  ])('stdin %j answers in %s', async (stdin, version) => {
    const out = await run({ env: { CNI_COMMAND: 'VERSION' }, stdin });
    expect(out.exitCode).toBe(0);
    expect(out.parsed).toEqual({ cniVersion: version, supportedVersions: ['0.4.0', '1.0.0'] });
  });
});

describe('ADD', () => {
  it('asks the agent to enroll with the pod, netns and addresses, and passes prevResult through', async () => {
    const out = await run({});
    expect(out.exitCode).toBe(0);
    expect(out.parsed).toEqual(PREV);
    expect(out.calls).toEqual([
      {
        socket: '/run/weft/cni.sock',
        path: API_PATHS.add,
        body: {
          namespace: 'demo',
          name: 'echo-1',
          uid: '1234-abcd',
          containerId: 'c0ffee',
          netns: NETNS,
          ifname: 'eth0',
          ips: [
            { address: '10.22.0.5/16', gateway: '10.22.0.1' },
            { address: 'fd00:22::5/64', gateway: 'fd00:22::1' },
          ],
        },
      },
    ]);
  });

  it('passes a 0.4.0 prevResult through unchanged, cniVersion added when absent', async () => {
    const prev = {
      ips: [{ version: '4', address: '10.1.0.2/24', gateway: '10.1.0.1' }],
      routes: [],
      custom: { x: 1 },
    };
    const out = await run({ stdin: config({ cniVersion: '0.4.0', prevResult: prev }) });
    expect(out.exitCode).toBe(0);
    expect(out.parsed).toEqual({ cniVersion: '0.4.0', ...prev });
  });

  it('passes through when the agent says the pod is not in the mesh', async () => {
    const out = await run({}, fakeAgent(ok({ result: 'not-in-mesh', reason: 'mode none' })));
    expect(out.exitCode).toBe(0);
    expect(out.parsed).toEqual(PREV);
  });

  it('passes excluded namespaces through without asking the agent, default and configured', async () => {
    const system = { ...ENV, CNI_ARGS: 'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1' };
    const a = await run({ env: system });
    expect([a.exitCode, a.calls.length]).toEqual([0, 0]);
    expect(a.parsed).toEqual(PREV);
    const b = await run({ stdin: config({ exclude_namespaces: ['demo'] }) });
    expect([b.exitCode, b.calls.length]).toEqual([0, 0]);
    const c = await run({ env: system, stdin: config({ exclude_namespaces: [] }) });
    expect(c.calls.length).toBe(1);
  });

  it.each([
    [
      'unreachable',
      { ok: false, unreachable: 'ENOENT' } as PostResult,
      11,
      'node agent unreachable at /run/weft/cni.sock: ENOENT',
    ],
    [
      'failing',
      { ok: true, status: 500, body: '{"error":"iptables-restore failed"}' } as PostResult,
      100,
      'node agent: iptables-restore failed',
    ],
    [
      'refusing',
      { ok: true, status: 422, body: '{"error":"weft.dev/exclude-inbound-ports \\"x\\" bad"}' } as PostResult,
      100,
      'node agent: weft.dev/exclude-inbound-ports',
    ],
    [
      'busy',
      { ok: true, status: 503, body: '{"error":"ztunnel is not connected","retryable":true}' } as PostResult,
      11,
      'ztunnel is not connected',
    ],
    ['garbled', { ok: true, status: 200, body: 'not json' } as PostResult, 100, 'not valid JSON'],
    ['odd', ok({ result: 'maybe' }), 100, 'unknown result'],
  ])('fails closed when the agent is %s', async (_name, answer, code, msg) => {
    const out = await run({}, fakeAgent(answer));
    expect(out.exitCode).toBe(1);
    expect(out.parsed?.code).toBe(code);
    expect(out.parsed?.cniVersion).toBe('1.0.0');
    expect(String(out.parsed?.msg)).toContain(msg);
  });
});

describe('hostile input: a CNI error, exit 1, and the agent never asked', () => {
  const big = 'x'.repeat(10);
  it.each<[string, Partial<PluginInput> & { env?: Record<string, string | undefined> }, number, string]>([
    ['no CNI_COMMAND', { env: { ...ENV, CNI_COMMAND: undefined } }, 4, 'CNI_COMMAND is not set'],
    ['unknown CNI_COMMAND', { env: { ...ENV, CNI_COMMAND: 'GC' } }, 4, 'is not ADD'],
    ['empty stdin', { stdin: '' }, 6, 'no network configuration'],
    ['malformed JSON', { stdin: '{"cniVersion":' }, 6, 'not valid JSON'],
    ['JSON array', { stdin: '[]' }, 6, 'not a JSON object'],
    ['binary stdin', { stdin: '\u0000\u00ff\u0001' }, 6, 'not valid JSON'],
    ['huge stdin', { stdin: big, stdinTooLarge: true }, 6, `larger than ${MAX_STDIN_BYTES}`],
    ['no cniVersion', { stdin: config({ cniVersion: undefined }) }, 7, 'cniVersion is missing'],
    [
      'wrong cniVersion',
      { stdin: config({ cniVersion: '0.2.0' }) },
      1,
      'cniVersion "0.2.0" is not supported',
    ],
    ['cniVersion not a string', { stdin: config({ cniVersion: 1 }) }, 7, 'cniVersion is missing'],
    ['no prevResult', { stdin: config({ prevResult: undefined }) }, 7, 'prevResult is missing'],
    ['prevResult not an object', { stdin: config({ prevResult: [1] }) }, 7, 'prevResult must be an object'],
    ['prevResult.ips garbage', { stdin: config({ prevResult: { ips: 'all' } }) }, 7, 'prevResult.ips'],
    [
      'prevResult.ips[0] garbage',
      { stdin: config({ prevResult: { ips: [{ address: 5 }] } }) },
      7,
      'prevResult.ips[0]',
    ],
    ['bad agent_socket', { stdin: config({ agent_socket: 'relative.sock' }) }, 7, 'agent_socket'],
    [
      'bad exclude_namespaces',
      { stdin: config({ exclude_namespaces: 'kube-system' }) },
      7,
      'exclude_namespaces',
    ],
    ['bad log_level', { stdin: config({ log_level: 'loud' }) }, 7, 'log_level'],
    ['no CNI_CONTAINERID', { env: { ...ENV, CNI_CONTAINERID: undefined } }, 4, 'CNI_CONTAINERID is not set'],
    [
      'bad CNI_CONTAINERID',
      { env: { ...ENV, CNI_CONTAINERID: '../../etc' } },
      4,
      'CNI_CONTAINERID is not a valid',
    ],
    ['no CNI_IFNAME', { env: { ...ENV, CNI_IFNAME: '' } }, 4, 'CNI_IFNAME is not set'],
    ['bad CNI_IFNAME', { env: { ...ENV, CNI_IFNAME: 'eth0/../x' } }, 4, 'CNI_IFNAME is not a valid'],
    ['no CNI_NETNS', { env: { ...ENV, CNI_NETNS: undefined } }, 4, 'CNI_NETNS is not set'],
    [
      'netns outside the allowed places',
      { env: { ...ENV, CNI_NETNS: '/tmp/netns' } },
      4,
      'not under /var/run/netns',
    ],
    [
      'netns traversal',
      { env: { ...ENV, CNI_NETNS: '/var/run/netns/../../etc/passwd' } },
      4,
      'CNI_NETNS refused',
    ],
    ['netns /proc/self', { env: { ...ENV, CNI_NETNS: '/proc/self/ns/net' } }, 4, 'CNI_NETNS refused'],
    ['netns that does not exist', { env: { ...ENV, CNI_NETNS: '/var/run/netns/gone' } }, 3, 'does not exist'],
    ['no CNI_ARGS', { env: { ...ENV, CNI_ARGS: undefined } }, 4, 'K8S_POD_NAMESPACE'],
    ['CNI_ARGS garbage', { env: { ...ENV, CNI_ARGS: 'nonsense' } }, 4, 'not KEY=VALUE'],
    [
      'bad pod name',
      { env: { ...ENV, CNI_ARGS: 'K8S_POD_NAMESPACE=demo;K8S_POD_NAME=Bad_Name' } },
      4,
      'K8S_POD_NAME',
    ],
    [
      'bad pod uid',
      { env: { ...ENV, CNI_ARGS: `${ENV.CNI_ARGS.split(';K8S_POD_UID')[0]};K8S_POD_UID=a b` } },
      4,
      'K8S_POD_UID',
    ],
  ])('%s', async (_name, input, code, msg) => {
    const out = await run(input);
    expect(out.exitCode).toBe(1);
    expect(out.parsed?.code).toBe(code);
    expect(String(out.parsed?.msg)).toContain(msg);
    expect(out.calls).toEqual([]);
  });

  it('accepts /proc/<pid>/ns/net', async () => {
    const out = await run({ env: { ...ENV, CNI_NETNS: '/proc/42/ns/net' } });
    expect(out.exitCode).toBe(0);
  });
});

describe('DEL', () => {
  const del = { ...ENV, CNI_COMMAND: 'DEL' };
  it('tells the agent and prints nothing', async () => {
    const out = await run(
      { env: del, stdin: config({ prevResult: undefined }) },
      fakeAgent(ok({ result: 'removed' })),
    );
    expect([out.exitCode, out.stdout]).toEqual([0, '']);
    expect(out.calls[0]?.path).toBe(API_PATHS.del);
    expect(out.calls[0]?.body).toEqual({
      containerId: 'c0ffee',
      namespace: 'demo',
      name: 'echo-1',
      netns: NETNS,
    });
  });

  it.each([
    ['unreachable', { ok: false, unreachable: 'ECONNREFUSED' } as PostResult],
    ['failing', { ok: true, status: 500, body: '{"error":"boom"}' } as PostResult],
  ])('succeeds when the agent is %s', async (_n, answer) => {
    const out = await run({ env: del }, fakeAgent(answer));
    expect([out.exitCode, out.stdout]).toEqual([0, '']);
  });

  it('succeeds with no netns and no pod identity (the runtime lost them)', async () => {
    const out = await run(
      { env: { ...del, CNI_NETNS: undefined, CNI_ARGS: undefined } },
      fakeAgent(ok({ result: 'unknown' })),
    );
    expect(out.exitCode).toBe(0);
    expect(out.calls[0]?.body).toEqual({ containerId: 'c0ffee' });
  });

  it('drops a refused netns path but still tells the agent', async () => {
    const out = await run(
      { env: { ...del, CNI_NETNS: '/etc/passwd' } },
      fakeAgent(ok({ result: 'removed' })),
    );
    expect(out.exitCode).toBe(0);
    expect(out.calls[0]?.body).toEqual({ containerId: 'c0ffee', namespace: 'demo', name: 'echo-1' });
  });
});

describe('CHECK', () => {
  const check = { ...ENV, CNI_COMMAND: 'CHECK' };
  it('asks the agent and prints nothing on success', async () => {
    const out = await run({ env: check }, fakeAgent(ok({ result: 'ok' })));
    expect([out.exitCode, out.stdout]).toEqual([0, '']);
    expect(out.calls[0]?.path).toBe(API_PATHS.check);
  });

  it('fails with 101 when the agent finds the rules wrong, 11 when unreachable', async () => {
    const bad = await run(
      { env: check },
      fakeAgent({ ok: true, status: 409, body: '{"error":"rules missing"}' }),
    );
    expect(bad.parsed?.code).toBe(101);
    const away = await run({ env: check }, fakeAgent({ ok: false, unreachable: 'ENOENT' }));
    expect(away.parsed?.code).toBe(11);
  });
});
