// Socket helpers for tests that drive a ztunnel from outside: a SOCKS5 CONNECT client that binds
// the caller's pod IP, a TCP echo server, and readers with deadlines.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Socks5ConnectOptions {
  /** The ztunnel's SOCKS5 listener. */
  readonly proxy: { readonly ip: string; readonly port: number };
  /** Source address to bind (the calling workload's pod IP). */
  readonly localAddress?: string;
  readonly target:
    | { readonly ip: string; readonly port: number }
    | { readonly hostname: string; readonly port: number };
  readonly timeoutMs?: number;
}

export type Socks5ConnectResult =
  | { readonly ok: true; readonly socket: Socket }
  | { readonly ok: false; readonly reply: number | undefined; readonly error?: string };

function requestBytes(target: Socks5ConnectOptions['target']): Buffer {
  const port = Buffer.from([target.port >> 8, target.port & 0xff]);
  if ('hostname' in target) {
    const name = Buffer.from(target.hostname, 'latin1');
    return Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, port]);
  }
  if (target.ip.includes(':')) {
    const halves = target.ip.split('::');
    const head = (halves[0] ?? '').split(':').filter((s) => s !== '');
    const tail = halves.length > 1 ? (halves[1] ?? '').split(':').filter((s) => s !== '') : [];
    const words = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
    const addr = Buffer.alloc(16);
    for (const [i, w] of words.entries()) addr.writeUInt16BE(Number.parseInt(w, 16), i * 2);
    return Buffer.concat([Buffer.from([5, 1, 0, 4]), addr, port]);
  }
  return Buffer.concat([Buffer.from([5, 1, 0, 1, ...target.ip.split('.').map(Number)]), port]);
}

/** Opens a SOCKS5 CONNECT tunnel; resolves with the socket once the proxy replied success. */
export function socks5Connect(options: Socks5ConnectOptions): Promise<Socks5ConnectResult> {
  return new Promise((resolve) => {
    const socket = connect({
      host: options.proxy.ip,
      port: options.proxy.port,
      allowHalfOpen: true,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    let buf = Buffer.alloc(0);
    let phase: 'method' | 'reply' = 'method';
    let done = false;
    const finish = (r: Socks5ConnectResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, reply: undefined, error: 'timeout' }),
      options.timeoutMs ?? 5000,
    );
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (phase === 'method') {
        if (buf.length < 2) return;
        if (buf[1] !== 0) {
          finish({ ok: false, reply: undefined, error: `method ${buf[1]}` });
          return;
        }
        buf = buf.subarray(2);
        phase = 'reply';
        socket.write(requestBytes(options.target));
      }
      if (buf.length < 5) return;
      const atyp = buf[3];
      const len = atyp === 1 ? 10 : atyp === 4 ? 22 : 7 + (buf[4] ?? 0);
      if (buf.length < len) return;
      const code = buf[1] as number;
      const rest = buf.subarray(len);
      if (code !== 0) {
        finish({ ok: false, reply: code });
        return;
      }
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      finish({ ok: true, socket });
    };
    socket.on('data', onData);
    socket.on('error', (e) => finish({ ok: false, reply: undefined, error: e.message }));
    socket.on('close', () => finish({ ok: false, reply: undefined, error: 'closed' }));
    socket.write(Buffer.from([5, 1, 0]));
  });
}

/** Writes `data` and reads until `expected` bytes came back (or the socket ended / timed out). */
export function roundTrip(socket: Socket, data: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`roundTrip: got ${JSON.stringify(got)} before the timeout`));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      got += c.toString('utf8');
      if (got.length >= data.length) {
        cleanup();
        resolve(got);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(got);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
    socket.write(data);
  });
}

/** What the peer sent (latin1) before it closed or ended its side (`closed: false` on timeout). */
export function readUntilClose(socket: Socket, timeoutMs = 5000): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    let data = '';
    const timer = setTimeout(() => resolve({ data, closed: false }), timeoutMs);
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    socket.on('error', () => {});
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closed: true });
    };
    socket.once('end', done);
    socket.once('close', done);
    socket.resume();
  });
}

export interface EchoServer {
  readonly server: Server;
  readonly connections: number;
  close(): Promise<void>;
}

/** A TCP echo server (half-close aware) on `ip:port`. */
export function startTcpEcho(ip: string, port: number): Promise<EchoServer> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () =>
      resolve({
        server,
        get connections() {
          return connections;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

/** Plain TCP connect from `localAddress`; resolves once connected (or with the error). */
export function tcpConnect(
  ip: string,
  port: number,
  localAddress?: string,
): Promise<{ ok: true; socket: Socket } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = connect({
      host: ip,
      port,
      allowHalfOpen: true,
      ...(localAddress ? { localAddress } : {}),
    });
    socket.once('connect', () => resolve({ ok: true, socket }));
    socket.once('error', (e) => resolve({ ok: false, error: e.message }));
  });
}

/** GET over HTTP/1.1 with a deadline: status and body. */
export async function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}
