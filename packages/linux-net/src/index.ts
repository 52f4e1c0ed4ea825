// @weft/linux-net: the socket calls interception needs and Node does not offer: sockets created
// inside another network namespace (setns), the pre-NAT destination of a redirected connection
// (SO_ORIGINAL_DST) and packet marks (SO_MARK). A small N-API addon built from source at install
// time (native/linux_net.c); this module validates arguments, loads the addon and turns fds into
// net.Server / net.Socket objects.
//
// OS failures are values ({ ok: false, errno, code, message }), never exceptions: interception
// code decides per errno what to do (ENOENT: the pod is gone; ECONNREFUSED: nothing listens).
import { closeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP, Server, Socket } from 'node:net';

export type NetResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** The errno name, e.g. 'ENOENT'. */
      readonly errno: string;
      /** The errno number. */
      readonly code: number;
      /** Names the call and the path or address, e.g. 'open netns /run/netns/x: No such file...'. */
      readonly message: string;
    };

export interface ListenInNetnsOptions {
  /** A numeric IPv4 or IPv6 address (IPv6 listeners are IPV6_V6ONLY). */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 511. */
  readonly backlog?: number;
  /** Set SO_REUSEPORT (several listeners share the port). */
  readonly reuseport?: boolean;
  /** SO_MARK of the listening socket. */
  readonly mark?: number;
}

export interface ConnectInNetnsOptions {
  /** A numeric IPv4 or IPv6 address. */
  readonly host: string;
  readonly port: number;
  /** SO_MARK, set before the SYN leaves (e.g. so the proxy's own traffic skips redirection). */
  readonly mark?: number;
  /** Source address to bind (same family as host). */
  readonly localAddress?: string;
  /** Give up connecting after this long (ETIMEDOUT). Default 10 s. */
  readonly timeoutMs?: number;
}

export interface OriginalDst {
  readonly ip: string;
  readonly port: number;
  readonly family: 4 | 6;
}

// The shapes of @weft/proxy-core's SocketFactory, restated so this package depends on nothing.
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

export interface NetnsSocketFactory {
  /** Binds a listening server at `addr` inside the namespace; resolves once it listens. */
  listen<S extends Server = Server>(addr: SocketAddress, options?: ListenOptions<S>): Promise<S>;
  /** Opens a TCP connection from inside the namespace (half-close allowed, Nagle off). */
  connect(addr: SocketAddress, options?: ConnectOptions): Promise<Socket>;
}

export interface NetnsSocketFactoryOptions {
  /** SO_MARK for every socket the factory opens. */
  readonly mark?: number;
}

/** A failed NetResult as an Error, for promise-based callers; `code` is the errno name. */
export class LinuxNetError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(code: string, errno: number, message: string) {
    super(message);
    this.name = 'LinuxNetError';
    this.code = code;
    this.errno = errno;
  }
}

// ---- the addon ----------------------------------------------------------------------------

type RawResult<T> = NetResult<T>;

interface Addon {
  listen(
    netns: string | undefined,
    host: string,
    port: number,
    backlog: number | undefined,
    reuseport: boolean | undefined,
    mark: number | undefined,
  ): RawResult<number>;
  connect(
    netns: string | undefined,
    host: string,
    port: number,
    mark: number | undefined,
    localAddress: string | undefined,
    timeoutMs: number | undefined,
  ): Promise<RawResult<number>>;
  originalDst(fd: number): RawResult<OriginalDst>;
  setMark(fd: number, mark: number): RawResult<undefined>;
  getMark(fd: number): RawResult<number>;
  localAddress(fd: number): RawResult<OriginalDst>;
}

const ADDON_PATH = '../build/Release/linux_net.node';
// Written by scripts/build-addon.mjs when it could not build the addon.
const REASON_PATH = '../build/unavailable.txt';

function loadAddon(): { addon: Addon } | { reason: string } {
  if (process.platform !== 'linux') return { reason: `Linux only (this is ${process.platform})` };
  let recorded: string | undefined;
  try {
    recorded = readFileSync(new URL(REASON_PATH, import.meta.url), 'utf8').trim();
  } catch {
    recorded = undefined;
  }
  try {
    const require = createRequire(import.meta.url);
    return { addon: require(ADDON_PATH) as Addon };
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return {
      reason: recorded
        ? `addon not built: ${recorded}`
        : `cannot load the addon (run the package's build script): ${why}`,
    };
  }
}

