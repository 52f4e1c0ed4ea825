// The socket capability (STYLE.md point 7). Every listener and upstream socket of the proxy goes
// through a SocketFactory, so where sockets live is decided in one place: local mode binds
// loopback addresses in the host namespace; the netns mode (later, via @weft/linux-net) opens the
// same listeners inside each pod's network namespace and reads SO_ORIGINAL_DST.
import { connect as netConnect, Server, type Socket } from 'node:net';
import { normalizeIp } from '@weft/policy/runtime';

export interface SocketAddress {
  readonly ip: string;
  readonly port: number;
}

export interface ListenOptions<S extends Server> {
  /** Bind this server object (e.g. an http.Server) instead of a new net.Server. */
  readonly server?: S;
  readonly backlog?: number;
}

export interface ConnectOptions {
  /** Source address to bind. */
  readonly localAddress?: string;
  readonly signal?: AbortSignal;
  /** Give up connecting after this long. Default 10 s. */
  readonly timeoutMs?: number;
}

export interface SocketFactory {
  /** Binds a listening server at `addr`; resolves once it listens. */
  listen<S extends Server = Server>(addr: SocketAddress, options?: ListenOptions<S>): Promise<S>;
  /** Opens a TCP connection (half-close allowed, Nagle off); resolves once connected. */
  connect(addr: SocketAddress, options?: ConnectOptions): Promise<Socket>;
}

/** Whether an address is loopback (127.0.0.0/8 or ::1). */
export function isLoopback(ip: string): boolean {
  // @weft/policy's canonical form shows an IPv4-mapped address as IPv4.
  const n = normalizeIp(ip);
  return n !== undefined && (n.startsWith('127.') || n === '::1');
}

export class SocketFactoryError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SocketFactoryError';
    this.code = code;
  }
}

export interface LocalSocketFactoryOptions {
  /** Allow binding non-loopback addresses (debugging on a real interface). Default false. */
  readonly allowNonLoopback?: boolean;
}

/** Local mode: plain sockets in the host network namespace, listeners on loopback addresses. */
export function createLocalSocketFactory(options: LocalSocketFactoryOptions = {}): SocketFactory {
  return {
    listen<S extends Server = Server>(addr: SocketAddress, opts: ListenOptions<S> = {}): Promise<S> {
      if (!options.allowNonLoopback && !isLoopback(addr.ip)) {
        return Promise.reject(
          new SocketFactoryError(
            'EADDRNOTLOOPBACK',
            `local mode binds loopback addresses only, not ${addr.ip}`,
          ),
        );
      }
      // noDelay: the proxy relays each chunk as it arrives; a reply that reaches us in two pieces
      // (head, then body) must not have its second write held by Nagle until the app's delayed
      // ACK (~40 ms on Linux).
      const server =
        opts.server ?? (new Server({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }) as S);
      return new Promise<S>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(
          { host: addr.ip, port: addr.port, ...(opts.backlog ? { backlog: opts.backlog } : {}) },
          () => {
            server.off('error', onError);
            // A later accept error (EMFILE) must not crash the process.
            server.on('error', () => {});
            resolve(server);
          },
        );
      });
    },
    connect(addr: SocketAddress, opts: ConnectOptions = {}): Promise<Socket> {
      return new Promise<Socket>((resolve, reject) => {
        if (opts.signal?.aborted) {
          reject(new SocketFactoryError('ABORT_ERR', 'connect aborted'));
          return;
        }
        const socket = netConnect({
          host: addr.ip,
          port: addr.port,
          allowHalfOpen: true,
          noDelay: true,
          ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
        });
        let settled = false;
        const timer = setTimeout(() => {
          fail(new SocketFactoryError('ETIMEDOUT', `connect to ${addr.ip}:${addr.port} timed out`));
        }, opts.timeoutMs ?? 10_000);
        timer.unref?.();
        const onAbort = () => fail(new SocketFactoryError('ABORT_ERR', 'connect aborted'));
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        const cleanup = () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
        };
        function fail(err: Error) {
          if (settled) return;
          settled = true;
          cleanup();
          socket.destroy();
          reject(err);
        }
        socket.once('connect', () => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve(socket);
        });
        socket.on('error', (err) => fail(err));
      });
    },
  };
}

/**
 * Stops a server accepting (its address is free again at once). Open connections are the
 * caller's to end: net.Server's close callback would wait for every one of them.
 */
export function closeServer(server: Server): Promise<void> {
  if (server.listening) server.close();
  return Promise.resolve();
}
