// The HTTP/1.1 request-head reader as a table: heads it accepts (and what it reads from them)
// and heads it refuses, with the exact status and reject reason the listener answers with.
import { describe, expect, it } from 'vitest';
import { parseRequestHead } from './h1-request-head.ts';

const head = (lines: readonly string[]) => lines.join('\r\n');

describe('parseRequestHead accepts', () => {
  it.each([
    [
      'a plain GET',
      head(['GET / HTTP/1.1', 'Host: web']),
      { method: 'GET', target: '/', minor: 1, keepAlive: true },
    ],
    ['HTTP/1.0 closes by default', head(['GET /a HTTP/1.0', 'Host: web']), { minor: 0, keepAlive: false }],
    [
      'HTTP/1.0 keep-alive',
      head(['GET /a HTTP/1.0', 'Host: web', 'Connection: Keep-Alive']),
      { minor: 0, keepAlive: true },
    ],
    [
      'Connection: close',
      head(['GET / HTTP/1.1', 'Host: web', 'Connection: foo, close']),
      { keepAlive: false },
    ],
    [
      'Content-Length',
      head(['POST /u HTTP/1.1', 'Host: web', 'Content-Length: 12']),
      { framing: { kind: 'length', length: 12 } },
    ],
    [
      'Content-Length 0 is no body',
      head(['POST /u HTTP/1.1', 'Host: web', 'Content-Length: 0']),
      { framing: { kind: 'none' } },
    ],
    [
      'chunked (case and OWS)',
      head(['POST /u HTTP/1.1', 'Host: web', 'transfer-encoding:  Chunked ']),
      { framing: { kind: 'chunked' } },
    ],
    [
      'Expect: 100-continue',
      head(['POST /u HTTP/1.1', 'Host: web', 'Expect: 100-Continue', 'Content-Length: 1']),
      { expectContinue: true },
    ],
    [
      'an upgrade',
      head(['GET /ws HTTP/1.1', 'Host: web', 'Connection: Upgrade', 'Upgrade: websocket']),
      { upgrade: 'websocket' },
    ],
    [
      'Upgrade without Connection: upgrade is no upgrade',
      head(['GET /ws HTTP/1.1', 'Host: web', 'Upgrade: websocket']),
      { upgrade: undefined },
    ],
    [
      'absolute-form target (the engine judges it)',
      head(['GET http://web/ HTTP/1.1', 'Host: web']),
      { target: 'http://web/' },
    ],
    ['obs-text in a value', head(['GET / HTTP/1.1', 'Host: web', 'X-A: caf\xe9']), { host: 'web' }],
  ])('%s', (_name, text, want) => {
    const r = parseRequestHead(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.head).toMatchObject(want);
  });

  it('keeps repeated fields as separate values in order, names lower-cased, OWS trimmed', () => {
    const r = parseRequestHead(
      head(['GET / HTTP/1.1', 'Host: web', 'X-Role: guest', 'x-role:\t admin \t', 'X-ROLE: a, b']),
    );
    expect(r.ok && r.head.headers['x-role']).toEqual(['guest', 'admin', 'a, b']);
  });

  it('reads fields named __proto__ and constructor as fields', () => {
    const r = parseRequestHead(head(['GET / HTTP/1.1', 'Host: web', '__proto__: a', 'constructor: b']));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const proto = '__proto__';
    expect(Object.hasOwn(r.head.headers, proto)).toBe(true);
    expect(r.head.headers[proto]).toBe('a');
    expect(r.head.headers.constructor).toBe('b');
  });
});

