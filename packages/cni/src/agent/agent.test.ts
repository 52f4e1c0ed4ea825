// The node agent with the in-memory RuleApplier and ztunnel played by the real protocol client
// (@weft/cni/protocol connectNodeAgent): enrollment, failure policy, mode changes without
// restart, restart reconcile, and hostile input on both sockets.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, functionSink, renderMetrics } from '@weft/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpAgentTransport } from '../api/client.ts';
import { API_PATHS } from '../api/messages.ts';
import { type AgentMessage, connectNodeAgent, type NodeAgentClient } from '../protocol/index.ts';
import { MemoryRuleApplier } from '../testing/applier.ts';
import { createNodeAgent, type NodeAgent } from './agent.ts';

const NS1 = '/var/run/netns/pod-1';
const NS2 = '/var/run/netns/pod-2';
const logs: string[] = [];
const logger = createLogger({ sink: functionSink((l) => logs.push(l)), level: 'debug' });

let dir: string;
let manifests: string;
let applier: MemoryRuleApplier;
let agent: NodeAgent | undefined;
let ztunnel: NodeAgentClient | undefined;
let seen: AgentMessage[];
let ztunnelAnswer: (m: AgentMessage) => Promise<void>;

function writeManifests(
  podModes: Record<string, string | undefined>,
  nsMode?: string,
  annotations: Record<string, string> = {},
) {
  const docs = [
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n${nsMode ? `  labels:\n    weft.dev/dataplane-mode: ${nsMode}\n` : ''}`,
    ...Object.entries(podModes).map(
      ([name, mode]) =>
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: demo\n  uid: uid-${name}\n` +
        (mode ? `  labels:\n    weft.dev/dataplane-mode: ${mode}\n` : '') +
        (Object.keys(annotations).length
          ? `  annotations:\n${Object.entries(annotations)
              .map(([k, v]) => `    ${k}: "${v}"\n`)
              .join('')}`
          : '') +
        `spec:\n  nodeName: node-a\n  containers:\n  - name: app\n    image: app\nstatus:\n  podIP: 10.22.0.5\n`,
    ),
  ];
  writeFileSync(join(manifests, 'pods.yaml'), docs.join('---\n'));
}

async function start(): Promise<NodeAgent> {
  agent = await createNodeAgent(
    {
      node: 'node-a',
      manifestsDir: manifests,
      cniSocket: join(dir, 'run', 'cni.sock'),
      ztunnelSocket: join(dir, 'run', 'ztunnel.sock'),
      stateDir: join(dir, 'state'),
      rescanIntervalMs: 60_000,
      ackTimeoutMs: 2000,
    },
    { applier, logger, netnsExists: (p) => applier.hasNetns(p) },
  );
  return agent;
}

async function startZtunnel(): Promise<void> {
  ztunnel = connectNodeAgent(
    join(dir, 'run', 'ztunnel.sock'),
    (m) => {
      seen.push(m);
      return ztunnelAnswer(m);
    },
    { backoff: { initialMs: 10, maxMs: 50 } },
  );
  await until(() => seen.some((m) => m.type === 'snapshot-done'));
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const post = async (path: string, body: unknown) => {
  const r = await httpAgentTransport.post(join(dir, 'run', 'cni.sock'), path, body, 5000);
  if (!r.ok) throw new Error(r.unreachable);
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
};
const addBody = (name: string, netns: string, extra: Record<string, unknown> = {}) => ({
  namespace: 'demo',
  name,
  uid: `uid-${name}`,
  containerId: `ctr-${name}`,
  netns,
  ifname: 'eth0',
  ips: [
    { address: '10.22.0.5/16', gateway: '10.22.0.1' },
    { address: 'fd00:22::5/64', gateway: 'fd00:22::1' },
  ],
  ...extra,
});
const weft = (netns: string, family: 4 | 6 = 4) =>
  applier
    .dump(netns, family)
    .split('\n')
    .filter((l) => l.includes('WEFT_'));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-cni-agent-'));
  manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  applier = new MemoryRuleApplier();
  applier.addNetns(NS1);
  applier.addNetns(NS2);
  seen = [];
  ztunnelAnswer = async () => {};
  logs.length = 0;
});

