// A fake node agent for tests (and drivers that enroll pods by hand): serves the node agent
// protocol (@weft/cni/protocol) on a unix socket. On every ztunnel connection it replays the
// enrolled pods as `add` and sends `snapshot-done`; `add`/`remove` afterwards go to the connected
// ztunnel and resolve with its ack.
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type AckMessage,
  type AgentMessage,
  decodeZtunnelMessage,
  encodeMessage,
  LineSplitter,
  type PodRef,
} from '@weft/cni/protocol';

export interface FakeNodeAgent {
  readonly path: string;
  /** Every ack received, in order, with the message it answered. */
  readonly acks: readonly { readonly message: AgentMessage; readonly ack: AckMessage }[];
  /** Enrolls a pod (sent now when ztunnel is connected, replayed on every connection). */
  add(pod: PodRef, netns: string): Promise<AckMessage | undefined>;
  remove(pod: PodRef): Promise<AckMessage | undefined>;
  /** Forgets a pod without telling ztunnel (as if it went away while the agent was down). */
  forget(pod: PodRef): void;
  /** Resolves when ztunnel is connected and has acked the snapshot. */
  whenSynced(): Promise<void>;
  /** Drops the current connection (ztunnel reconnects and gets a new snapshot). */
  disconnect(): void;
  close(): Promise<void>;
}

export async function startFakeNodeAgent(path: string): Promise<FakeNodeAgent> {
  rmSync(path, { force: true });
  const pods = new Map<string, { pod: PodRef; netns: string }>();
  const acks: { message: AgentMessage; ack: AckMessage }[] = [];
  const waiting = new Map<number, { message: AgentMessage; resolve: (a: AckMessage) => void }>();
  let nextId = 1;
  let current: Socket | undefined;
  let synced = false;
  let syncWaiters: (() => void)[] = [];

  const send = (socket: Socket, message: AgentMessage): Promise<AckMessage> =>
    new Promise((resolve) => {
      waiting.set(message.id, { message, resolve });
      socket.write(encodeMessage(message));
    });

  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    current?.destroy();
    current = socket;
    synced = false;
    const splitter = new LineSplitter();
    socket.on('data', (chunk: Buffer) => {
      for (const event of splitter.push(chunk)) {
        if ('oversized' in event) continue;
        const decoded = decodeZtunnelMessage(event.line);
        if (!decoded.ok) continue;
        const w = waiting.get(decoded.value.id);
        if (w === undefined) continue;
        waiting.delete(decoded.value.id);
        acks.push({ message: w.message, ack: decoded.value });
        w.resolve(decoded.value);
      }
    });
    socket.on('close', () => {
      if (current === socket) current = undefined;
    });
    void (async () => {
      await Promise.all(
        [...pods.values()].map((p) =>
          send(socket, { type: 'add', id: nextId++, pod: p.pod, netns: p.netns }),
        ),
      );
      await send(socket, { type: 'snapshot-done', id: nextId++ });
      if (current !== socket) return;
      synced = true;
      const list = syncWaiters;
      syncWaiters = [];
      for (const r of list) r();
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const key = (pod: PodRef) => `${pod.namespace}/${pod.name}`;
  return {
    path,
    acks,
    async add(pod, netns) {
      pods.set(key(pod), { pod, netns });
      if (current === undefined || !synced) return undefined;
      return send(current, { type: 'add', id: nextId++, pod, netns });
    },
    async remove(pod) {
      pods.delete(key(pod));
      if (current === undefined || !synced) return undefined;
      return send(current, { type: 'remove', id: nextId++, pod });
    },
    forget(pod) {
      pods.delete(key(pod));
    },
    whenSynced() {
      if (synced && current !== undefined) return Promise.resolve();
      return new Promise((resolve) => syncWaiters.push(resolve));
    },
    disconnect() {
      synced = false;
      current?.destroy();
      current = undefined;
    },
    async close() {
      current?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}