describe('parseRequestHead refuses', () => {
  it.each([
    // request line
    ['lower-case method', head(['get / HTTP/1.1', 'Host: web']), 400, 'bad_request'],
    ['unknown method', head(['FOO / HTTP/1.1', 'Host: web']), 400, 'bad_request'],
    ['PRI (HTTP/2 preface)', head(['PRI * HTTP/2.0']), 400, 'bad_request'],
    ['two spaces', head(['GET  / HTTP/1.1', 'Host: web']), 400, 'bad_request'],
    ['tab as separator', head(['GET\t/ HTTP/1.1', 'Host: web']), 400, 'bad_request'],
    ['no version', head(['GET /', 'Host: web']), 400, 'bad_request'],
    ['HTTP/2.0', head(['GET / HTTP/2.0', 'Host: web']), 400, 'bad_request'],
    ['HTTP/0.9', head(['GET / HTTP/0.9', 'Host: web']), 400, 'bad_request'],
    ['lower-case version', head(['GET / http/1.1', 'Host: web']), 400, 'bad_request'],
    ['trailing space after the version', head(['GET / HTTP/1.1 ', 'Host: web']), 400, 'bad_request'],
    ['NUL in the target', head(['GET /a\0 HTTP/1.1', 'Host: web']), 400, 'bad_request'],
    ['non-ASCII target', head(['GET /caf\xe9 HTTP/1.1', 'Host: web']), 400, 'bad_request'],
    // field lines
    ['obs-fold', head(['GET / HTTP/1.1', 'Host: web', 'X-A: b', ' folded']), 400, 'bad_request'],
    ['space before the colon', head(['GET / HTTP/1.1', 'Host : web']), 400, 'bad_request'],
    ['no colon', head(['GET / HTTP/1.1', 'Host: web', 'no colon']), 400, 'bad_request'],
    ['empty name', head(['GET / HTTP/1.1', 'Host: web', ': v']), 400, 'bad_request'],
    ['bare LF inside the head', 'GET / HTTP/1.1\r\nHost: web\nX-A: b', 400, 'bad_request'],
    ['bare CR inside a value', head(['GET / HTTP/1.1', 'Host: web', 'X-A: b\rc']), 400, 'bad_request'],
    ['NUL in a value', head(['GET / HTTP/1.1', 'Host: web', 'X-A: b\0c']), 400, 'bad_request'],
    [
      'vertical tab in a value',
      head(['GET / HTTP/1.1', 'Host: web', 'Transfer-Encoding:\vchunked']),
      400,
      'bad_request',
    ],
    ['DEL in a value', head(['GET / HTTP/1.1', 'Host: web', 'X-A: \x7f']), 400, 'bad_request'],
    ['NUL in a name', head(['GET / HTTP/1.1', 'Host: web', 'X-\0A: b']), 400, 'bad_request'],
    // framing: request smuggling shapes
    [
      'Content-Length with Transfer-Encoding',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: 4', 'Transfer-Encoding: chunked']),
      400,
      'request_smuggling',
    ],
    [
      'repeated Content-Length',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: 4', 'Content-Length: 4']),
      400,
      'request_smuggling',
    ],
    [
      'Content-Length list',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: 4, 4']),
      400,
      'request_smuggling',
    ],
    [
      'negative Content-Length',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: -1']),
      400,
      'request_smuggling',
    ],
    [
      'signed Content-Length',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: +4']),
      400,
      'request_smuggling',
    ],
    [
      'hex Content-Length',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: 0x4']),
      400,
      'request_smuggling',
    ],
    [
      'empty Content-Length',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: ']),
      400,
      'request_smuggling',
    ],
    [
      'huge Content-Length',
      head(['POST / HTTP/1.1', 'Host: web', 'Content-Length: 99999999999999999999']),
      400,
      'request_smuggling',
    ],
    [
      'Transfer-Encoding xchunked',
      head(['POST / HTTP/1.1', 'Host: web', 'Transfer-Encoding: xchunked']),
      400,
      'request_smuggling',
    ],
    [
      'Transfer-Encoding chunked, identity',
      head(['POST / HTTP/1.1', 'Host: web', 'Transfer-Encoding: chunked, identity']),
      400,
      'request_smuggling',
    ],
    [
      'repeated Transfer-Encoding',
      head(['POST / HTTP/1.1', 'Host: web', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']),
      400,
      'request_smuggling',
    ],
    [
      'chunked HTTP/1.0',
      head(['POST / HTTP/1.0', 'Host: web', 'Transfer-Encoding: chunked']),
      400,
      'request_smuggling',
    ],
    // Host
    ['missing Host', head(['GET / HTTP/1.1']), 400, 'invalid_host'],
    ['missing Host (HTTP/1.0)', head(['GET / HTTP/1.0']), 400, 'invalid_host'],
    ['two Host fields', head(['GET / HTTP/1.1', 'Host: web', 'host: evil']), 400, 'invalid_host'],
    // Expect
    [
      'an Expect other than 100-continue',
      head(['POST / HTTP/1.1', 'Host: web', 'Expect: 200-ok']),
      417,
      'bad_request',
    ],
  ])('%s -> %i %s', (_name, text, status, reason) => {
    const r = parseRequestHead(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem.status).toBe(status);
      expect(r.problem.reason).toBe(reason);
      expect(r.problem.message).not.toBe('');
    }
  });
});
