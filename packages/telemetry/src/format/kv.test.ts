import { describe, expect, it } from 'vitest';
import { parseKvLine } from '../testing/kv-line.ts';
import { kvKey, kvString, quote, truncate } from './kv.ts';

describe('kvString', () => {
  it.each([
    ['plain', 'GET', 'GET'],
    ['path', '/api/v1/items', '/api/v1/items'],
    ['address', '10.0.0.1:8080', '10.0.0.1:8080'],
    ['spiffe', 'spiffe://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/a/sa/b'],
    ['empty', '', '""'],
    ['literal dash', '-', '"-"'],
    ['space', 'a b', '"a b"'],
    ['equals', 'a=b', '"a=b"'],
    ['quote', 'say "hi"', '"say \\"hi\\""'],
    ['backslash', 'a\\b', '"a\\\\b"'],
    ['LF', 'a\nb', '"a\\nb"'],
    ['CR', 'a\rb', '"a\\rb"'],
    ['CRLF injection', '/x\r\nkind=http status=200', '"/x\\r\\nkind=http status=200"'],
    ['tab', 'a\tb', '"a\\tb"'],
    ['NUL', 'a\u0000b', '"a\\u0000b"'],
    ['ESC (terminal escape)', '\u001b[31mred', '"\\u001b[31mred"'],
    ['DEL', 'a\u007fb', '"a\\u007fb"'],
    ['C1 NEL', 'a\u0085b', '"a\\u0085b"'],
    ['line separator', 'a\u2028b', '"a\\u2028b"'],
    ['paragraph separator', 'a\u2029b', '"a\\u2029b"'],
    ['unicode kept', 'café', '"café"'],
    ['surrogate pair kept', 'x😀', '"x😀"'],
    ['lone high surrogate', 'x\ud800', '"x\\ud800"'],
    ['lone low surrogate', '\udc00x', '"\\udc00x"'],
  ])('%s', (_name, input, expected) => {
    expect(kvString(input)).toBe(expected);
  });

  it('round-trips hostile values through a strict reader as one field each', () => {
    const hostile = [
      'a"b',
      'x\r\ny=z',
      '\\"',
      '" evil=1 "',
      '\u0000\u0001\u001f',
      'end\\',
      '\u2028',
      '=',
      ' ',
    ];
    for (const v of hostile) {
      const line = `k=${kvString(v)} next=1`;
      expect(line).not.toMatch(/[\r\n]/);
      expect(parseKvLine(line)).toEqual({ k: v, next: '1' });
    }
  });
});

describe('quote', () => {
  it('always quotes', () => {
    expect(quote('abc')).toBe('"abc"');
  });
});

describe('kvKey', () => {
  it.each([
    ['ok_key', 'ok_key'],
    ['with space', 'with_space'],
    ['a=b', 'a_b'],
    ['', '_'],
    ['x\ny', 'x_y'],
  ])('%j -> %j', (input, expected) => {
    expect(kvKey(input)).toBe(expected);
  });
});

describe('truncate', () => {
  it('keeps short strings', () => {
    expect(truncate('abc', 3)).toBe('abc');
  });
  it('cuts long ones with a marker', () => {
    expect(truncate('abcdef', 3)).toBe('abc...');
  });
  it('never splits a surrogate pair', () => {
    expect(truncate('ab😀cd', 3)).toBe('ab...');
  });
});
