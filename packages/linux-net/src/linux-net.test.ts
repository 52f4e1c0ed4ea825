// The addon against the real kernel: sockets inside throwaway network namespaces, SO_ORIGINAL_DST
// after an iptables REDIRECT (IPv4 and IPv6), SO_MARK and a mark rule that skips redirection,
// errors as values, and no fd leaks on error paths. The namespace tests need root; without it (or
// without the addon) they are skipped with one line saying why.
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  available,
  connectInNetns,
  getMark,
  listenInNetns,
  type NetResult,
  originalDst,
  originalDstOf,
  setMark,
  unavailableReason,
} from './index.ts';
import {
  createNetns,
  deleteAllNetns,
  echoTagged,
  exchange,
  type Netns,
  openFdCount,
  rootSkipReason,
  serveFd,
  skipLine,
  socketOnFd,
} from './test-support/netns.ts';

const noAddon = !available();
const rootWhy = rootSkipReason();
const skipped = skipLine(rootWhy);
if (skipped) console.log(skipped);

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  deleteAllNetns();
});

function value<T>(r: NetResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.errno}: ${r.message}`);
  return r.value;
}

async function serve(fd: number, handler: Parameters<typeof serveFd>[1]): Promise<number> {
  const { server, port } = await serveFd(fd, handler);
  servers.push(server);
  return port;
}

describe.skipIf(noAddon)('errors are values (no root needed)', () => {
  it('a nonexistent netns path is ENOENT naming the path', async () => {
    const l = listenInNetns('/run/netns/weft-lnt-does-not-exist', { host: '127.0.0.1', port: 0 });
    expect(l).toMatchObject({ ok: false, errno: 'ENOENT', code: 2 });
    if (!l.ok) expect(l.message).toContain('/run/netns/weft-lnt-does-not-exist');
    const c = await connectInNetns('/run/netns/weft-lnt-does-not-exist', { host: '127.0.0.1', port: 80 });
    expect(c).toMatchObject({ ok: false, errno: 'ENOENT' });
  });

  it('bad arguments are EINVAL values, not exceptions', async () => {
    expect(listenInNetns(undefined, { host: '127.0.0.1', port: 65536 })).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
    expect(listenInNetns(undefined, { host: '127.0.0.1', port: -1 })).toMatchObject({ errno: 'EINVAL' });
    expect(listenInNetns(undefined, { host: '127.0.0.1', port: 1.5 })).toMatchObject({ errno: 'EINVAL' });
    expect(listenInNetns(undefined, { host: 'localhost', port: 80 })).toMatchObject({ errno: 'EINVAL' });
    expect(listenInNetns('', { host: '127.0.0.1', port: 80 })).toMatchObject({ errno: 'EINVAL' });
    expect(listenInNetns('/x'.repeat(3000), { host: '127.0.0.1', port: 80 })).toMatchObject({
      errno: 'EINVAL',
    });
    expect(listenInNetns(undefined, { host: '127.0.0.1', port: 0, mark: 2 ** 32 })).toMatchObject({
      errno: 'EINVAL',
    });
    expect(await connectInNetns(undefined, { host: '127.0.0.1', port: 0 })).toMatchObject({
      errno: 'EINVAL',
    });
    expect(
      await connectInNetns(undefined, { host: '127.0.0.1', port: 80, localAddress: '::1' }),
    ).toMatchObject({ errno: 'EINVAL' });
    expect(await connectInNetns(undefined, { host: '127.0.0.1', port: 80, timeoutMs: 0 })).toMatchObject({
      errno: 'EINVAL',
    });
    expect(originalDst(-1)).toMatchObject({ errno: 'EINVAL' });
    expect(setMark(0.5, 1)).toMatchObject({ errno: 'EINVAL' });
  });

  it('the addon checks its arguments itself (EINVAL values for wrong types and ranges)', async () => {
    const raw = createRequire(import.meta.url)('../build/Release/linux_net.node') as Record<
      string,
      (...args: unknown[]) => unknown
    >;
    const einval = { ok: false, errno: 'EINVAL', code: 22 };
    expect(raw.listen?.(undefined, '127.0.0.1', 70000)).toMatchObject(einval);
    expect(raw.listen?.(undefined, 42, 80)).toMatchObject(einval);
    expect(raw.listen?.(7, '127.0.0.1', 80)).toMatchObject(einval);
    expect(raw.listen?.('a\0b', '127.0.0.1', 80)).toMatchObject(einval);
    expect(raw.listen?.('/x'.repeat(3000), '127.0.0.1', 80)).toMatchObject(einval);
    expect(raw.listen?.(undefined, 'not-an-ip', 80)).toMatchObject(einval);
    expect(raw.listen?.(undefined, '127.0.0.1', 0, 0)).toMatchObject(einval);
    expect(raw.listen?.(undefined, '127.0.0.1', 0, 10, 'yes')).toMatchObject(einval);
    expect(await raw.connect?.(undefined, '127.0.0.1', 0)).toMatchObject(einval);
    expect(await raw.connect?.(undefined, '127.0.0.1', 80, -1)).toMatchObject(einval);
    expect(await raw.connect?.(undefined, '127.0.0.1', 80, undefined, '::1')).toMatchObject(einval);
    expect(raw.originalDst?.('3')).toMatchObject(einval);
    expect(raw.setMark?.(0, 2 ** 32)).toMatchObject(einval);
    expect(raw.getMark?.()).toMatchObject(einval);
  });

  it('connecting to a closed port is ECONNREFUSED', async () => {
    const fd = value(listenInNetns(undefined, { host: '127.0.0.1', port: 0 }));
    const port = await serve(fd, () => {});
    const server = servers.pop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const r = await connectInNetns(undefined, { host: '127.0.0.1', port });
    expect(r).toMatchObject({ ok: false, errno: 'ECONNREFUSED', code: 111 });
    if (!r.ok) expect(r.message).toContain(`127.0.0.1:${port}`);
  });

  it('originalDst and getMark of something that is not a socket are errno values', () => {
    expect(originalDst(0)).toMatchObject({ ok: false });
    expect(originalDst(999_999)).toMatchObject({ ok: false, errno: 'EBADF' });
    expect(getMark(999_999)).toMatchObject({ ok: false, errno: 'EBADF' });
  });
});

describe.skipIf(rootWhy !== undefined)('inside network namespaces (root)', () => {
  let a: Netns;
  let b: Netns;
  beforeAll(() => {
    a = createNetns();
    b = createNetns();
  });

  it('listens inside a namespace; a connect from inside the same namespace exchanges bytes', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const fd = value(listenInNetns(a.path, { host, port: 0 }));
      // the socket really lives in A: A's socket table shows the listener
      const port = await serve(fd, echoTagged('a'));
      expect(a.exec('ss', ['-Htln', `sport = :${port}`])).toContain(`:${port}`);
      const cfd = value(await connectInNetns(a.path, { host, port }));
      expect(await exchange(socketOnFd(cfd), `hello over ${host}`)).toBe(`a:hello over ${host}`);
    }
  });

  it('a listener in namespace A is not reachable from the host namespace nor from namespace B', async () => {
    const fd = value(listenInNetns(a.path, { host: '127.0.0.1', port: 0 }));
    const port = await serve(fd, echoTagged('a'));
    expect(await connectInNetns(undefined, { host: '127.0.0.1', port, timeoutMs: 2000 })).toMatchObject({
      ok: false,
    });
    expect(await connectInNetns(b.path, { host: '127.0.0.1', port })).toMatchObject({
      ok: false,
      errno: 'ECONNREFUSED',
    });
    // and the JS thread never left its own namespace: a plain listener opened now is in the host one
    const host = createServer((s) => s.end());
    servers.push(host);
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const hostPort = (host.address() as AddressInfo).port;
    expect(await connectInNetns(a.path, { host: '127.0.0.1', port: hostPort })).toMatchObject({
      errno: 'ECONNREFUSED',
    });
    const ok = value(await connectInNetns(undefined, { host: '127.0.0.1', port: hostPort }));
    closeSync(ok);
  });

  it('concurrent connects into two namespaces each reach their own namespace (setns is per thread)', async () => {
    // the same address and port in A and B, each answering with its own tag
    const fdA = value(listenInNetns(a.path, { host: '127.0.0.1', port: 0 }));
    const port = await serve(fdA, echoTagged('A'));
    await serve(value(listenInNetns(b.path, { host: '127.0.0.1', port })), echoTagged('B'));
    const hostPortBefore = await connectInNetns(undefined, { host: '127.0.0.1', port });
    const targets = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? a : i % 3 === 1 ? b : undefined));
    const replies = await Promise.all(
      targets.map(async (ns, i) => {
        const r = await connectInNetns(ns?.path, { host: '127.0.0.1', port });
        if (!r.ok) return `${ns ? 'error' : 'host'}:${r.errno}`;
        return exchange(socketOnFd(r.value), String(i));
      }),
    );
    replies.forEach((reply, i) => {
      const ns = targets[i];
      if (ns === a) expect(reply).toBe(`A:${i}`);
      else if (ns === b) expect(reply).toBe(`B:${i}`);
      // the host namespace has no listener on that port (or an unrelated one): never A's or B's
      else expect(reply).not.toMatch(/^[AB]:/);
    });
    if (!hostPortBefore.ok)
      expect(replies.filter((_, i) => targets[i] === undefined)).toContain('host:ECONNREFUSED');
    else closeSync(hostPortBefore.value);
  });

  it('listens with SO_REUSEPORT when asked (two listeners on one port)', async () => {
    const first = value(listenInNetns(a.path, { host: '127.0.0.1', port: 0, reuseport: true }));
    const port = await serve(first, echoTagged('one'));
    const second = listenInNetns(a.path, { host: '127.0.0.1', port, reuseport: true });
    expect(second.ok).toBe(true);
    if (second.ok) closeSync(second.value);
    expect(listenInNetns(a.path, { host: '127.0.0.1', port })).toMatchObject({
      ok: false,
      errno: 'EADDRINUSE',
    });
  });

  it('setMark is visible through getMark; connectInNetns sets the mark before connecting', async () => {
    const fd = value(listenInNetns(a.path, { host: '127.0.0.1', port: 0, mark: 0x10 }));
    expect(value(getMark(fd))).toBe(0x10);
    expect(setMark(fd, 0xdead_beef)).toEqual({ ok: true, value: undefined });
    expect(value(getMark(fd))).toBe(0xdead_beef);
    const port = await serve(fd, echoTagged('m'));
    const cfd = value(await connectInNetns(a.path, { host: '127.0.0.1', port, mark: 0x539 }));
    expect(value(getMark(cfd))).toBe(0x539);
    closeSync(cfd);
  });

  it('connect timeout is ETIMEDOUT (SYNs dropped inside the namespace)', async () => {
    const t = createNetns();
    t.exec('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'DROP']);
    const started = Date.now();
    const r = await connectInNetns(t.path, { host: '127.0.0.1', port: 9, timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, errno: 'ETIMEDOUT', code: 110 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a path that is not a network namespace is EINVAL', async () => {
    expect(listenInNetns('/proc/self/ns/uts', { host: '127.0.0.1', port: 0 })).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
    expect(await connectInNetns('/etc/hostname', { host: '127.0.0.1', port: 80 })).toMatchObject({
      ok: false,
      errno: 'EINVAL',
    });
  });

  describe('originalDst after an iptables REDIRECT inside the namespace', () => {
    // The "pod" namespace: its own addresses on lo (10.99.0.2, fd00:99::2), an "app" listening on
    // port 80 there, and a capture rule sending TCP to port 80 to the proxy's port 15001 unless
    // the connection carries the proxy's mark (the RETURN rule comes first). REDIRECT of locally
    // generated traffic rewrites the destination to 127.0.0.1 / ::1, so the proxy listens there.
    const MARK = 0x539;
    const PROXY_PORT = 15001;
    let pod: Netns;
    const cases = [
      { family: 4 as const, podIp: '10.99.0.2', proxyIp: '127.0.0.1', tables: 'iptables' },
      { family: 6 as const, podIp: 'fd00:99::2', proxyIp: '::1', tables: 'ip6tables' },
    ];

    it('sets up the pod namespace', async () => {
      pod = createNetns(cases.map((c) => c.podIp));
      for (const c of cases) {
        const nat = ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', c.podIp, '--dport', '80'];
        pod.exec(c.tables, [...nat.slice(0, 4), '-m', 'mark', '--mark', String(MARK), '-j', 'RETURN']);
        pod.exec(c.tables, [...nat, '-j', 'REDIRECT', '--to-ports', String(PROXY_PORT)]);
        await serve(value(listenInNetns(pod.path, { host: c.podIp, port: 80 })), echoTagged('app'));
        await serve(
          value(listenInNetns(pod.path, { host: c.proxyIp, port: PROXY_PORT })),
          echoTagged('proxy', (socket) => {
            const dst = originalDstOf(socket);
            return dst.ok ? ` dst=${dst.value.ip} ${dst.value.port} v${dst.value.family}` : ` ${dst.errno}`;
          }),
        );
      }
    });

    for (const c of cases) {
      it(`IPv${c.family}: a redirected connection reports its original destination`, async () => {
        const fd = value(await connectInNetns(pod.path, { host: c.podIp, port: 80 }));
        expect(await exchange(socketOnFd(fd), 'x')).toBe(`proxy:x dst=${c.podIp} 80 v${c.family}`);
      });

      it(`IPv${c.family}: a connection with the proxy's mark skips redirection (RETURN rule)`, async () => {
        const fd = value(await connectInNetns(pod.path, { host: c.podIp, port: 80, mark: MARK }));
        expect(await exchange(socketOnFd(fd), 'y')).toBe('app:y');
      });

      it(`IPv${c.family}: originalDst of a connection that was not redirected is its own destination`, async () => {
        // conntrack tracks it anyway: the "original" destination is the real one
        const fd = value(await connectInNetns(pod.path, { host: c.proxyIp, port: PROXY_PORT }));
        expect(await exchange(socketOnFd(fd), 'z')).toBe(
          `proxy:z dst=${c.proxyIp} ${PROXY_PORT} v${c.family}`,
        );
      });
    }
  });

  it('200 failing calls leak no fd', async () => {
    const busy = value(listenInNetns(a.path, { host: '127.0.0.1', port: 0 }));
    const port = await serve(busy, () => {});
    // a closed port in A for ECONNREFUSED
    const closedFd = value(listenInNetns(a.path, { host: '127.0.0.1', port: 0 }));
    const { server: closed, port: closedPort } = await serveFd(closedFd, () => {});
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const before = openFdCount();
    const failures: NetResult<number>[] = [];
    for (let i = 0; i < 40; i++) {
      failures.push(listenInNetns('/run/netns/weft-lnt-nope', { host: '127.0.0.1', port: 0 })); // open
      failures.push(listenInNetns('/proc/self/ns/uts', { host: '127.0.0.1', port: 0 })); // setns
      failures.push(listenInNetns(a.path, { host: '127.0.0.1', port })); // bind, after socket()
      failures.push(await connectInNetns(a.path, { host: '127.0.0.1', port: closedPort })); // connect
      failures.push(
        await connectInNetns(a.path, { host: '127.0.0.1', port, localAddress: '10.1.2.3' }), // bind
      );
    }
    expect(failures).toHaveLength(200);
    expect(failures.every((f) => !f.ok)).toBe(true);
    expect(new Set(failures.map((f) => (f.ok ? 'ok' : f.errno)))).toEqual(
      new Set(['ENOENT', 'EINVAL', 'EADDRINUSE', 'ECONNREFUSED', 'EADDRNOTAVAIL']),
    );
    expect(openFdCount()).toBe(before);
  });
});

describe.skipIf(!noAddon)('without the addon', () => {
  it('reports why and returns ENOTSUP values', async () => {
    expect(unavailableReason()).toBeTruthy();
    expect(listenInNetns(undefined, { host: '127.0.0.1', port: 0 })).toMatchObject({ errno: 'ENOTSUP' });
    expect(await connectInNetns(undefined, { host: '127.0.0.1', port: 1 })).toMatchObject({
      errno: 'ENOTSUP',
    });
  });
});