afterEach(async () => {
  await ztunnel?.close();
  ztunnel = undefined;
  await agent?.close();
  agent = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('enrollment', () => {
  it('ambient: rules for both families, ztunnel told and acked, record persisted', async () => {
    writeManifests({ a: 'ambient' });
    await start();
    await startZtunnel();
    const r = await post(API_PATHS.add, addBody('a', NS1));
    expect(r).toEqual({ status: 200, body: { result: 'enrolled', mode: 'ambient' } });
    expect(weft(NS1, 4)).toContain('-A WEFT_INBOUND -s 10.22.0.1/32 -j RETURN');
    expect(weft(NS1, 6)).toContain('-A WEFT_INBOUND -s fd00:22::1/128 -j RETURN');
    expect(seen.filter((m) => m.type === 'add')).toEqual([
      {
        type: 'add',
        id: expect.any(Number),
        pod: { namespace: 'demo', name: 'a', uid: 'uid-a' },
        netns: NS1,
      },
    ]);
    const state = JSON.parse(readFileSync(join(dir, 'state', 'pods.json'), 'utf8'));
    expect(state.pods).toMatchObject([{ namespace: 'demo', name: 'a', netns: NS1, mode: 'ambient' }]);
  });

  it('sidecar: sidecar rules, ztunnel not involved; none: not in the mesh and no rules', async () => {
    writeManifests({ s: 'sidecar', n: undefined });
    await start();
    expect((await post(API_PATHS.add, addBody('s', NS1))).body).toEqual({
      result: 'enrolled',
      mode: 'sidecar',
    });
    expect(weft(NS1).join('\n')).toContain('--uid-owner 1337');
    expect((await post(API_PATHS.add, addBody('n', NS2))).body).toEqual({
      result: 'not-in-mesh',
      reason: 'pod manifest',
    });
    expect(weft(NS2)).toEqual([]);
  });

  it('a pod missing from the manifests takes its namespace label', async () => {
    writeManifests({}, 'ambient');
    await start();
    await startZtunnel();
    expect((await post(API_PATHS.add, addBody('late', NS1))).body).toEqual({
      result: 'enrolled',
      mode: 'ambient',
    });
  });

  it('fails closed, leaving no rule behind: ztunnel away (503 retryable), ztunnel refusing (500)', async () => {
    writeManifests({ a: 'ambient' });
    await start();
    const away = await post(API_PATHS.add, addBody('a', NS1));
    expect(away).toEqual({
      status: 503,
      body: { error: 'ztunnel is not connected to the node agent', retryable: true },
    });
    expect(weft(NS1)).toEqual([]);
    await startZtunnel();
    ztunnelAnswer = async () => {
      throw new Error('cannot enter netns');
    };
    const refused = await post(API_PATHS.add, addBody('a', NS1));
    expect(refused).toEqual({ status: 500, body: { error: 'ztunnel: cannot enter netns' } });
    expect(weft(NS1)).toEqual([]);
    expect(weft(NS1, 6)).toEqual([]);
    expect(agent?.pods()).toEqual([]);
  });

  it('fails closed when the rules cannot be installed, and names a bad annotation', async () => {
    writeManifests({ a: 'sidecar' });
    await start();
    applier.failNextRestore = 'iptables-restore: line 3 failed';
    const r = await post(API_PATHS.add, addBody('a', NS1));
    expect(r.status).toBe(500);
    expect(String(r.body.error)).toContain('iptables-restore: line 3 failed');
    expect(weft(NS1)).toEqual([]);
    writeManifests({ a: 'sidecar' }, undefined, { 'weft.dev/exclude-inbound-ports': '80,http' });
    await agent?.resync();
    const bad = await post(API_PATHS.add, addBody('a', NS1));
    expect(bad).toEqual({
      status: 422,
      body: { error: 'weft.dev/exclude-inbound-ports "80,http" has "http", which is not a port number' },
    });
    expect(weft(NS1)).toEqual([]);
    expect(agent?.metrics.refused.count('invalid_annotation')).toBe(1);
  });

  it('DEL removes rules and tells ztunnel; DEL of an unknown pod is fine', async () => {
    writeManifests({ a: 'ambient' });
    await start();
    await startZtunnel();
    await post(API_PATHS.add, addBody('a', NS1));
    expect(
      await post(API_PATHS.del, { containerId: 'ctr-a', namespace: 'demo', name: 'a', netns: NS1 }),
    ).toEqual({
      status: 200,
      body: { result: 'removed' },
    });
    expect(weft(NS1)).toEqual([]);
    expect(seen.at(-1)).toMatchObject({ type: 'remove', pod: { namespace: 'demo', name: 'a' } });
    expect((await post(API_PATHS.del, { containerId: 'ctr-a' })).body).toEqual({ result: 'unknown' });
  });

  it('CHECK answers ok for intact rules and 409 when someone removed them', async () => {
    writeManifests({ s: 'sidecar' });
    await start();
    await post(API_PATHS.add, addBody('s', NS1));
    const body = { containerId: 'ctr-s', namespace: 'demo', name: 's', netns: NS1 };
    expect((await post(API_PATHS.check, body)).body).toEqual({ result: 'ok' });
    await applier.restore(NS1, 4, '*nat\n-D OUTPUT -p tcp -j WEFT_OUTBOUND\nCOMMIT\n');
    const r = await post(API_PATHS.check, body);
    expect(r.status).toBe(409);
    expect(String(r.body.error)).toContain('IPv4 rules differ');
  });
});

describe('running pods change mode without restart', () => {
  it('none -> ambient -> sidecar -> none, following the manifests', async () => {
    writeManifests({ a: 'none' });
    await start();
    await startZtunnel();
    await post(API_PATHS.add, addBody('a', NS1));
    expect(weft(NS1)).toEqual([]);

    writeManifests({ a: 'ambient' });
    await agent?.resync();
    expect(weft(NS1).join('\n')).toContain('0x539');
    expect(seen.filter((m) => m.type === 'add').map((m) => (m.type === 'add' ? m.netns : ''))).toEqual([NS1]);

    writeManifests({ a: 'sidecar' });
    await agent?.resync();
    expect(weft(NS1).join('\n')).toContain('--uid-owner 1337');
    expect(weft(NS1).join('\n')).not.toContain('0x539');
    expect(seen.at(-1)).toMatchObject({ type: 'remove' });

    writeManifests({ a: undefined });
    await agent?.resync();
    expect(weft(NS1)).toEqual([]);
    expect(weft(NS1, 6)).toEqual([]);
    expect(agent?.pods().map((p) => p.mode)).toEqual(['none']);
  });

  it('an annotation change re-applies the rules; the periodic scan finds a file change', async () => {
    writeManifests({ s: 'sidecar' });
    await agent?.close();
    agent = await createNodeAgent(
      {
        node: 'node-a',
        manifestsDir: manifests,
        cniSocket: join(dir, 'run', 'cni.sock'),
        ztunnelSocket: join(dir, 'run', 'ztunnel.sock'),
        stateDir: join(dir, 'state'),
        rescanIntervalMs: 50,
      },
      { applier, logger, netnsExists: (p) => applier.hasNetns(p) },
    );
    await post(API_PATHS.add, addBody('s', NS1));
    writeManifests({ s: 'sidecar' }, undefined, { 'weft.dev/exclude-outbound-ports': '5432' });
    await until(() => weft(NS1).some((l) => l.includes('--dport 5432')));
  });
});

describe('restart reconcile', () => {
  it('repairs tampered rules, forgets pods whose netns is gone, replays ambient pods to ztunnel', async () => {
    writeManifests({ a: 'ambient', s: 'sidecar' });
    await start();
    await startZtunnel();
    await post(API_PATHS.add, addBody('a', NS1));
    await post(API_PATHS.add, addBody('s', NS2));
    await ztunnel?.close();
    ztunnel = undefined;
    await agent?.close();
    agent = undefined;

    // While the agent is down: a jump is lost, a stale rule added, pod s's netns disappears.
    await applier.restore(
      NS1,
      4,
      '*nat\n-D PREROUTING -p tcp -j WEFT_INBOUND\n-A WEFT_OUTBOUND -j RETURN\nCOMMIT\n',
    );
    applier.removeNetns(NS2);
    const expected = weft(NS1, 6);

    const restarted = await start();
    expect(restarted.pods().map((p) => `${p.name}:${p.mode}`)).toEqual(['a:ambient']);
    expect(weft(NS1, 4)).toContain('-A PREROUTING -p tcp -j WEFT_INBOUND');
    expect(weft(NS1, 4)).not.toContain('-A WEFT_OUTBOUND -j RETURN');
    expect(weft(NS1, 6)).toEqual(expected);
    seen = [];
    await startZtunnel();
    expect(seen.map((m) => m.type)).toEqual(['add', 'snapshot-done']);
    expect(seen[0]).toMatchObject({ pod: { name: 'a' }, netns: NS1 });
  });

  it('applies a mode change made while the agent was down', async () => {
    writeManifests({ s: 'sidecar' });
    await start();
    await post(API_PATHS.add, addBody('s', NS1));
    await agent?.close();
    agent = undefined;
    writeManifests({ s: 'none' });
    await start();
    expect(weft(NS1)).toEqual([]);
  });

  it('starts with a corrupt state file (and says so)', async () => {
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'pods.json'), '{"version":1,"pods":[{"namespace":"demo"},"x"]}');
    writeManifests({});
    await start();
    expect(agent?.pods()).toEqual([]);
    expect(logs.some((l) => l.includes('pod record not loaded'))).toBe(true);
  });
});

