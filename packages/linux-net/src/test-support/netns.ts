// Throwaway network namespaces for the tests (root only), and the runtime switch for turning a
// connected fd into a net.Socket the way the package does.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Server, Socket } from 'node:net';
import { available, unavailableReason } from '../index.ts';

export const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

function hasCommand(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the namespace tests cannot run here, or undefined when they can. */
export function rootSkipReason(): string | undefined {
  if (!available()) return `the addon is unavailable: ${unavailableReason()}`;
  if (process.getuid?.() !== 0) return 'they need root (ip netns, setns, iptables)';
  if (!hasCommand('ip', ['-V'])) return 'they need the ip command (iproute2)';
  return undefined;
}

const ANNOUNCED = Symbol.for('weft.linux-net.test.skip-announced');

/**
 * The line saying why the namespace tests are skipped, once per process (Bun runs every file in
 * one process; vitest runs each file in its own); undefined when they run or it was said already.
 */
export function skipLine(why: string | undefined): string | undefined {
  const g = globalThis as { [ANNOUNCED]?: boolean };
  if (why === undefined || g[ANNOUNCED]) return undefined;
  g[ANNOUNCED] = true;
  return `@weft/linux-net: namespace tests skipped: ${why}`;
}

export function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

export interface Netns {
  readonly name: string;
  readonly path: string;
  /** Runs a command inside the namespace (ip netns exec). */
  exec(cmd: string, args: readonly string[]): string;
}

const created = new Set<string>();

/** A fresh namespace with lo up, plus the given extra addresses on lo. */
export function createNetns(loAddresses: readonly string[] = []): Netns {
  const name = `weft-lnt-${randomBytes(4).toString('hex')}`;
  run('ip', ['netns', 'add', name]);
  created.add(name);
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  for (const addr of loAddresses) {
    const v6 = addr.includes(':');
    run('ip', ['-n', name, 'addr', 'add', `${addr}/${v6 ? 128 : 32}`, 'dev', 'lo', ...(v6 ? ['nodad'] : [])]);
  }
  return {
    name,
    path: `/run/netns/${name}`,
    exec: (cmd, args) => run('ip', ['netns', 'exec', name, cmd, ...args]),
  };
}

/** Deletes every namespace createNetns made (afterAll; failures do not stop the others). */
export function deleteAllNetns(): void {
  for (const name of created) {
    try {
      run('ip', ['netns', 'del', name]);
    } catch {
      // already gone
    }
    created.delete(name);
  }
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A net.Server on a listening fd; resolves with the port once it listens. */
export function serveFd(
  fd: number,
  onConnection: (socket: Socket) => void,
): Promise<{ server: Server; port: number }> {
  const server = new Server({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    onConnection(socket);
  });
  server.on('error', () => {});
  return new Promise((resolve) => {
    server.listen({ fd }, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : -1 });
    });
  });
}

/** A net.Socket over a connected fd (Bun adopts fds through connect({ fd }), see index.ts). */
export function socketOnFd(fd: number): Socket {
  const socket = isBun
    ? new Socket({ allowHalfOpen: true }).connect({ fd } as unknown as { port: number })
    : new Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
  socket.on('error', () => {});
  return socket;
}

/** Writes `request`, half-closes, and collects everything the peer sends until it ends. */
export function exchange(socket: Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
    });
    socket.once('end', () => resolve(got));
    socket.once('error', reject);
    socket.end(request);
  });
}

/** A server that answers every connection with `${tag}:${what it read}` after the peer half-closes. */
export function echoTagged(tag: string, onSocket?: (socket: Socket) => string): (socket: Socket) => void {
  return (socket) => {
    let got = '';
    const extra = onSocket?.(socket) ?? '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
    });
    socket.on('end', () => socket.end(`${tag}:${got}${extra}`));
  };
}
