// The HTTP/1.1 upstream client against scripted raw upstreams.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBodyText } from '../http/body.ts';
import { Cancellation } from '../runtime.ts';
import { createTcpUpstreamConnector, type UpstreamEndpoint } from './connector.ts';
import { createHttp1Client } from './h1-client.ts';
import type { UpstreamRequest } from './transport.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A raw server: `reply(requestText, socket)` answers each request head it receives. */
async function rawServer(
  reply: (head: string, s: Socket, n: number) => void,
): Promise<{ ep: UpstreamEndpoint; connections: () => number }> {
  let connections = 0;
  let n = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end = buf.indexOf('\r\n\r\n');
      while (end >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        reply(head, s, n++);
        end = buf.indexOf('\r\n\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  cleanups.push(() => server.close());
  return {
    ep: { ip: '127.0.0.1', port, address: `127.0.0.1:${port}`, workloadUid: undefined, identity: undefined },
    connections: () => connections,
  };
}

const get = (path = '/'): UpstreamRequest => ({
  method: 'GET',
  path,
  authority: 'svc',
  headers: { 'x-a': 'b' },
  body: { kind: 'empty' },
});

function client(errors: string[] = []) {
  const c = createHttp1Client({
    connector: createTcpUpstreamConnector(),
    onProtocolError: (r) => errors.push(r),
  });
  cleanups.push(() => c.close());
  return c;
}

const send = (c: ReturnType<typeof client>, ep: UpstreamEndpoint, req = get()) =>
  c.send(ep, req, { cancel: new Cancellation(), connectTimeoutMs: 1000 });

describe('h1 client', () => {
  it('reuses a keep-alive connection and sends a well-formed head', async () => {
    const heads: string[] = [];
    const s = await rawServer((head, sock) => {
      heads.push(head);
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const c = client();
    for (let i = 0; i < 3; i++) {
      const r = await send(c, s.ep);
      expect(r.ok && r.response.status).toBe(200);
      if (r.ok) expect(await readBodyText(r.response.body)).toBe('ok');
    }
    expect(s.connections()).toBe(1);
    expect(heads[0]).toBe('GET / HTTP/1.1\r\nhost: svc\r\nx-a: b');
  });

  it('streams a chunked body with trailers', async () => {
    const s = await rawServer((_h, sock) => {
      sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n3\r\nabc');
      setTimeout(() => sock.write('\r\n2\r\nde\r\n0\r\nx-sum: 5\r\n\r\n'), 20);
    });
    const r = await send(client(), s.ep);
    expect(r.ok).toBe(true);
    if (!r.ok || r.response.body.kind !== 'stream') throw new Error('expected a stream');
    expect(r.response.headers['transfer-encoding']).toBeUndefined();
    expect(await readBodyText(r.response.body)).toBe('abcde');
    expect(r.response.body.trailers()).toEqual({ 'x-sum': '5' });
  });

  it('reads a close-delimited body and does not reuse the connection', async () => {
    const s = await rawServer((_h, sock) => {
      sock.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
    });
    const c = client();
    const r = await send(c, s.ep);
    if (!r.ok) throw new Error(r.detail);
    expect(await readBodyText(r.response.body)).toBe('until close');
    await send(c, s.ep);
    expect(s.connections()).toBe(2);
  });

  it('skips 100 Continue and reads the final response', async () => {
    const s = await rawServer((_h, sock) => {
      sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
    });
    const r = await send(client(), s.ep);
    expect(r.ok && r.response.status).toBe(201);
  });

  it.each([
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'],
    [
      'Content-Length with Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    ],
    ['garbage status line', 'HTTP/1.1 OK 200\r\n\r\n'],
    [
      'a smuggled second response after the body',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    ],
  ])('refuses %s as a protocol error (counted)', async (_n, answer) => {
    const s = await rawServer((_h, sock) => {
      sock.write(answer);
    });
    const errors: string[] = [];
    const r = await send(client(errors), s.ep);
    expect(r).toMatchObject({ ok: false, failure: 'protocol-error' });
    expect(errors).toHaveLength(1);
  });

  it('an idle connection the upstream closed is retried once on a fresh one', async () => {
    const s = await rawServer((_h, sock, n) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      if (n === 0) setTimeout(() => sock.destroy(), 10);
    });
    const c = client();
    expect((await send(c, s.ep)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect((await send(c, s.ep)).ok).toBe(true);
  });

  it('a reset before the response is a reset failure', async () => {
    const s = await rawServer((_h, sock) => sock.destroy());
    expect(await send(client(), s.ep)).toMatchObject({ ok: false, failure: 'reset' });
  });

  it('cancellation while waiting aborts the attempt', async () => {
    const s = await rawServer(() => {});
    const cancel = new Cancellation();
    const p = client().send(s.ep, get(), { cancel, connectTimeoutMs: 1000 });
    setTimeout(() => cancel.abort('test'), 20);
    expect(await p).toMatchObject({ ok: false, failure: 'aborted' });
  });

  it('sends a streaming body of unknown length chunked', async () => {
    let got = '';
    const server: Server = createServer((sock) => {
      sock.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.endsWith('0\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const port = (server.address() as { port: number }).port;
    const { Readable } = await import('node:stream');
    const stream = Readable.from([Buffer.from('ab'), Buffer.from('cde')]);
    const r = await client().send(
      { ip: '127.0.0.1', port, address: `127.0.0.1:${port}`, workloadUid: undefined, identity: undefined },
      {
        method: 'POST',
        path: '/u',
        authority: 'svc',
        headers: {},
        body: { kind: 'stream', stream, length: undefined, trailers: () => undefined },
      },
      { cancel: new Cancellation(), connectTimeoutMs: 1000 },
    );
    expect(r.ok).toBe(true);
    expect(got).toContain('transfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n');
  });
});

describe('h1 client limits', () => {
  it('closes a connection after maxRequestsPerConnection', async () => {
    const s = await rawServer((_h, sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    const c = client();
    for (let i = 0; i < 4; i++) {
      const r = await c.send(s.ep, get(), {
        cancel: new Cancellation(),
        connectTimeoutMs: 1000,
        maxRequestsPerConnection: 2,
      });
      expect(r.ok).toBe(true);
    }
    expect(s.connections()).toBe(2);
  });
});