describe('hostile input never crashes the agent', () => {
  it('CNI socket: garbage, unknown paths, wrong methods, huge bodies, paths outside netns dirs', async () => {
    writeManifests({ a: 'sidecar' });
    await start();
    const cases: Array<[string, unknown, number]> = [
      [API_PATHS.add, 'not an object', 400],
      [API_PATHS.add, { ...addBody('a', NS1), netns: '/etc/passwd' }, 400],
      [API_PATHS.add, { ...addBody('a', NS1), extra: 1 }, 400],
      [API_PATHS.add, { ...addBody('a', NS1), name: '../x' }, 400],
      [API_PATHS.add, addBody('a', '/var/run/netns/absent'), 422],
      [API_PATHS.del, {}, 400],
      [API_PATHS.check, { containerId: 'x' }, 400],
      ['/v1/nope', {}, 404],
      [API_PATHS.add, { pad: 'x'.repeat(100_000) }, 413],
    ];
    for (const [path, body, status] of cases) {
      const r = await httpAgentTransport.post(join(dir, 'run', 'cni.sock'), path, body, 5000);
      if (r.ok) expect(r.status, `${path} ${JSON.stringify(body).slice(0, 60)}`).toBe(status);
      else expect(status).toBe(413); // the agent may cut a huge upload short
    }
    // raw garbage on the socket
    await new Promise<void>((resolve) => {
      const s = connect(join(dir, 'run', 'cni.sock'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.write('\u0000\u0001GARBAGE / HTTP/9\r\n\r\n');
    });
    expect(weft(NS1)).toEqual([]);
    expect((await post(API_PATHS.add, addBody('a', NS1))).body).toEqual({
      result: 'enrolled',
      mode: 'sidecar',
    });
    const text = (await renderMetrics(agent?.registry ?? (undefined as never))).body;
    expect(text).toMatch(/weft_rejected_total\{component="cniagent",reason="bad_request"\} [1-9]/);
    expect(text).toMatch(/weft_cniagent_requests_total\{command="add",result="enrolled"\} 1/);
  });

  it('ztunnel socket: garbage lines and unknown acks are counted; the agent keeps serving', async () => {
    writeManifests({ a: 'ambient' });
    await start();
    const s = connect(join(dir, 'run', 'ztunnel.sock'));
    s.on('error', () => {});
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString();
    });
    await until(() => got.includes('snapshot-done'));
    s.write(`garbage\n{"type":"add","id":1}\n{"type":"ack","id":999}\n${'x'.repeat(70_000)}\n`);
    await until(() => (agent?.metrics.refused.count('bad_ztunnel_message') ?? 0) >= 3);
    // This raw client acks nothing: enrollment times out as retryable, nothing left behind.
    const r = await post(API_PATHS.add, addBody('a', NS1));
    expect(r.status).toBe(503);
    expect(weft(NS1)).toEqual([]);
    s.destroy();
  });
});
