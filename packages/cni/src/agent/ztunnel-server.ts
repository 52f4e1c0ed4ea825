// The agent's side of the ztunnel protocol (@weft/cni/protocol): a unix socket server. The newest
// ztunnel connection wins (a restarted ztunnel replaces the old one); on each connection every
// enrolled ambient pod is replayed as `add`, then `snapshot-done`. add/remove resolve on ztunnel's
// ack and reject on an error ack, a timeout or a lost connection.

import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@weft/telemetry';
import { LineSplitter } from '../protocol/lines.ts';
import { type AgentMessage, decodeZtunnelMessage, encodeMessage, type PodRef } from '../protocol/messages.ts';

export interface EnrolledPod {
  readonly pod: PodRef;
  readonly netns: string;
}

export interface ZtunnelServerOptions {
  readonly path: string;
  readonly logger: Logger;
  /** The ambient pods to replay to a new connection. */
  readonly snapshot: () => readonly EnrolledPod[];
  /** Wait for an ack this long (default 10 s). */
  readonly ackTimeoutMs?: number;
  /** Called for every message from ztunnel that is refused or unexpected. */
  readonly onRefused?: (reason: string) => void;
  readonly onConnection?: (connected: boolean) => void;
}

export class ZtunnelError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = 'ZtunnelError';
    this.retryable = retryable;
  }
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class ZtunnelServer {
  readonly #options: ZtunnelServerOptions;
  readonly #server: Server;
  readonly #pending = new Map<number, Pending>();
  #socket: Socket | undefined;
  #nextId = 1;

  constructor(options: ZtunnelServerOptions) {
    this.#options = options;
    this.#server = createServer((s) => this.#accept(s));
    this.#server.on('error', (err) =>
      options.logger.error('ztunnel socket server error', { error: err.message }),
    );
  }

  async listen(): Promise<void> {
    await unlink(this.#options.path).catch(() => {});
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.path, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.#options.path, 0o600).catch(() => {});
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  add(pod: PodRef, netns: string): Promise<void> {
    return this.#send({ type: 'add', id: this.#id(), pod, netns });
  }

  remove(pod: PodRef): Promise<void> {
    return this.#send({ type: 'remove', id: this.#id(), pod });
  }

  async close(): Promise<void> {
    this.#socket?.destroy();
    this.#failAll('node agent shutting down');
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await unlink(this.#options.path).catch(() => {});
  }

  #id(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.#nextId + 1;
    return id;
  }

  #send(message: AgentMessage): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.reject(new ZtunnelError('ztunnel is not connected to the node agent', true));
    const timeoutMs = this.#options.ackTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(message.id);
        reject(new ZtunnelError(`ztunnel did not acknowledge ${message.type} within ${timeoutMs} ms`, true));
      }, timeoutMs);
      this.#pending.set(message.id, { resolve, reject, timer });
      socket.write(encodeMessage(message));
    });
  }

  #failAll(reason: string): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new ZtunnelError(reason, true));
      this.#pending.delete(id);
    }
  }

  #accept(socket: Socket): void {
    const { logger } = this.#options;
    socket.on('error', (err) => logger.debug('ztunnel connection error', { error: err.message }));
    const previous = this.#socket;
    if (previous) {
      logger.info('a new ztunnel connection replaces the previous one');
      this.#failAll('ztunnel reconnected');
      previous.destroy();
    }
    this.#socket = socket;
    this.#options.onConnection?.(true);
    const splitter = new LineSplitter();
    socket.on('data', (chunk: Buffer) => {
      for (const event of splitter.push(chunk)) {
        if ('oversized' in event) {
          this.#refused('oversized line from ztunnel');
          continue;
        }
        if (event.line.trim() === '') continue;
        const decoded = decodeZtunnelMessage(event.line);
        if (!decoded.ok) {
          this.#refused(decoded.error);
          continue;
        }
        const ack = decoded.value;
        const pending = this.#pending.get(ack.id);
        if (!pending) {
          // Acks of the replay land here: nobody waits for them, errors are logged.
          if (ack.error !== undefined)
            logger.warn('ztunnel refused a replayed message', { id: ack.id, error: ack.error });
          continue;
        }
        this.#pending.delete(ack.id);
        clearTimeout(pending.timer);
        if (ack.error === undefined) pending.resolve();
        else pending.reject(new ZtunnelError(`ztunnel: ${ack.error}`, false));
      }
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#failAll('ztunnel disconnected');
      logger.warn('ztunnel disconnected');
      this.#options.onConnection?.(false);
    });
    const pods = this.#options.snapshot();
    logger.info('ztunnel connected; replaying enrolled pods', { pods: pods.length });
    let text = '';
    for (const p of pods) text += encodeMessage({ type: 'add', id: this.#id(), pod: p.pod, netns: p.netns });
    text += encodeMessage({ type: 'snapshot-done', id: this.#id() });
    socket.write(text);
  }

  #refused(reason: string): void {
    this.#options.logger.warn('refused a message from ztunnel', { reason });
    this.#options.onRefused?.(reason);
  }
}