const loaded = loadAddon();
const addon: Addon | undefined = 'addon' in loaded ? loaded.addon : undefined;
const reason: string | undefined = 'reason' in loaded ? loaded.reason : undefined;

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

const EINVAL = 22;
const ENOTSUP = 95;

function fail(errno: string, code: number, message: string): NetResult<never> {
  return { ok: false, errno, code, message };
}

function invalid(message: string): NetResult<never> {
  return fail('EINVAL', EINVAL, `${message}: Invalid argument`);
}

function unavailable(call: string): NetResult<never> {
  return fail('ENOTSUP', ENOTSUP, `${call}: @weft/linux-net is unavailable (${reason})`);
}

/** Whether the addon is loaded (Linux, built at install time). */
export function available(): boolean {
  return addon !== undefined;
}

/** Why the addon is not loaded; undefined when it is. */
export function unavailableReason(): string | undefined {
  return reason;
}

// ---- argument checks (the addon checks again) ----------------------------------------------

const PATH_MAX = 4096;
const MAX_MARK = 0xffff_ffff;

function checkNetns(netnsPath: string | undefined): string | undefined {
  if (netnsPath === undefined) return undefined;
  if (typeof netnsPath !== 'string' || netnsPath.length === 0) return 'netns path must be a non-empty string';
  if (netnsPath.includes('\0')) return 'netns path must not contain NUL characters';
  if (Buffer.byteLength(netnsPath) >= PATH_MAX) return `netns path is longer than ${PATH_MAX - 1} bytes`;
  return undefined;
}

function checkInt(name: string, v: unknown, min: number, max: number): string | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return `${name} must be an integer in [${min}, ${max}], got ${String(v)}`;
  }
  return undefined;
}

function checkIp(name: string, v: unknown): string | undefined {
  if (typeof v !== 'string' || isIP(v) === 0) {
    return `${name} must be a numeric IPv4 or IPv6 address, got ${JSON.stringify(v)}`;
  }
  return undefined;
}

