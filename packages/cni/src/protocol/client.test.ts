import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectNodeAgent, type NodeAgentClient } from './client.ts';
import { LineSplitter } from './lines.ts';
import { type AgentMessage, decodeZtunnelMessage, type ZtunnelMessage } from './messages.ts';

interface FakeAgent {
  server: Server;
  sockets: Socket[];
  acks: ZtunnelMessage[];
  connections: number;
}

function startFakeAgent(path: string): Promise<FakeAgent> {
  const agent: FakeAgent = { server: createServer(), sockets: [], acks: [], connections: 0 };
  agent.server.on('connection', (s) => {
    agent.connections += 1;
    agent.sockets.push(s);
    s.on('error', () => {});
    const splitter = new LineSplitter();
    s.on('data', (chunk: Buffer) => {
      for (const e of splitter.push(chunk)) {
        if ('line' in e) {
          const d = decodeZtunnelMessage(e.line);
          if (d.ok) agent.acks.push(d.value);
        }
      }
    });
  });
  return new Promise((resolve) => agent.server.listen(path, () => resolve(agent)));
}

async function stopFakeAgent(agent: FakeAgent): Promise<void> {
  for (const s of agent.sockets) s.destroy();
  await new Promise<void>((resolve) => agent.server.close(() => resolve()));
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
let path: string;
let client: NodeAgentClient | undefined;
let agent: FakeAgent | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-cni-proto-'));
  path = join(dir, 'ztunnel.sock');
});

afterEach(async () => {
  await client?.close();
  client = undefined;
  if (agent) await stopFakeAgent(agent);
  agent = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('connectNodeAgent', () => {
  it('hands messages to the handler in order and acks each, with the error when it throws', async () => {
    agent = await startFakeAgent(path);
    const seen: AgentMessage[] = [];
    client = connectNodeAgent(path, async (m) => {
      // The first message is slow: order must still hold.
      if (m.id === 1) await new Promise((r) => setTimeout(r, 50));
      seen.push(m);
      if (m.type === 'remove') throw new Error('no such pod');
    });
    await until(() => agent?.sockets.length === 1);
    const s = agent.sockets[0];
    s?.write(
      '{"type":"add","id":1,"pod":{"namespace":"demo","name":"a"},"netns":"/var/run/netns/a"}\n' +
        '{"type":"remove","id":2,"pod":{"namespace":"demo","name":"a"}}\n' +
        'garbage\n' +
        '{"type":"wat","id":3}\n' +
        '{"type":"snapshot-done","id":4}\n',
    );
    await until(() => agent?.acks.length === 4);
    expect(seen.map((m) => m.id)).toEqual([1, 2, 4]);
    expect(agent.acks).toEqual([
      { type: 'ack', id: 3, error: 'refused: unknown message type "wat"' },
      { type: 'ack', id: 1 },
      { type: 'ack', id: 2, error: 'no such pod' },
      { type: 'ack', id: 4 },
    ]);
    expect(client.connected).toBe(true);
  });

  it('reconnects with backoff when the agent is absent at first and after it restarts', async () => {
    const states: boolean[] = [];
    client = connectNodeAgent(path, async () => {}, {
      backoff: { initialMs: 10, maxMs: 50 },
      onConnection: (c) => states.push(c),
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(client.connected).toBe(false);
    agent = await startFakeAgent(path);
    await until(() => client?.connected === true);
    await stopFakeAgent(agent);
    agent = undefined;
    await until(() => client?.connected === false);
    rmSync(path, { force: true });
    agent = await startFakeAgent(path);
    await until(() => client?.connected === true);
    expect(states).toEqual([true, false, true]);
    await client.close();
    expect(client.connected).toBe(false);
  });
});
