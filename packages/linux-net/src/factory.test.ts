// createNetnsSocketFactory: listeners and upstream connections inside a namespace, as a
// SocketFactory. Needs root (skipped with one line saying why otherwise).
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNetnsSocketFactory,
  getMark,
  LinuxNetError,
  type NetnsSocketFactory,
  socketFd,
} from './index.ts';
import {
  createNetns,
  deleteAllNetns,
  echoTagged,
  exchange,
  isBun,
  type Netns,
  openFdCount,
  rootSkipReason,
  skipLine,
} from './test-support/netns.ts';

const rootWhy = rootSkipReason();
const skipped = skipLine(rootWhy);
if (skipped) console.log(skipped);

async function rejection(p: Promise<unknown>): Promise<LinuxNetError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LinuxNetError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function closed(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function gone(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
    socket.destroy();
  });
}

describe.skipIf(rootWhy !== undefined)('createNetnsSocketFactory (root)', () => {
  let ns: Netns;
  let factory: NetnsSocketFactory;
  const servers: Server[] = [];

  beforeAll(() => {
    ns = createNetns();
    ns.exec('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'DROP']);
    factory = createNetnsSocketFactory(ns.path, { mark: 0x77 });
  });
  afterAll(() => {
    for (const s of servers) s.close();
    deleteAllNetns();
  });

  for (const ip of ['127.0.0.1', '::1']) {
    it(`listen and connect inside the namespace exchange bytes with half-close (${ip})`, async () => {
      const server = await factory.listen({ ip, port: 0 });
      servers.push(server);
      server.on('connection', echoTagged('srv'));
      const socket = await factory.connect({ ip, port: portOf(server) });
      expect(socket.remotePort).toBe(portOf(server));
      // the client half-closes first; the server still answers on its half
      expect(await exchange(socket, 'ping')).toBe('srv:ping');
    });
  }

  it.skipIf(!isBun)(
    'on Bun, an http.Server is refused (it would ignore the fd and listen on the host)',
    async () => {
      const before = openFdCount();
      const err = await rejection(
        factory.listen({ ip: '127.0.0.1', port: 0 }, { server: createHttpServer() }),
      );
      expect(err).toMatchObject({ code: 'ENOTSUP' });
      expect(err.message).toContain('Bun');
      expect(openFdCount()).toBe(before);
    },
  );

  it.skipIf(isBun)('binds a given server object (an http.Server) inside the namespace', async () => {
    const http = createHttpServer((_req, res) => res.end('from the namespace'));
    const server = await factory.listen({ ip: '127.0.0.1', port: 0 }, { server: http, backlog: 16 });
    servers.push(server);
    expect(server).toBe(http);
    const socket = await factory.connect({ ip: '127.0.0.1', port: portOf(server) });
    const reply = await exchange(socket, 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(reply).toContain('from the namespace');
  });

  it('a server that listens elsewhere than on the given fd is refused, and the fd closed', async () => {
    // what a runtime ignoring listen({ fd }) does: a fresh listener in the current namespace
    class Elsewhere extends Server {
      override listen(...args: unknown[]): this {
        const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
        return super.listen(0, '127.0.0.1', cb);
      }
    }
    const before = openFdCount();
    const server = new Elsewhere();
    const err = await rejection(factory.listen({ ip: '127.0.0.1', port: 0 }, { server }));
    expect(err).toMatchObject({ code: 'ENOTSUP' });
    expect(err.message).toContain('did not adopt');
    expect(server.listening).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(openFdCount()).toBe(before);
  });

  it("the factory's mark is set on the sockets it opens", async () => {
    const server = await factory.listen({ ip: '127.0.0.1', port: 0 });
    servers.push(server);
    const socket = await factory.connect({ ip: '127.0.0.1', port: portOf(server) });
    const fd = socketFd(socket);
    // Bun hides the fd of a socket it adopted through connect({ fd }); Node shows it
    if (!isBun) expect(fd).toBeTypeOf('number');
    if (fd !== undefined) expect(getMark(fd)).toEqual({ ok: true, value: 0x77 });
    await gone(socket);
  });

  it('errors reject with LinuxNetError whose code is the errno', async () => {
    const missing = createNetnsSocketFactory('/run/netns/weft-lnt-missing');
    expect(await rejection(missing.listen({ ip: '127.0.0.1', port: 0 }))).toMatchObject({ code: 'ENOENT' });
    expect(await rejection(missing.connect({ ip: '127.0.0.1', port: 80 }))).toMatchObject({
      code: 'ENOENT',
    });
    expect(await rejection(factory.listen({ ip: '127.0.0.1', port: 70000 }))).toMatchObject({
      code: 'EINVAL',
    });
    const server = await factory.listen({ ip: '127.0.0.1', port: 0 });
    servers.push(server);
    expect(await rejection(factory.listen({ ip: '127.0.0.1', port: portOf(server) }))).toMatchObject({
      code: 'EADDRINUSE',
    });
    expect(await rejection(factory.connect({ ip: '127.0.0.1', port: 1 }))).toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(await rejection(factory.connect({ ip: '127.0.0.1', port: 9 }, { timeoutMs: 200 }))).toMatchObject({
      code: 'ETIMEDOUT',
    });
    const err = await rejection(factory.connect({ ip: '127.0.0.1', port: 1 }));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('127.0.0.1:1');
  });

  it('an abort rejects at once, and a connect that completes later has its fd closed', async () => {
    const pre = new AbortController();
    pre.abort();
    expect(
      await rejection(factory.connect({ ip: '127.0.0.1', port: 1 }, { signal: pre.signal })),
    ).toMatchObject({ code: 'ABORT_ERR' });

    const server = await factory.listen({ ip: '127.0.0.1', port: 0 });
    servers.push(server);
    const accepted: Socket[] = [];
    server.on('connection', (s: Socket) => accepted.push(s));
    const before = openFdCount();
    const ac = new AbortController();
    const pending = factory.connect({ ip: '127.0.0.1', port: portOf(server) }, { signal: ac.signal });
    ac.abort();
    expect(await rejection(pending)).toMatchObject({ code: 'ABORT_ERR' });
    // the connect itself completes on the pool thread; its fd must be closed when it arrives
    for (let i = 0; i < 50 && accepted.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(accepted).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 50));
    for (const s of accepted) await gone(s);
    expect(openFdCount()).toBe(before);

    const slow = new AbortController();
    const started = Date.now();
    const hanging = factory.connect({ ip: '127.0.0.1', port: 9 }, { signal: slow.signal, timeoutMs: 1000 });
    setTimeout(() => slow.abort(), 50);
    expect(await rejection(hanging)).toMatchObject({ code: 'ABORT_ERR' });
    expect(Date.now() - started).toBeLessThan(800);
  });

  it('servers and sockets release their fds when closed (50 rounds)', async () => {
    const before = openFdCount();
    for (let i = 0; i < 50; i++) {
      const server = await factory.listen({ ip: '127.0.0.1', port: 0 });
      const accepted: Socket[] = [];
      server.on('connection', (s: Socket) => {
        s.on('error', () => {});
        accepted.push(s);
      });
      const socket = await factory.connect({ ip: '127.0.0.1', port: portOf(server) });
      await gone(socket);
      for (let j = 0; j < 50 && accepted.length === 0; j++) await new Promise((r) => setTimeout(r, 5));
      for (const s of accepted) await gone(s);
      await closed(server);
    }
    expect(openFdCount()).toBe(before);
  });
});