function firstProblem(...problems: (string | undefined)[]): string | undefined {
  return problems.find((p) => p !== undefined);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---- the calls --------------------------------------------------------------------------------

/**
 * A listening TCP socket created inside the namespace at `netnsPath` (undefined: the current
 * one). Returns its fd, nonblocking and close-on-exec; the caller owns it.
 */
export function listenInNetns(netnsPath: string | undefined, opts: ListenInNetnsOptions): NetResult<number> {
  const problem = firstProblem(
    checkNetns(netnsPath),
    checkIp('host', opts.host),
    checkInt('port', opts.port, 0, 65535),
    opts.backlog === undefined ? undefined : checkInt('backlog', opts.backlog, 1, 65535),
    opts.reuseport === undefined || typeof opts.reuseport === 'boolean'
      ? undefined
      : 'reuseport must be a boolean',
    opts.mark === undefined ? undefined : checkInt('mark', opts.mark, 0, MAX_MARK),
  );
  if (problem) return invalid(`listen ${hostPort(String(opts.host), Number(opts.port))}: ${problem}`);
  if (!addon) return unavailable('listen');
  return addon.listen(netnsPath, opts.host, opts.port, opts.backlog, opts.reuseport, opts.mark);
}

/**
 * A TCP connection opened from inside the namespace at `netnsPath`. The connect runs on the libuv
 * thread pool (the JS thread never changes namespace); each pending connect holds one pool thread
 * until it completes or times out. Resolves to the connected fd, which the caller owns.
 */
export function connectInNetns(
  netnsPath: string | undefined,
  opts: ConnectInNetnsOptions,
): Promise<NetResult<number>> {
  const problem = firstProblem(
    checkNetns(netnsPath),
    checkIp('host', opts.host),
    checkInt('port', opts.port, 1, 65535),
    opts.mark === undefined ? undefined : checkInt('mark', opts.mark, 0, MAX_MARK),
    opts.localAddress === undefined ? undefined : checkIp('localAddress', opts.localAddress),
    opts.localAddress === undefined || isIP(opts.localAddress) === isIP(opts.host)
      ? undefined
      : 'localAddress and host must be of the same address family',
    opts.timeoutMs === undefined ? undefined : checkInt('timeoutMs', opts.timeoutMs, 1, 2 ** 31 - 1),
  );
  if (problem) {
    return Promise.resolve(invalid(`connect ${hostPort(String(opts.host), Number(opts.port))}: ${problem}`));
  }
  if (!addon) return Promise.resolve(unavailable('connect'));
  return addon.connect(netnsPath, opts.host, opts.port, opts.mark, opts.localAddress, opts.timeoutMs);
}

/**
 * The destination a connection had before an iptables REDIRECT/DNAT rewrote it: SO_ORIGINAL_DST
 * for IPv4 (also IPv4 accepted on a dual-stack socket), IP6T_SO_ORIGINAL_DST for IPv6. ENOENT when
 * conntrack has no entry for the connection.
 */
export function originalDst(fd: number): NetResult<OriginalDst> {
  const problem = checkInt('fd', fd, 0, 2 ** 31 - 1);
  if (problem) return invalid(`originalDst: ${problem}`);
  if (!addon) return unavailable('originalDst');
  return addon.originalDst(fd);
}

/** Sets SO_MARK (needs CAP_NET_ADMIN). */
export function setMark(fd: number, mark: number): NetResult<void> {
  const problem = firstProblem(checkInt('fd', fd, 0, 2 ** 31 - 1), checkInt('mark', mark, 0, MAX_MARK));
  if (problem) return invalid(`setMark: ${problem}`);
  if (!addon) return unavailable('setMark');
  return addon.setMark(fd, mark);
}

/** Reads SO_MARK. */
export function getMark(fd: number): NetResult<number> {
  const problem = checkInt('fd', fd, 0, 2 ** 31 - 1);
  if (problem) return invalid(`getMark: ${problem}`);
  if (!addon) return unavailable('getMark');
  return addon.getMark(fd);
}

/** The address a socket is bound to (getsockname). */
export function localAddress(fd: number): NetResult<OriginalDst> {
  const problem = checkInt('fd', fd, 0, 2 ** 31 - 1);
  if (problem) return invalid(`localAddress: ${problem}`);
  if (!addon) return unavailable('localAddress');
  return addon.localAddress(fd);
}

/**
 * The fd under a net.Socket: Node's socket._handle.fd (Bun exposes the same for the sockets its
 * net.Server accepts). undefined where the runtime hides it or the socket has no fd yet.
 */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** originalDst of a net.Socket (typically one a redirected listener accepted). */
export function originalDstOf(socket: Socket): NetResult<OriginalDst> {
  const fd = socketFd(socket);
  if (fd === undefined) {
    return fail('ENOTSUP', ENOTSUP, 'originalDst: this runtime does not expose the socket fd');
  }
  return originalDst(fd);
}

// ---- the socket factory -----------------------------------------------------------------------

function toError(r: NetResult<unknown>): LinuxNetError {
  if (r.ok) return new LinuxNetError('EIO', 5, 'unexpected success');
  return new LinuxNetError(r.errno, r.code, r.message);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing left to release
  }
}

// Wraps an fd that is already connected. Node: new Socket({ fd }). Bun ignores the fd option of
// the constructor (the socket comes out closed: 'Socket is closed' on the first write) but adopts
// an fd through connect({ fd }), so that is the path taken there.
function adoptConnectedFd(fd: number): Socket {
  if (isBun) {
    const socket = new Socket({ allowHalfOpen: true });
    return socket.connect({ fd } as unknown as { port: number });
  }
  return new Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
}

// Bun's node:http and node:https servers are not net.Servers there and ignore listen({ fd }): they
// open a new listener on a random port of every address in the current namespace. Refused before
// an fd is made. (Bun's net.Server, tls.Server and http2 servers do adopt the fd.)
function refuseServer(server: Server): LinuxNetError | undefined {
  // typed as net.Server, but not one at run time on Bun
  const candidate: unknown = server;
  if (!isBun || candidate instanceof Server) return undefined;
  const kind = (candidate as { constructor?: { name?: string } }).constructor?.name ?? 'server';
  return new LinuxNetError(
    'ENOTSUP',
    ENOTSUP,
    `listen: on Bun, a ${kind} ignores listen({ fd }) and would listen in the ` +
      'current namespace instead; only net.Server (and servers built on it) can listen inside a namespace',
  );
}

