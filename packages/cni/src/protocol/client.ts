// ztunnel's side of the node agent protocol: connect to the agent's unix socket, hand every
// agent message to a handler one at a time, in order, and acknowledge it (with the handler's
// error when it throws). Reconnects with capped exponential backoff while not closed.

import { connect, type Socket } from 'node:net';
import { LineSplitter } from './lines.ts';
import { type AgentMessage, decodeAgentMessage, encodeMessage } from './messages.ts';

/** The logger subset this module uses; `@weft/telemetry`'s Logger satisfies it. */
export interface ProtocolLogger {
  debug(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface Backoff {
  /** First retry delay in ms (default 100). */
  readonly initialMs?: number;
  /** Longest retry delay in ms (default 5000). */
  readonly maxMs?: number;
  /** Random extra delay as a fraction of the delay, 0..1 (default 0.2). */
  readonly jitter?: number;
}

export type AgentMessageHandler = (message: AgentMessage) => Promise<void>;

export interface ConnectNodeAgentOptions {
  readonly logger?: ProtocolLogger;
  readonly backoff?: Backoff;
  /** Called with true when a connection opens and false when it closes. */
  readonly onConnection?: (connected: boolean) => void;
}

export interface NodeAgentClient {
  /** True while a connection to the agent is open. */
  readonly connected: boolean;
  /** Stops reconnecting and closes the current connection. */
  close(): Promise<void>;
}

const quiet: ProtocolLogger = { debug() {}, info() {}, warn() {} };

export function connectNodeAgent(
  path: string,
  handler: AgentMessageHandler,
  options: ConnectNodeAgentOptions = {},
): NodeAgentClient {
  const logger = options.logger ?? quiet;
  const initialMs = options.backoff?.initialMs ?? 100;
  const maxMs = options.backoff?.maxMs ?? 5000;
  const jitter = options.backoff?.jitter ?? 0.2;
  let delay = initialMs;
  let closed = false;
  let socket: Socket | undefined;
  let connected = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closedSignal: (() => void) | undefined;

  const schedule = (): void => {
    if (closed) return;
    const wait = Math.min(delay, maxMs) * (1 + Math.random() * jitter);
    delay = Math.min(delay * 2, maxMs);
    timer = setTimeout(open, wait);
    timer.unref?.();
  };

  function open(): void {
    timer = undefined;
    if (closed) return;
    const s = connect({ path });
    socket = s;
    const splitter = new LineSplitter();
    let chain: Promise<void> = Promise.resolve();
    const send = (text: string): void => {
      if (!s.destroyed && s.writable) s.write(text);
    };
    s.on('error', (err: NodeJS.ErrnoException) => {
      logger.debug('node agent connection error', { path, code: err.code ?? err.message });
    });
    s.on('connect', () => {
      connected = true;
      delay = initialMs;
      logger.info('connected to node agent', { path });
      options.onConnection?.(true);
    });
    s.on('data', (chunk: Buffer) => {
      for (const event of splitter.push(chunk)) {
        if ('oversized' in event) {
          logger.warn('node agent sent an oversized line; skipped', { path });
          continue;
        }
        if (event.line.trim() === '') continue;
        const decoded = decodeAgentMessage(event.line);
        if (!decoded.ok) {
          logger.warn('node agent sent a message we refuse', { path, reason: decoded.error });
          if (decoded.id !== undefined) {
            send(encodeMessage({ type: 'ack', id: decoded.id, error: `refused: ${decoded.error}` }));
          }
          continue;
        }
        const message = decoded.value;
        chain = chain.then(async () => {
          try {
            await handler(message);
            send(encodeMessage({ type: 'ack', id: message.id }));
          } catch (err) {
            const error = (err instanceof Error ? err.message : String(err)).slice(0, 4096) || 'failed';
            logger.warn('node agent message failed', { path, type: message.type, id: message.id, error });
            send(encodeMessage({ type: 'ack', id: message.id, error }));
          }
        });
      }
    });
    s.on('close', () => {
      if (socket === s) socket = undefined;
      if (connected) {
        connected = false;
        logger.info('disconnected from node agent', { path });
        options.onConnection?.(false);
      }
      if (closed) closedSignal?.();
      else schedule();
    });
  }

  open();
  return {
    get connected() {
      return connected;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const s = socket;
      if (!s) return Promise.resolve();
      return new Promise<void>((resolve) => {
        closedSignal = resolve;
        s.destroy();
      });
    },
  };
}
