import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSocks5Handshake, type Socks5HandshakeRefusal } from './socks5-handshake.ts';
import type { Socks5Request } from './socks5-protocol.ts';

interface Outcome {
  readonly refused: Socks5HandshakeRefusal[];
  readonly request: Socks5Request | undefined;
  readonly early: string;
  readonly ended: number;
  readonly reply: Buffer;
}

let server: Server;
let port = 0;
let next: ((s: Socket) => void) | undefined;

beforeAll(async () => {
  server = createServer((s) => next?.(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Sends `chunks` to a handshake reader; resolves when the reader settled and the client closed. */
function run(chunks: readonly Buffer[], timeoutMs = 2000): Promise<Outcome> {
  return new Promise((resolve) => {
    const refused: Socks5HandshakeRefusal[] = [];
    let request: Socks5Request | undefined;
    let early = '';
    let ended = 0;
    const got: Buffer[] = [];
    next = (s) => {
      s.on('error', () => {});
      readSocks5Handshake(s, {
        timeoutMs,
        refused: (r) => refused.push(r),
        ended: () => ended++,
        request: (r) => {
          request = r;
          s.on('data', (d: Buffer) => {
            early += d.toString();
          });
          s.resume();
          setTimeout(() => s.end(), 50);
        },
      });
    };
    const c = connect(port, '127.0.0.1', async () => {
      for (const chunk of chunks) {
        c.write(chunk);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    c.on('data', (d: Buffer) => got.push(d));
    c.on('error', () => {});
    c.on('close', () => resolve({ refused, request, early, ended, reply: Buffer.concat(got) }));
  });
}

const greeting = Buffer.from([5, 1, 0]);
const connect4 = Buffer.from([5, 1, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]);

describe('readSocks5Handshake', () => {
  it('reads greeting and CONNECT, split anyhow, and puts early payload back', async () => {
    const all = Buffer.concat([greeting, connect4, Buffer.from('GET /')]);
    const o = await run([all.subarray(0, 2), all.subarray(2, 6), all.subarray(6)]);
    expect(o.refused).toEqual([]);
    expect(o.request?.target).toMatchObject({ kind: 'address', port: 8080 });
    expect(JSON.stringify(o.request?.target)).toContain('10.0.0.1');
    expect(o.early).toBe('GET /');
    expect(o.ended).toBe(1);
    expect([...o.reply.subarray(0, 2)]).toEqual([5, 0]);
  });

  it.each<[string, Buffer[], Socks5HandshakeRefusal]>([
    ['a version 4 greeting', [Buffer.from([4, 1, 0])], 'socks5_bad_handshake'],
    ['no acceptable method', [Buffer.from([5, 1, 2])], 'socks5_no_acceptable_method'],
    ['BIND', [greeting, Buffer.from([5, 2, 0, 1, 10, 0, 0, 1, 0, 80])], 'socks5_command_not_supported'],
    [
      '255 methods, none acceptable',
      [Buffer.from([5, 255]), Buffer.alloc(300, 7)],
      'socks5_no_acceptable_method',
    ],
  ])('refuses %s, counted once, the handshake ended once', async (_name, chunks, reason) => {
    const o = await run(chunks);
    expect(o.refused).toEqual([reason]);
    expect(o.request).toBeUndefined();
    expect(o.ended).toBe(1);
  });

  it('times out a silent peer', async () => {
    const o = await run([Buffer.from([5])], 100);
    expect(o.refused).toEqual(['socks5_handshake_timeout']);
    expect(o.ended).toBe(1);
  });
});