/**
 * A SocketFactory (structurally @weft/proxy-core's) whose listeners and upstream connections
 * live in the namespace at `netnsPath`. Errors reject with a LinuxNetError whose `code` is the
 * errno name.
 */
export function createNetnsSocketFactory(
  netnsPath: string | undefined,
  options: NetnsSocketFactoryOptions = {},
): NetnsSocketFactory {
  const mark = options.mark;
  return {
    listen<S extends Server = Server>(addr: SocketAddress, opts: ListenOptions<S> = {}): Promise<S> {
      if (opts.server?.listening) {
        return Promise.reject(new LinuxNetError('EINVAL', EINVAL, 'listen: the server already listens'));
      }
      const refusal = opts.server ? refuseServer(opts.server) : undefined;
      if (refusal) return Promise.reject(refusal);
      const r = listenInNetns(netnsPath, {
        host: addr.ip,
        port: addr.port,
        ...(opts.backlog !== undefined ? { backlog: opts.backlog } : {}),
        ...(mark !== undefined ? { mark } : {}),
      });
      if (!r.ok) return Promise.reject(toError(r));
      const fd = r.value;
      // noDelay: as in the local factory, relayed chunks must not wait for Nagle.
      const server =
        opts.server ?? (new Server({ allowHalfOpen: true, pauseOnConnect: false, noDelay: true }) as S);
      return new Promise<S>((resolve, reject) => {
        const onError = (err: Error) => {
          // The server took the fd when listen() was called; a failed listen closed its handle,
          // and with it the fd, so there is nothing of ours left to close.
          reject(err);
        };
        server.once('error', onError);
        server.listen({ fd, ...(opts.backlog !== undefined ? { backlog: opts.backlog } : {}) }, () => {
          server.off('error', onError);
          // A later accept error (EMFILE) must not crash the process.
          server.on('error', () => {});
          // Never hand out a server that listens somewhere else than our socket (a runtime that
          // ignores { fd } opens a fresh listener in the current namespace instead).
          const ours = addon?.localAddress(fd);
          const got = server.address();
          const theirs = typeof got === 'object' && got !== null ? got.port : undefined;
          if (ours?.ok && ours.value.port === theirs) {
            resolve(server);
            return;
          }
          server.close();
          closeQuietly(fd);
          reject(
            new LinuxNetError(
              'ENOTSUP',
              ENOTSUP,
              `listen ${hostPort(addr.ip, addr.port)}: the server did not adopt the namespace socket ` +
                `(it listens on port ${String(theirs)}); this runtime cannot listen on an fd with it`,
            ),
          );
        });
      });
    },

    async connect(addr: SocketAddress, opts: ConnectOptions = {}): Promise<Socket> {
      const signal = opts.signal;
      if (signal?.aborted) throw new LinuxNetError('ABORT_ERR', 0, 'connect aborted');
      const pending = connectInNetns(netnsPath, {
        host: addr.ip,
        port: addr.port,
        timeoutMs: opts.timeoutMs ?? 10_000,
        ...(mark !== undefined ? { mark } : {}),
        ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      });
      let r: NetResult<number>;
      if (signal) {
        // The pool thread cannot be interrupted: an abort rejects at once, and the fd of a
        // connect that completes afterwards is closed when it arrives.
        let onAbort: () => void = () => {};
        const aborted = new Promise<'aborted'>((resolve) => {
          onAbort = () => resolve('aborted');
          signal.addEventListener('abort', onAbort, { once: true });
        });
        const first = await Promise.race([pending, aborted]);
        signal.removeEventListener('abort', onAbort);
        if (first === 'aborted') {
          void pending.then((late) => {
            if (late.ok) closeQuietly(late.value);
          });
          throw new LinuxNetError('ABORT_ERR', 0, 'connect aborted');
        }
        r = first;
      } else {
        r = await pending;
      }
      if (!r.ok) throw toError(r);
      let socket: Socket;
      try {
        socket = adoptConnectedFd(r.value);
      } catch (err) {
        closeQuietly(r.value);
        throw err;
      }
      // Errors after connect surface to the owner as 'close' with hadError; they must not crash
      // the process when the owner has not added a listener yet.
      socket.on('error', () => {});
      socket.setNoDelay(true);
      return socket;
    },
  };
}
