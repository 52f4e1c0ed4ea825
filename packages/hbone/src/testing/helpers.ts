import { createServer, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { SocketAddress } from '../address.ts';
import type { Authorizer } from '../server/types.ts';

export interface EchoServer {
  readonly address: SocketAddress;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Sockets currently open, e.g. to pause or reset them from a test. */
  readonly sockets: ReadonlySet<Socket>;
  close(): Promise<void>;
}

/**
 * A TCP echo server on 127.0.0.1 that keeps TCP semantics: it echoes bytes, answers a FIN with a
 * FIN after echoing everything, and never closes first.
 */
export async function startEchoServer(): Promise<EchoServer> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('echo server has no TCP address');
  return {
    address: { ip: '127.0.0.1', port: addr.port },
    get accepted() {
      return accepted;
    },
    sockets,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export const allowAll: Authorizer = () => ({ allow: true });
export const denyAll: Authorizer = () => ({ allow: false, reason: 'denied by test policy' });

/** Reads a stream to its end. Rejects if it closes without ending (a reset). */
export function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    stream.once('close', () => {
      if (!stream.readableEnded) reject(new Error('stream closed without end (reset)'));
    });
  });
}

/** Polls `check` until it returns true (tests never sleep a fixed time to assert). */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
