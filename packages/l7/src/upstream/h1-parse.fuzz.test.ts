// Property-based fuzzing of the upstream HTTP/1.1 response-head parser and the chunked-body
// decoder: random and near-miss input gives a value or a reason (never a throw), a well-formed
// head parses to the headers it carries, and a chunked body decodes the same however it is split.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT, fuzzParams } from '../../../../fuzz.shared.ts';
import { ChunkedDecoder, chunkHeader, parseResponseHead } from './h1-parse.ts';

const headerName = fc.oneof(
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,12}$/),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'Content-Length',
    'Transfer-Encoding',
    'Connection',
  ),
);
const headerValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const piece = fc.constantFrom(
  'HTTP/1.1 ',
  'HTTP/1.0 ',
  '200',
  ' OK',
  '\r\n',
  '\n',
  '\r',
  ':',
  ' ',
  '\t',
  'content-length',
  'transfer-encoding',
  'chunked',
  '0',
  '-1',
  '__proto__',
  'x',
);
const nearMiss = fc.array(piece, { maxLength: 20 }).map((p) => p.join(''));

describe('HTTP/1.1 response heads (fuzz)', () => {
  it('keeps a header named __proto__ (it used to throw "prev is not iterable")', () => {
    const r = parseResponseHead('HTTP/1.1 200 OK\r\n__proto__: a\r\n__proto__: b', 'GET');
    const headers = r.ok ? new Map(Object.entries(r.head.headers)) : undefined;
    expect(headers?.get('__proto__')).toEqual(['a', 'b']);
  });

  it(
    'never throws on random heads',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(nearMiss, fc.string({ maxLength: 80 })),
          fc.constantFrom('GET', 'HEAD'),
          (text, method) => {
            const r = parseResponseHead(text, method);
            expect(typeof r.ok).toBe('boolean');
          },
        ),
        fuzzParams(5000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'parses a well-formed head to the headers it carries, any names included',
    () => {
      fc.assert(
        fc.property(
          fc
            .array(fc.tuple(headerName, headerValue), { maxLength: 6 })
            .filter((hs) => hs.every(([n]) => !/^(content-length|transfer-encoding)$/i.test(n))),
          (hs) => {
            const text = ['HTTP/1.1 200 OK', ...hs.map(([n, v]) => `${n}: ${v}`)].join('\r\n');
            const r = parseResponseHead(text, 'GET');
            if (!r.ok) throw new Error(r.reason);
            const expected = new Map<string, string[]>();
            for (const [n, v] of hs)
              expected.set(n.toLowerCase(), [...(expected.get(n.toLowerCase()) ?? []), v]);
            for (const [n, vs] of expected) {
              expect(Object.hasOwn(r.head.headers, n), n).toBe(true);
              expect(r.head.headers[n]).toEqual(vs.length === 1 ? vs[0] : vs);
            }
          },
        ),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});

function decodeAll(bytes: Buffer, cuts: readonly number[]): { data: Buffer; error?: string; done: boolean } {
  const d = new ChunkedDecoder();
  const out: Buffer[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    if (to < from) continue;
    const part = bytes.subarray(from, to);
    from = to;
    const used = d.push(part, (b) => out.push(Buffer.from(b)));
    if (used < 0) return { data: Buffer.concat(out), error: d.error ?? 'error', done: false };
    if (d.done) break;
  }
  return { data: Buffer.concat(out), done: d.done };
}

describe('chunked bodies (fuzz)', () => {
  it(
    'decodes an encoded body to the same bytes however the input is split',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.constantFrom('', ';ext=1', ' ;x'),
          (chunks, cuts, ext) => {
            const wire = Buffer.concat([
              ...chunks.flatMap((c) => [
                Buffer.from(chunkHeader(c.length).replace('\r\n', `${ext}\r\n`), 'latin1'),
                Buffer.from(c),
                Buffer.from('\r\n'),
              ]),
              Buffer.from('0\r\nx-trailer: t\r\n\r\n'),
            ]);
            const r = decodeAll(wire, cuts);
            expect(r.error).toBeUndefined();
            expect(r.done).toBe(true);
            expect(r.data.equals(Buffer.concat(chunks.map((c) => Buffer.from(c))))).toBe(true);
          },
        ),
        fuzzParams(2000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );

  it(
    'never throws on random bytes and never yields more data than it was given',
    () => {
      const text = fc.array(
        fc.constantFrom('0', '1', 'a', 'F', 'ffffffff', '\r\n', '\n', ';', ' ', 'x', ':', '__proto__: 1\r\n'),
        { maxLength: 30 },
      );
      fc.assert(
        fc.property(
          fc.oneof(
            text.map((p) => Buffer.from(p.join(''), 'latin1')),
            fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
          ),
          fc.array(fc.nat(), { maxLength: 4 }),
          (bytes, cuts) => {
            const r = decodeAll(bytes, cuts);
            expect(r.data.length).toBeLessThanOrEqual(bytes.length);
          },
        ),
        fuzzParams(3000),
      );
    },
    FUZZ_TEST_TIMEOUT,
  );
});
