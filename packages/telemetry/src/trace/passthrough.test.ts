import { describe, expect, it } from 'vitest';
import { parseBaggage, parseTracestate } from './passthrough.ts';

describe('parseTracestate', () => {
  it.each<[string, string | string[] | undefined, string]>([
    ['absent', undefined, ''],
    ['one member', 'congo=t61rcWkgMzE', 'congo=t61rcWkgMzE'],
    [
      'two members with OWS',
      'rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE',
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    ],
    ['empty members dropped', ',,rojo=1,,', 'rojo=1'],
    ['multi-tenant key', 'fw529a3039@dt=abc', 'fw529a3039@dt=abc'],
    ['several header values', ['a=1', 'b=2'], 'a=1,b=2'],
    ['value with inner space', 'a=x y', 'a=x y'],
    ['trailing space is list OWS', 'a=x ', 'a=x'],
  ])('%s', (_name, input, expected) => {
    expect(parseTracestate(input)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, string, string]>([
    ['no equals', 'congo', 'bad_member'],
    ['empty key', '=x', 'bad_member'],
    ['uppercase key', 'Congo=x', 'bad_member'],
    ['value with comma-free equals', 'a=b=c', 'bad_member'],
    ['empty value', 'a=', 'bad_member'],
    ['control char', 'a=x\u0001y', 'bad_member'],
    ['CRLF', 'a=1\r\nx-evil: 1', 'bad_member'],
    ['non-ASCII', 'a=café', 'bad_member'],
    ['duplicate key', 'a=1,a=2', 'duplicate_key'],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','), 'too_many_members'],
    ['huge', `a=${'x'.repeat(5000)}`, 'too_long'],
  ])('%s', (_name, input, reason) => {
    expect(parseTracestate(input)).toEqual({ ok: false, reason });
  });
});

describe('parseBaggage', () => {
  it.each<[string, string | string[] | undefined, string]>([
    ['absent', undefined, ''],
    ['simple', 'userId=alice', 'userId=alice'],
    [
      'several',
      'userId=alice, serverNode=DF%2028,isProduction=false',
      'userId=alice,serverNode=DF%2028,isProduction=false',
    ],
    ['properties', 'key1=value1;property1;property2=x', 'key1=value1;property1;property2=x'],
    ['OWS around equals', 'a = b', 'a = b'],
    ['empty value', 'a=', 'a='],
    ['array', ['a=1', 'b=2'], 'a=1,b=2'],
  ])('%s', (_name, input, expected) => {
    expect(parseBaggage(input)).toEqual({ ok: true, value: expected });
  });

  it.each<[string, string, string]>([
    ['no equals', 'alice', 'bad_member'],
    ['space in value', 'a=b c', 'bad_member'],
    ['quote in value', 'a="b"', 'bad_member'],
    ['CRLF', 'a=b\r\nx-evil: 1', 'bad_member'],
    ['NUL', 'a=b\u0000', 'bad_member'],
    ['non-ASCII', 'a=ü', 'bad_member'],
    ['65 members', Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(','), 'too_many_members'],
    ['over 8192 bytes', `a=${'x'.repeat(8200)}`, 'too_long'],
  ])('%s', (_name, input, reason) => {
    expect(parseBaggage(input)).toEqual({ ok: false, reason });
  });
});
