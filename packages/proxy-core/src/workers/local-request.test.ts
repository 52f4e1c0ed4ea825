import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createHttpEndpoint, sendText } from '../admin/http.ts';
import { isLocalRequestSocket, localGet, parseResponse } from './local-request.ts';

describe('localGet', () => {
  it('reads an answer given later (an async route), marked as a local request', async () => {
    let local = false;
    const server = createServer((req, res) => {
      local = isLocalRequestSocket(req.socket);
      setTimeout(() => res.end('late answer\n'), 20);
    });
    expect(await localGet(server, '/x')).toMatchObject({ status: 200, body: 'late answer\n' });
    expect(local).toBe(true);
  });

  it('goes through an endpoint with its socket bounds, 404 included', async () => {
    const server = createHttpEndpoint({
      onBadRequest: () => {},
      routes: { '/ok': (_req, res) => sendText(res, 200, 'fine\n') },
    });
    expect(await localGet(server, '/ok')).toMatchObject({ status: 200, body: 'fine\n' });
    expect(await localGet(server, '/nope')).toMatchObject({ status: 404 });
  });

  it('gives up on a server that never answers', async () => {
    const server = createServer(() => {});
    await expect(localGet(server, '/x', 100)).rejects.toThrow('local GET /x: no answer within 100 ms');
  });
});

describe('parseResponse', () => {
  it.each([
    ['HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcdef', 200, 'abc'],
    [
      'HTTP/1.1 503 Unavailable\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      503,
      'abcde',
    ],
    ['HTTP/1.0 200 OK\r\n\r\nuntil close', 200, 'until close'],
  ])('%j', (raw, status, body) => {
    expect(parseResponse(Buffer.from(raw))).toMatchObject({ status, body });
  });
  it.each(['', 'HTTP/1.1 200 OK\r\n', 'SMTP 220 hi\r\n\r\n'])('refuses %j', (raw) => {
    expect(() => parseResponse(Buffer.from(raw))).toThrow(/local GET/);
  });
});
