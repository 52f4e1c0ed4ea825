import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, parseResponseHead } from './h1-parse.ts';

describe('parseResponseHead', () => {
  it.each([
    ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 5', 'GET', { kind: 'length', length: 5 }, true],
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked', 'GET', { kind: 'chunked' }, true],
    ['until close', 'HTTP/1.1 200 OK\r\nX: y', 'GET', { kind: 'close' }, false],
    ['HEAD has no body', 'HTTP/1.1 200 OK\r\nContent-Length: 5', 'HEAD', { kind: 'none' }, true],
    ['204', 'HTTP/1.1 204 No Content', 'GET', { kind: 'none' }, true],
    ['304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 9', 'GET', { kind: 'none' }, true],
    [
      'connection: close',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1',
      'GET',
      { kind: 'length', length: 1 },
      false,
    ],
    [
      'HTTP/1.0 without keep-alive',
      'HTTP/1.0 200 OK\r\nContent-Length: 1',
      'GET',
      { kind: 'length', length: 1 },
      false,
    ],
    [
      'HTTP/1.0 keep-alive',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1',
      'GET',
      { kind: 'length', length: 1 },
      true,
    ],
    [
      'repeated identical length',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3',
      'GET',
      { kind: 'length', length: 3 },
      true,
    ],
    ['no reason phrase', 'HTTP/1.1 200\r\nContent-Length: 0', 'GET', { kind: 'length', length: 0 }, true],
  ] as const)('%s', (_n, text, method, framing, keepAlive) => {
    const r = parseResponseHead(text, method);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.head.framing).toEqual(framing);
      expect(r.head.keepAlive).toBe(keepAlive);
    }
  });

  it.each([
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4'],
    ['length list', 'HTTP/1.1 200 OK\r\nContent-Length: 3, 3'],
    ['negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1'],
    ['TE with CL', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3'],
    ['TE gzip, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: a\r\n b'],
    ['space before colon', 'HTTP/1.1 200 OK\r\nX : a'],
    ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0'],
    ['NUL in value', 'HTTP/1.1 200 OK\r\nX: a\x00b'],
    ['bad status line', 'HTTP/1.1 2000 OK'],
    ['HTTP/2 status line', 'HTTP/2 200'],
    ['no name', 'HTTP/1.1 200 OK\r\n: x'],
  ])('refuses %s', (_n, text) => {
    expect(parseResponseHead(text, 'GET').ok).toBe(false);
  });

  it('keeps repeated headers as arrays', () => {
    const r = parseResponseHead(
      'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0',
      'GET',
    );
    expect(r.ok && r.head.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });
});

describe('ChunkedDecoder', () => {
  const decode = (parts: string[]) => {
    const d = new ChunkedDecoder();
    let out = '';
    let used = 0;
    for (const p of parts) {
      used = d.push(Buffer.from(p, 'latin1'), (b) => {
        out += b.toString('latin1');
      });
      if (used < 0) break;
    }
    return { d, out, used };
  };

  it('decodes across arbitrary splits, with extensions and trailers', () => {
    const whole = '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n';
    for (let cut = 1; cut < whole.length; cut++) {
      const { d, out } = decode([whole.slice(0, cut), whole.slice(cut)]);
      expect(out).toBe('hello world');
      expect(d.done).toBe(true);
      expect(d.trailers).toEqual({ 'x-sum': '42' });
    }
  });

  it.each([
    ['bad size', 'zz\r\n'],
    ['bare LF', '5\nhello\r\n'],
    ['missing CRLF after data', '5\r\nhelloX\r\n'],
    ['size too large', '123456789\r\n'],
    ['negative', '-5\r\n'],
  ])('refuses %s', (_n, text) => {
    const { used, d } = decode([text]);
    expect(used).toBe(-1);
    expect(d.error).toBeDefined();
  });

  it('stops at the end of the body', () => {
    const { used, d } = decode(['0\r\n\r\nEXTRA']);
    expect(d.done).toBe(true);
    expect(used).toBe(5);
  });
});
